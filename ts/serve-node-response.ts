/**
 * Responses on serve's Node adapter: a lazy `Response` class, and writing
 * any `Response` to a node:http `ServerResponse`.
 *
 * On Node 20 `new Response('hello')` alone costs more CPU than node:http
 * spends on a whole request (undici builds a ReadableStream for every
 * body). So `serve()` on Node puts {@link FastResponse} in place of the
 * global `Response` (as @hono/node-server does; `fastResponse: false` opts
 * out): for a string, byte or empty body it keeps the body and init as
 * given, answers `status`, `headers`, `text()`, `json()`… itself, and is
 * written with one `writeHead` and one `end`. It is `instanceof Response`,
 * and anything it does not answer itself (`body`, `blob()`, `clone()`,
 * undici's internals) builds the real `Response` first. Other bodies
 * (streams, Blob, FormData, …) and unusual inits make the real one at once.
 * @module
 */
import http, { type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { log } from './logger.js'
import { forwardInternals, forwardTo, nativeClass } from './serve-lazy.js'

const NativeResponse = nativeClass(globalThis.Response)
const NativeHeaders = nativeClass(globalThis.Headers)
const TEXT = 'text/plain;charset=UTF-8'
const JSON_TYPE = 'application/json'
// A reason phrase the Response constructor accepts (RFC 9112 reason-phrase).
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/

/** Set by `FastResponse.json` for the one construction it makes: the default content type. */
let nextType: string | undefined

function bodyUnusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read')
}

/**
 * A `Response` that builds undici's only when needed; see the module comment.
 * Installed as `globalThis.Response` by `serve()` on Node.
 */
export class FastResponse {
  // Kept as given: a string, a private copy of bytes, or null. Unused once #native exists.
  #body: string | Uint8Array | null = null
  #status = 200
  #statusText = ''
  #headers: Headers | undefined
  #type: string | undefined
  #used = false
  #native: Response | undefined

  constructor(body?: unknown, init?: ResponseInit) {
    const type = nextType
    nextType = undefined
    if (!FastResponse.#plain(body, init)) {
      this.#native = new NativeResponse(body as ConstructorParameters<typeof Response>[0], init)
      return
    }
    if (typeof body === 'string') {
      this.#body = body
      this.#type = type ?? TEXT
    } else if (body instanceof Uint8Array) {
      this.#body = new Uint8Array(body) // the constructor copies; so do we
    } else if (body instanceof ArrayBuffer) {
      this.#body = new Uint8Array(body.slice(0))
    }
    if (init !== undefined) {
      if (init.status !== undefined) this.#status = init.status
      if (init.statusText !== undefined) this.#statusText = init.statusText
      if (init.headers !== undefined) {
        // Built now so bad headers throw here, as from the real constructor.
        const headers = new NativeHeaders(init.headers)
        if (this.#type !== undefined && !headers.has('content-type')) headers.set('content-type', this.#type)
        this.#headers = headers
      }
    }
  }

  /** A body and init this class keeps as they are; anything else is the real constructor's business. */
  static #plain(body: unknown, init: ResponseInit | undefined): boolean {
    if (!(body == null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer)) return false
    if (init === undefined) return true
    if (typeof init !== 'object' || init === null) return false
    const { status, statusText } = init
    if (status !== undefined) {
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return false
      // A body on a null-body status: the real constructor throws.
      if (body != null && (status === 204 || status === 205 || status === 304)) return false
    }
    return statusText === undefined || (typeof statusText === 'string' && REASON.test(statusText))
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    // `x instanceof Response` (this class installed as Response): true for real Responses too.
    if (this === FastResponse) return value instanceof NativeResponse
    return typeof this === 'function' && typeof value === 'object' && value !== null && Object.prototype.isPrototypeOf.call(this.prototype, value)
  }

  /** `Response.json(data, init)`: kept lazy, with `content-type: application/json` unless init sets one. */
  static json(data: unknown, init?: ResponseInit): Response {
    const text = JSON.stringify(data)
    if (text === undefined) throw new TypeError('Response.json: the value is not JSON serializable')
    nextType = JSON_TYPE
    return new FastResponse(text, init) as unknown as Response
  }

  static error(): Response {
    return NativeResponse.error()
  }

  static redirect(url: string | URL, status?: number): Response {
    return NativeResponse.redirect(url, status as 301) // undefined: the default, 302
  }

  get status(): number {
    return this.#native !== undefined ? this.#native.status : this.#status
  }

  get statusText(): string {
    return this.#native !== undefined ? this.#native.statusText : this.#statusText
  }

  get ok(): boolean {
    const s = this.status
    return s >= 200 && s <= 299
  }

  get type(): Response['type'] {
    return this.#native !== undefined ? this.#native.type : 'default'
  }

  get url(): string {
    return this.#native !== undefined ? this.#native.url : ''
  }

  get redirected(): boolean {
    return this.#native !== undefined ? this.#native.redirected : false
  }

