/**
 * `serve()` on Node: node:http and, for WebSockets, the `ws` package. The
 * handler gets a lazy `Request` (ts/serve-node-request.ts) and its
 * `Response` is written straight to node:http when it has a string, byte or
 * empty body (ts/serve-node-response.ts): on Node 20 a real undici
 * `Request` or `Response` costs more CPU than node:http's whole request.
 * A request whose handler answers synchronously costs no timer, no
 * AbortController and no listener; one that waits is tracked (request
 * timeout, disconnects, `stop()` draining) from the moment it waits.
 * @module
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket as NodeWebSocket } from 'ws'
import { isThenable } from './check.js'
import { type Timed, type TimerList, cancelTimeout, startTimeout } from './deadlines.js'
import { type Pipeline, textResponse } from './hooks.js'
import { log } from './logger.js'
import { NodeRequest, type RequestContext, requestUrl } from './serve-node-request.js'
import { discard, installFastResponse, writeRawResponse, writeResponse } from './serve-node-response.js'
import type { ResolvedOptions } from './serve-options.js'
import type { RuntimeServer } from './serve-runtime.js'
import { ServerWebSocket } from './websocket.js'

const MAX_TIMER_MS = 2 ** 31 - 1
/** After a 413, at most this much more of the body is read and discarded before the connection is cut. */
const DRAIN_LIMIT = 1024 * 1024
// Methods undici's Request refuses (node:http hands CONNECT to its own event).
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK'])

/** One request: its answer (sent once) and, once it waits, its timeout, disconnect watch and abort signal. */
class Exchange implements Timed, RequestContext {
  tPrev: Timed | null = null
  tNext: Timed | null = null
  tAt = 0
  tList: TimerList | null = null
  answered = false
  tracked = false
  #abort: AbortController | undefined
  #abortReason: Error | undefined

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly server: NodeServer,
  ) {}

  /** request.signal: made on first use; already aborted if the client left or the request timed out. */
  signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController()
      if (this.#abortReason !== undefined) this.#abort.abort(this.#abortReason)
    }
    return this.#abort.signal
  }

  #cancel(reason: Error): void {
    if (this.#abortReason !== undefined) return
    this.#abortReason = reason
    this.#abort?.abort(reason)
  }

  /** From now on the request waits: arm its timeout, watch for the client leaving, count it in flight. */
  track(): void {
    if (this.tracked) return
    this.tracked = true
    this.server.inFlight.add(this)
    const timeout = this.server.options.requestTimeout
    if (timeout < MAX_TIMER_MS) startTimeout(this, timeout)
    // A client that goes away before its answer: tell the handler (request.signal), stop waiting.
    this.res.once('close', () => {
      if (!this.answered) {
        this.#cancel(new Error('client disconnected'))
        this.answered = true
        cancelTimeout(this)
        this.server.done(this)
      }
    })
  }

  expire(): void {
    if (this.answered) return
    log({ level: 'warn', message: `serve: ${this.req.method} ${this.req.url} took longer than ${this.server.options.requestTimeout} ms; answered 503` })
    // The handler's downstream work (a fetch with request.signal, …) is cancelled too.
    const error = new Error(`request timed out after ${this.server.options.requestTimeout} ms`)
    error.name = 'TimeoutError'
    this.#cancel(error)
    this.answer(textResponse(503, 'Service Unavailable', { connection: 'close' }))
  }

  answer(response: Response): void {
    if (this.answered) return discard(response) // late (after a timeout or a disconnect)
    this.answered = true
    if (this.tracked) cancelTimeout(this)
    if (this.res.destroyed) {
      if (this.tracked) this.server.done(this)
      return discard(response)
    }
    let writing: Promise<void> | undefined
    try {
      writing = writeResponse(this.res, response, this.req.method === 'HEAD')
    } catch (error) {
      log({ level: 'error', message: 'serve: could not write a response', error })
      this.res.destroy()
    }
    if (writing === undefined) {
      if (this.tracked) this.server.done(this)
      return
    }
    // A streamed body: stop() waits for it like for a request in flight.
    if (!this.tracked) this.server.inFlight.add(this)
    writing.then(
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
  /** @internal Requests waiting for their answer (and streamed answers being written). */
  readonly inFlight = new Set<Exchange>()
  readonly #sockets = new Set<ServerWebSocket<unknown>>()
  #idle: (() => void) | null = null
  port = 0
  hostname: string

  constructor(
    readonly pipeline: Pipeline,
    readonly options: ResolvedOptions,
  ) {
    this.hostname = options.hostname
    if (options.fastResponse) installFastResponse()
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
    const method = req.method ?? 'GET'
    if (method === 'GET' || method === 'HEAD') return this.#dispatch(ex, null)
    // Reading the body is waiting: the timeout runs, a disconnect is noticed, stop() drains it.
    ex.track()
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
    req.on('error', () => {}) // an aborted upload: the 'close' watch in track() cleans up
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

  /** `http://host:port` for a request with no Host header (HTTP/1.0). */
  #origin(): string {
    return this.hostname.includes(':') ? `[${this.hostname}]:${this.port}` : `${this.hostname}:${this.port}`
  }

  #dispatch(ex: Exchange, body: Buffer | null): void {
    if (ex.answered) return
    const url = requestUrl(ex.req, this.#origin())
    // An unparsable URL, or a method fetch forbids: the client's fault. (node:http already refused bad header names and values.)
    if (url === null || FORBIDDEN_METHODS.has(ex.req.method!)) return ex.answer(textResponse(400, 'Bad Request', { connection: 'close' }))
    const outcome = this.pipeline.handle(new NodeRequest(ex, url, body) as unknown as Request)
    if (!isThenable(outcome)) return ex.answer(outcome)
    ex.track()
    void outcome.then((response) => ex.answer(response))
  }

  /** @internal A request is over (answered, timed out or abandoned). */
  done(ex: Exchange): void {
    this.inFlight.delete(ex)
    if (this.inFlight.size === 0 && this.#idle !== null) this.#idle()
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ws = this.options.websocket!
    socket.on('error', () => {}) // a reset during the handshake is the client's business
    const url = requestUrl(req, this.#origin())
    if (url === null) return writeRawResponse(socket, textResponse(400, 'Bad Request'))
    const pairs: [string, string][] = []
    for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!])
    const request = new Request(url, { method: 'GET', headers: pairs })
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
    if (this.inFlight.size > 0) {
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
