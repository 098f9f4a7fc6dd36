/**
 * `serve()` on Bun: `Bun.serve`, whose handler already takes a `Request` and
 * returns a `Response`. What Bun does differently from our Node adapter is
 * evened out here: a chunked body over the limit (Bun only checks a declared
 * Content-Length) is answered 413, the request timeout answers 503, and the
 * slow-client policy is ours (Bun's own backpressure limit is set above it).
 * @module
 */
import { isThenable } from './check.js'
import { type Timed, type TimerList, cancelTimeout, startTimeout } from './deadlines.js'
import { type Pipeline, textResponse } from './hooks.js'
import { log } from './logger.js'
import type { ResolvedOptions } from './serve-options.js'
import type { RuntimeServer } from './serve-runtime.js'
import { ServerWebSocket } from './websocket.js'

const MAX_TIMER_MS = 2 ** 31 - 1

// The part of Bun's API used here (no dependency on bun-types).
interface BunSocket {
  data: { ws: ServerWebSocket<unknown> | null; data: unknown }
  send(data: string | Uint8Array): number
  getBufferedAmount?(): number
  close(code?: number, reason?: string): void
  terminate(): void
}
interface BunServer {
  port: number
  hostname: string
  upgrade(request: Request, options: { data: BunSocket['data'] }): boolean
  stop(closeActiveConnections?: boolean): Promise<void> | void
  pendingRequests?: number
}
interface BunGlobal {
  serve(options: Record<string, unknown>): BunServer
}

/**
 * One request's timeout, in the shared timer lists (cheaper than a
 * setTimeout/clearTimeout pair per request), and the abort it sends to the
 * handler through `request.signal`.
 */
class Deadline implements Timed {
  tPrev: Timed | null = null
  tNext: Timed | null = null
  tAt = 0
  tList: TimerList | null = null
  expired = false
  resolve: (response: Response) => void = () => {}
  #abort: AbortController | undefined
  #signal: AbortSignal | undefined

  constructor(
    readonly request: Request,
    readonly timeout: number,
  ) {}

  /** Bun's own signal (client gone) joined with ours (timed out); made on first read of `request.signal`. */
  signal(native: AbortSignal): AbortSignal {
    if (this.#signal === undefined) {
      this.#abort = new AbortController()
      if (this.expired) this.#abort.abort(this.#reason())
      this.#signal = AbortSignal.any([native, this.#abort.signal])
    }
    return this.#signal
  }

  #reason(): Error {
    const error = new Error(`request timed out after ${this.timeout} ms`)
    error.name = 'TimeoutError'
    return error
  }

  expire(): void {
    this.expired = true
    log({ level: 'warn', message: `serve: ${this.request.method} ${new URL(this.request.url).pathname} took longer than ${this.timeout} ms; answered 503` })
    this.#abort?.abort(this.#reason())
    this.resolve(textResponse(503, 'Service Unavailable', { connection: 'close' }))
  }
}

// Bun's Request.prototype.signal getter, which the per-request `signal` below wraps.
const nativeSignal = Object.getOwnPropertyDescriptor(Request.prototype, 'signal')?.get

/** @internal Whether this is Bun. */
export function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun === 'object'
}

/** Reads a body of unknown length up to `max` bytes; `null` when it is larger. */
async function readLimited(request: Request, max: number): Promise<Uint8Array | null> {
  const reader = request.body!.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      void reader.cancel().catch(() => {})
      return null
    }
    chunks.push(value)
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

/** @internal */
export class BunServerAdapter implements RuntimeServer {
  #server: BunServer | null = null
  readonly #sockets = new Set<ServerWebSocket<unknown>>()

  constructor(
    readonly pipeline: Pipeline,
    readonly options: ResolvedOptions,
  ) {}

  get port(): number {
    return this.#server?.port ?? 0
  }

  get hostname(): string {
    return this.options.hostname
  }