  get headers(): Headers {
    if (this.#native !== undefined) return this.#native.headers
    if (this.#headers === undefined) {
      const headers = new NativeHeaders()
      if (this.#type !== undefined) headers.set('content-type', this.#type)
      this.#headers = headers
    }
    return this.#headers
  }

  get bodyUsed(): boolean {
    return this.#native !== undefined ? this.#native.bodyUsed : this.#used
  }

  text(): Promise<string> {
    if (this.#native !== undefined) return this.#native.text()
    if (this.#used) return Promise.reject(bodyUnusable())
    const body = this.#body
    if (body === null) return Promise.resolve('')
    this.#used = true
    return Promise.resolve(typeof body === 'string' ? body : new TextDecoder().decode(body))
  }

  json(): Promise<unknown> {
    if (this.#native !== undefined) return this.#native.json()
    return this.text().then((text) => JSON.parse(text) as unknown)
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#native !== undefined) return this.#native.arrayBuffer()
    if (this.#used) return Promise.reject(bodyUnusable())
    const body = this.#body
    if (body === null) return Promise.resolve(new ArrayBuffer(0))
    this.#used = true
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body)
    return Promise.resolve(bytes.buffer as ArrayBuffer)
  }

  /** `console.log(res)` shows what a real Response shows (building it). */
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return inspect(this._response, options)
  }

  /** The real `Response`, built on first use from the same status, headers and body. */
  get _response(): Response {
    if (this.#native === undefined) {
      const init: { status: number; statusText: string; headers?: Headers | Record<string, string> } = { status: this.#status, statusText: this.#statusText }
      if (this.#headers !== undefined) init.headers = this.#headers
      else if (this.#type !== undefined) init.headers = { 'content-type': this.#type }
      const native = new NativeResponse(this.#body, init)
      if (this.#used && this.#body !== null) native.arrayBuffer().catch(() => {})
      this.#native = native
      this.#body = null
      this.#headers = undefined
    }
    return this.#native
  }

  /**
   * @internal What to write without building anything: status, reason,
   * headers (undefined: only the default content type) and the body, or
   * `undefined` when the real Response exists (or the body was read).
   */
  static parts(response: FastResponse): { status: number; statusText: string; headers: Headers | undefined; type: string | undefined; body: string | Uint8Array | null } | undefined {
    if (response.#native !== undefined || response.#used) return undefined
    return { status: response.#status, statusText: response.#statusText, headers: response.#headers, type: response.#type, body: response.#body }
  }

  /** @internal Whether `value` is one of ours (not a real Response). */
  static is(value: unknown): value is FastResponse {
    return typeof value === 'object' && value !== null && #native in value
  }
}
forwardTo(FastResponse.prototype, NativeResponse.prototype, '_response')
forwardInternals(FastResponse.prototype, new NativeResponse(''), '_response')
Object.setPrototypeOf(FastResponse.prototype, NativeResponse.prototype)
Object.setPrototypeOf(FastResponse, NativeResponse)

/**
 * @internal Puts {@link FastResponse} in place of `globalThis.Response`
 * (idempotent). Responses made before, or through a `Response` captured
 * before, are real ones and are written as such.
 */
export function installFastResponse(): void {
  if (globalThis.Response !== (FastResponse as unknown as typeof Response)) {
    Object.defineProperty(globalThis, 'Response', { value: FastResponse, writable: true, configurable: true, enumerable: false })
  }
}

// undici keeps a real Response's body source under a symbol: a string or bytes
// body can be written in one end() instead of being read back from its
// stream. Where the symbol is missing (another Node), the stream path is used.
const kState = Object.getOwnPropertySymbols(new NativeResponse('')).find((s) => s.description === 'state')

function bodySource(response: Response): string | Uint8Array | undefined {
  if (kState === undefined || response.bodyUsed) return undefined
  const source = (response as unknown as Record<symbol, { body?: { source?: unknown; stream?: ReadableStream } | null }>)[kState]?.body
  if (source == null || source.stream?.locked) return undefined
  const s = source.source
  return typeof s === 'string' || s instanceof Uint8Array ? s : undefined
}

// RFC 9110: no Content-Length on 1xx, 204 and 304.
function sized(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304
}

function flatHeaders(headers: Headers, status: number, length: number | undefined): string[] {
  const out: string[] = []
  headers.forEach((value, name) => {
    out.push(name, value)
  })
  if (length !== undefined && sized(status) && !headers.has('content-length')) out.push('content-length', String(length))
  return out
}

function byteLength(body: string | Uint8Array | null): number {
  return body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
}

/**
 * @internal Writes `response` to `res`. Returns `undefined` when it is all
 * written (string, bytes or no body: one `writeHead`, one `end`), else a
 * promise that settles when a streamed body is done or the client went away.
 */
export function writeResponse(res: ServerResponse, response: Response, head: boolean): Promise<void> | undefined {
  if (FastResponse.is(response)) {
    const p = FastResponse.parts(response)
    if (p !== undefined) {
      const length = byteLength(p.body)
      let flat: string[]
      if (p.headers !== undefined) flat = flatHeaders(p.headers, p.status, length)
      else {
        flat = p.type === undefined ? [] : ['content-type', p.type]
        if (sized(p.status)) flat.push('content-length', String(length))
      }
      // An empty statusText (the usual case) lets node:http use the standard reason phrase.
      res.writeHead(p.status, p.statusText || undefined, flat)
      res.end(head || p.body === null ? undefined : p.body)
      return undefined
    }
    response = (response as FastResponse)._response
  }
  const source = bodySource(response)
  if (source !== undefined || response.body === null) {
    res.writeHead(response.status, response.statusText || undefined, flatHeaders(response.headers, response.status, source === undefined ? 0 : byteLength(source)))
    res.end(head ? undefined : source)
    return undefined
  }
  res.writeHead(response.status, response.statusText || undefined, flatHeaders(response.headers, response.status, undefined))
  if (head) {
    res.end()
    return response.body.cancel().catch(() => {})
  }
  return streamBody(res, response.body)
}

async function streamBody(res: ServerResponse, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader()
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

/** @internal Serialises a response onto a raw socket (a refused WebSocket upgrade); small bodies only. */
export async function writeRawResponse(socket: Duplex, response: Response): Promise<void> {
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

/** @internal Releases the body of a response nobody will write (late, or the client is gone). */
export function discard(response: Response): void {
  if (FastResponse.is(response) && FastResponse.parts(response) !== undefined) return
  if (response.body !== null && !response.bodyUsed) response.body.cancel().catch(() => {})
}
