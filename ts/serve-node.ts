/**
 * `serve()` on Node: node:http, converting each request to a real WHATWG
 * `Request` and the handler's `Response` back, and the `ws` package for
 * WebSockets. Measured against @hono/node-server and srvx (bench/serve.mjs):
 * they are faster because they hand the handler a Request-like object that
 * only becomes a real `Request` when touched; we keep a real one (so
 * `new Request(req)`, `fetch(req)` and `instanceof` behave) and save where it
 * costs nothing in correctness: string and byte bodies are written in one
 * `end()` with a Content-Length, never through a stream.
 * @module
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket as NodeWebSocket } from 'ws'
import { type Timed, type TimerList, cancelTimeout, startTimeout } from './deadlines.js'
import { type Pipeline, textResponse } from './hooks.js'
import { log } from './logger.js'
import type { ResolvedOptions } from './serve-options.js'
import type { RuntimeServer } from './serve-runtime.js'
import { ServerWebSocket } from './websocket.js'

const MAX_TIMER_MS = 2 ** 31 - 1
/** After a 413, at most this much more of the body is read and discarded before the connection is cut. */
const DRAIN_LIMIT = 1024 * 1024

// undici keeps a Response's body source under a symbol: a string or bytes
// body can be written in one end() instead of being read back from its
// stream. Where the symbol is missing (another Node), the stream path is used.
const kState = Object.getOwnPropertySymbols(new Response('')).find((s) => s.description === 'state')

function bodySource(response: Response): string | Uint8Array | undefined {
  if (kState === undefined || response.bodyUsed) return undefined
  const source = (response as unknown as Record<symbol, { body?: { source?: unknown; stream?: ReadableStream } | null }>)[kState]?.body
  if (source == null || source.stream?.locked) return undefined
  const s = source.source
  return typeof s === 'string' || s instanceof Uint8Array ? s : undefined
}

function flatHeaders(response: Response, length: number | undefined): string[] {
  const out: string[] = []
  response.headers.forEach((value, name) => {
    out.push(name, value)
  })
  // RFC 9110: no Content-Length on 1xx, 204 and 304.
  const status = response.status
  if (length !== undefined && status >= 200 && status !== 204 && status !== 304 && !response.headers.has('content-length')) {
    out.push('content-length', String(length))
  }
  return out
}

/** Writes `response` to `res`; resolves when done or the client went away. */
async function writeResponse(res: ServerResponse, response: Response, head: boolean): Promise<void> {
  const source = bodySource(response)
  if (source !== undefined || response.body === null) {
    const length = source === undefined ? 0 : typeof source === 'string' ? Buffer.byteLength(source) : source.byteLength
    // An empty statusText (the usual case) lets node:http use the standard reason phrase.
    res.writeHead(response.status, response.statusText || undefined, flatHeaders(response, length))
    res.end(head ? undefined : source)
    return
  }
  res.writeHead(response.status, response.statusText || undefined, flatHeaders(response, undefined))
  if (head) {
    res.end()
    await response.body.cancel().catch(() => {})
    return
  }
  const reader = response.body.getReader()
  const onClose = () => void reader.cancel().catch(() => {})
  res.once('close', onClose)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (res.destroyed) return
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go)
            res.off('close', go)
            resolve()
          }
          res.on('drain', go)
          res.on('close', go)
        })
      }
    }
    res.end()
  } catch (error) {
    if (!res.destroyed) log({ level: 'warn', message: 'serve: a response body stream failed; the connection was cut', error })
    res.destroy()
  } finally {
    res.off('close', onClose)
  }
}

/** Serialises a response onto a raw socket (a refused WebSocket upgrade); small bodies only. */
async function writeRawResponse(socket: Duplex, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)))
  let head = `HTTP/1.1 ${response.status} ${response.statusText || http.STATUS_CODES[response.status] || ''}\r\n`
  response.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'connection' && name !== 'transfer-encoding') head += `${name}: ${value}\r\n`
  })
  head += `content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`
  if (!socket.writable) return void socket.destroy()
  socket.write(head)
  socket.end(body)
}