  async listen(): Promise<void> {
    const o = this.options
    const ws = o.websocket
    const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun
    // Bun closes a connection idle this many seconds (0 would disable it): keep it past our own timeout.
    const idleTimeout = o.requestTimeout < MAX_TIMER_MS ? Math.min(255, Math.max(10, Math.ceil(o.requestTimeout / 1000) + 2)) : 0
    this.#server = Bun.serve({
      port: o.port,
      hostname: o.hostname,
      idleTimeout,
      // Bun answers 413 itself for a declared Content-Length over this.
      maxRequestBodySize: o.maxBodySize,
      fetch: (request: Request, server: BunServer) => this.#fetch(request, server),
      error: (error: unknown) => {
        log({ level: 'error', message: 'serve: Bun reported an error', error })
        return textResponse(500, 'Internal Server Error')
      },
      websocket:
        ws === null
          ? undefined
          : {
              maxPayloadLength: ws.maxPayload,
              // Our policy acts first (at maxBufferedBytes); Bun's limit only guards memory beyond it.
              backpressureLimit: ws.maxBufferedBytes * 2 + 16 * 1024 * 1024,
              closeOnBackpressureLimit: true,
              perMessageDeflate: false,
              open: (s: BunSocket) => this.#open(s),
              message: (s: BunSocket, message: string | Uint8Array) => {
                const w = s.data.ws
                if (w === null || ws.message === undefined) return
                const data = typeof message === 'string' ? message : new Uint8Array(message.buffer, message.byteOffset, message.byteLength)
                this.#call(w, 'message', () => ws.message!(w, data))
              },
              close: (s: BunSocket, code: number, reason: string) => {
                const w = s.data.ws
                if (w === null) return
                this.#sockets.delete(w)
                w.closed()
                if (ws.close !== undefined) this.#call(w, 'close', () => ws.close!(w, code, reason ?? ''))
              },
            },
    })
  }

  #call(w: ServerWebSocket<unknown>, what: string, f: () => unknown): void {
    const fail = (error: unknown) => {
      log({ level: 'error', message: `serve: websocket.${what} threw; the socket was closed`, error })
      w.close(1011, 'internal error')
    }
    try {
      const r = f()
      if (r instanceof Promise) r.catch(fail)
    } catch (error) {
      fail(error)
    }
  }

  #open(s: BunSocket): void {
    const handlers = this.options.websocket!
    let buffered = 0
    const w = new ServerWebSocket<unknown>(
      {
        send: (d) => {
          // -1: queued behind backpressure; what is queued is then only known through getBufferedAmount.
          const r = s.send(d)
          if (r === -1 && s.getBufferedAmount === undefined) buffered += typeof d === 'string' ? d.length : d.byteLength
        },
        buffered: () => (s.getBufferedAmount !== undefined ? s.getBufferedAmount() : buffered),
        close: (code, reason) => s.close(code, reason),
        terminate: () => s.terminate(),
      },
      s.data.data,
      handlers,
    )
    s.data.ws = w
    this.#sockets.add(w)
    if (handlers.open !== undefined) this.#call(w, 'open', () => handlers.open!(w))
  }

  // Not async: a request answered synchronously goes back to Bun as a Response, with no promise.
  #fetch(request: Request, server: BunServer): Response | Promise<Response | undefined> {
    // Read the headers now: Bun copies them out of the connection lazily, and a Request whose
    // headers were never read has none left once its response is sent (Bun 1.4.5). Reading them
    // here keeps the Request whole for hooks and handlers that keep it, as on Node.
    const headers = request.headers
    const ws = this.options.websocket
    if (ws !== null && headers.get('upgrade')?.toLowerCase() === 'websocket') return this.#upgrade(request, server)
    const method = request.method
    if (method === 'GET' || method === 'HEAD') return this.#timed(request)
    const max = this.options.maxBodySize
    const declared = headers.get('content-length')
    if (declared !== null && Number(declared) > max) return textResponse(413, 'Content Too Large')
    if (declared === null && request.body !== null) {
      return readLimited(request, max).then((body) =>
        body === null ? textResponse(413, 'Content Too Large') : this.#timed(new Request(request, { body })),
      )
    }
    return this.#timed(request)
  }

  /**
   * The pipeline's answer, or a 503 once the request timeout passes, which
   * also aborts `request.signal` (Bun's own signal only reports the client
   * leaving, and cannot be aborted from here: the request gets its own
   * `signal` property joining the two).
   */
  #timed(request: Request): Response | Promise<Response> {
    const timeout = this.options.requestTimeout
    if (!(timeout < MAX_TIMER_MS) || nativeSignal === undefined) return this.pipeline.handle(request)
    const deadline = new Deadline(request, timeout)
    Object.defineProperty(request, 'signal', {
      configurable: true,
      get: () => deadline.signal(nativeSignal.call(request) as AbortSignal),
    })
    startTimeout(deadline, timeout)
    const answer = this.pipeline.handle(request)
    if (!isThenable(answer)) {
      cancelTimeout(deadline)
      return answer
    }
    return new Promise<Response>((resolve) => {
      deadline.resolve = resolve
      void answer.then((response) => {
        if (deadline.expired) {
          if (response.body !== null && !response.bodyUsed) response.body.cancel().catch(() => {})
          return
        }
        cancelTimeout(deadline)
        resolve(response)
      })
    })
  }

  async #upgrade(request: Request, server: BunServer): Promise<Response | undefined> {
    const ws = this.options.websocket!
    const outcome = await this.pipeline.upgrade(request)
    if (outcome.response !== undefined) return outcome.response
    let data: unknown
    try {
      data = ws.upgrade === undefined ? undefined : await ws.upgrade(outcome.request)
    } catch (error) {
      return this.pipeline.error(error, outcome.request)
    }
    if (data === false) return textResponse(403, 'Forbidden')
    if (data instanceof Response) return data
    // Bun upgrades the original request object (the one its connection belongs to).
    if (server.upgrade(request, { data: { ws: null, data } })) return undefined
    return textResponse(400, 'Bad Request')
  }

  async stop(timeout: number): Promise<void> {
    const server = this.#server
    if (server === null) return
    for (const w of this.#sockets) w.close(1001, 'server stopping')
    // stop(false) stops listening and settles once the requests in flight are answered.
    const graceful = Promise.resolve(server.stop(false))
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([graceful, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))])
    clearTimeout(timer)
    await server.stop(true)
    this.#server = null
  }
}