function requestUrl(req: IncomingMessage, fallbackHost: string): string {
  const url = req.url ?? '/'
  if (url.startsWith('/')) return `http://${req.headers.host || fallbackHost}${url}`
  return url // absolute-form; the URL parser refuses anything else
}

function headerPairs(req: IncomingMessage): [string, string][] {
  const raw = req.rawHeaders
  const pairs: [string, string][] = []
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!])
  return pairs
}

/** One request in flight: its timeout (in the shared timer lists) and its answer, sent once. */
class Exchange implements Timed {
  tPrev: Timed | null = null
  tNext: Timed | null = null
  tAt = 0
  tList: TimerList | null = null
  answered = false
  readonly abort = new AbortController()

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly server: NodeServer,
  ) {}

  expire(): void {
    if (this.answered) return
    log({ level: 'warn', message: `serve: ${this.req.method} ${this.req.url} took longer than ${this.server.options.requestTimeout} ms; answered 503` })
    this.answer(textResponse(503, 'Service Unavailable', { connection: 'close' }))
  }

  answer(response: Response): void {
    if (this.answered) {
      // Late (after a timeout or a disconnect): release the body nobody will read.
      if (response.body !== null && !response.bodyUsed) response.body.cancel().catch(() => {})
      return
    }
    this.answered = true
    cancelTimeout(this)
    if (this.res.destroyed) {
      this.server.done(this)
      if (response.body !== null && !response.bodyUsed) response.body.cancel().catch(() => {})
      return
    }
    writeResponse(this.res, response, this.req.method === 'HEAD').then(
      () => this.server.done(this),
      (error) => {
        log({ level: 'error', message: 'serve: could not write a response', error })
        this.res.destroy()
        this.server.done(this)
      },
    )
  }
}

/** @internal */
export class NodeServer implements RuntimeServer {
  readonly http: http.Server
  readonly #wss: WebSocketServer | null
  readonly #inFlight = new Set<Exchange>()
  readonly #sockets = new Set<ServerWebSocket<unknown>>()
  #idle: (() => void) | null = null
  port = 0
  hostname: string

  constructor(
    readonly pipeline: Pipeline,
    readonly options: ResolvedOptions,
  ) {
    this.hostname = options.hostname
    this.http = http.createServer((req, res) => this.#request(req, res))
    // Malformed requests: answer 400 where the socket can still take it, never throw.
    this.http.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
    })
    this.#wss = options.websocket === null ? null : new WebSocketServer({ noServer: true, maxPayload: options.websocket.maxPayload, perMessageDeflate: false })
    if (this.#wss !== null) this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head))
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error)
      this.http.once('error', onError)
      this.http.listen(this.options.port, this.options.hostname, () => {
        this.http.off('error', onError)
        resolve()
      })
    })
    this.port = (this.http.address() as AddressInfo).port
    this.http.on('error', (error) => log({ level: 'error', message: 'serve: server error', error }))
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const ex = new Exchange(req, res, this)
    this.#inFlight.add(ex)
    const timeout = this.options.requestTimeout
    if (timeout < MAX_TIMER_MS) startTimeout(ex, timeout)
    // A client that goes away before its answer: tell the handler (request.signal), stop waiting.
    res.once('close', () => {
      if (!ex.answered) {
        ex.abort.abort(new Error('client disconnected'))
        ex.answered = true
        cancelTimeout(ex)
        this.done(ex)
      }
    })
    const method = req.method ?? 'GET'
    if (method === 'GET' || method === 'HEAD') return this.#dispatch(ex, null)
    const declared = req.headers['content-length']
    const max = this.options.maxBodySize
    if (declared !== undefined && Number(declared) > max) return this.#tooLarge(ex, 0)
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > max) {
        req.off('data', onData)
        req.off('end', onEnd)
        chunks.length = 0
        this.#tooLarge(ex, size)
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => this.#dispatch(ex, size === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', () => {}) // an aborted upload: 'close' above cleans up
  }

  /** 413 at once; the rest of the body is discarded up to DRAIN_LIMIT (so the client reads the answer, not a reset), then cut. */
  #tooLarge(ex: Exchange, alreadyRead: number): void {
    let drained = alreadyRead
    ex.req.on('data', (chunk: Buffer) => {
      drained += chunk.length
      if (drained > DRAIN_LIMIT + this.options.maxBodySize) ex.req.socket.destroy()
    })
    ex.req.resume()
    ex.answer(textResponse(413, 'Content Too Large'))
  }

  #dispatch(ex: Exchange, body: Buffer | null): void {
    if (ex.answered) return
    let request: Request
    try {
      request = new Request(requestUrl(ex.req, `${this.hostname}:${this.port}`), {
        method: ex.req.method ?? 'GET',
        headers: headerPairs(ex.req),
        body,
        signal: ex.abort.signal,
      })
    } catch {
      // An unparsable URL or header, or a method fetch forbids: the client's fault.
      return ex.answer(textResponse(400, 'Bad Request', { connection: 'close' }))
    }
    this.pipeline.run(request).then((response) => ex.answer(response))
  }

  /** @internal A request is over (answered, timed out or abandoned). */
  done(ex: Exchange): void {
    this.#inFlight.delete(ex)
    if (this.#inFlight.size === 0 && this.#idle !== null) this.#idle()
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ws = this.options.websocket!
    socket.on('error', () => {}) // a reset during the handshake is the client's business
    let request: Request
    try {
      request = new Request(requestUrl(req, `${this.hostname}:${this.port}`), { method: 'GET', headers: headerPairs(req) })
    } catch {
      return writeRawResponse(socket, textResponse(400, 'Bad Request'))
    }
    const outcome = await this.pipeline.upgrade(request)
    if (outcome.response !== undefined) return writeRawResponse(socket, outcome.response)
    let data: unknown
    try {
      data = ws.upgrade === undefined ? undefined : await ws.upgrade(outcome.request)
    } catch (error) {
      return writeRawResponse(socket, await this.pipeline.error(error, outcome.request))
    }
    if (data === false) return writeRawResponse(socket, textResponse(403, 'Forbidden'))
    if (data instanceof Response) return writeRawResponse(socket, data)
    if (socket.destroyed) return
    this.#wss!.handleUpgrade(req, socket, head, (client) => this.#accept(client, data))
  }

  #accept(client: NodeWebSocket, data: unknown): void {
    const handlers = this.options.websocket!
    const ws = new ServerWebSocket<unknown>(
      {
        send: (d) => client.send(d),
        buffered: () => client.bufferedAmount,
        close: (code, reason) => client.close(code, reason),
        terminate: () => client.terminate(),
      },
      data,
      handlers,
    )
    this.#sockets.add(ws)
    const fail = (what: string) => (error: unknown) => {
      log({ level: 'error', message: `serve: websocket.${what} threw; the socket was closed`, error })
      ws.close(1011, 'internal error')
    }
    const call = (what: string, f: () => unknown) => {
      try {
        const r = f()
        if (r instanceof Promise) r.catch(fail(what))
      } catch (error) {
        fail(what)(error)
      }
    }
    client.on('error', () => {}) // protocol errors close the socket; 'close' follows
    client.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (handlers.message === undefined) return
      const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw)
      const msg = isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8')
      call('message', () => handlers.message!(ws, msg))
    })
    client.on('close', (code: number, reason: Buffer) => {
      this.#sockets.delete(ws)
      ws.closed()
      if (handlers.close !== undefined) call('close', () => handlers.close!(ws, code, reason.toString('utf8')))
    })
    if (handlers.open !== undefined) call('open', () => handlers.open!(ws))
  }

  async stop(timeout: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()))
    this.http.closeIdleConnections()
    for (const ws of this.#sockets) ws.close(1001, 'server stopping')
    if (this.#inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeout)
        this.#idle = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    this.http.closeAllConnections()
    // ws sockets live outside http's connection list once upgraded.
    for (const client of this.#wss?.clients ?? []) client.terminate()
    await closed
  }
}
