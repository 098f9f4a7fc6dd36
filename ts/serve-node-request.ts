/**
 * The `Request` serve's Node adapter hands to hooks and the handler: an
 * object whose prototype chain includes the real `Request.prototype` (so
 * `req instanceof Request` holds) and which answers `method`, `url`,
 * `headers.get/has`, `signal`, `text()`, `json()` and `arrayBuffer()` from
 * node:http's own request and the body serve already read, without building
 * an undici `Request`. Anything else (`body`, `clone()`, `formData()`,
 * `blob()`, iterating the headers, `new Request(req)`, `fetch(req)`) builds
 * the real one first, once, and from then on every call goes to it.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { forwardInternals, forwardTo, nativeClass } from './serve-lazy.js'

const NativeRequest = nativeClass(globalThis.Request)
const NativeHeaders = nativeClass(globalThis.Headers)

// RFC 9110 token: a header name Headers accepts. Anything else goes to the real Headers, which throws.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// A path the WHATWG URL parser leaves as it is (no dot segments, nothing it percent-encodes or drops),
// and a host it leaves as it is (lower case; a canonical IPv4 address or a name whose last label
// starts with a letter; no port, or one other than 80 with no leading zero). Others are parsed.
const PLAIN_PATH = /^\/(?!.*(?:\/\.|%2e|\\))[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*$/i
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)'
const PLAIN_HOST = new RegExp(
  `^(?:${OCTET}(?:\\.${OCTET}){3}|(?:[a-z0-9-]+\\.)*[a-z][a-z0-9-]*)(?::(?!80$)(?:[1-9]\\d{0,3}|[1-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d\\d|655[0-2]\\d|6553[0-5]))?$`,
)

/**
 * @internal The request's URL as `new Request(url).url` would have it, or
 * `null` when the URL parser refuses it (serve answers 400). The common
 * case is a string concatenation; anything unusual goes through `URL`.
 */
export function requestUrl(req: IncomingMessage, fallbackHost: string): string | null {
  const target = req.url ?? '/'
  if (target[0] === '/') {
    const host = req.headers.host || fallbackHost
    if (PLAIN_PATH.test(target) && PLAIN_HOST.test(host) && !host.includes('xn--')) return `http://${host}${target}`
    try {
      return new URL(`http://${host}${target}`).href
    } catch {
      return null
    }
  }
  // absolute-form (a proxy request); '*' and anything else the parser refuses
  try {
    return new URL(target).href
  } catch {
    return null
  }
}

/** @internal What a lazy request needs from the exchange it belongs to. */
export interface RequestContext {
  readonly req: IncomingMessage
  /** The AbortSignal that aborts when the client goes away or the request times out (made on first use). */
  signal(): AbortSignal
}

function bodyUnusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read')
}

/**
 * `request.headers` before the real `Request` exists: `get` and `has` read
 * node's raw header list; everything else (iteration, `set`, `append`, …)
 * builds a real `Headers` from it, which the real `Request` then adopts.
 */
class RequestHeaders {
  readonly #raw: string[]
  #native: Headers | undefined

  constructor(raw: string[]) {
    this.#raw = raw
  }

  /** The real Headers: built from the raw list on first use, or the real Request's once it exists. */
  get _native(): Headers {
    if (this.#native === undefined) {
      const h = new NativeHeaders()
      const raw = this.#raw
      for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!)
      this.#native = h
    }
    return this.#native
  }

  /** @internal The headers to build a real Request with (a Headers once touched, else the raw pairs). */
  _init(): Headers | [string, string][] {
    if (this.#native !== undefined) return this.#native
    const raw = this.#raw
    const pairs: [string, string][] = []
    for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!])
    return pairs
  }

  /** @internal From now on, `headers` is the real Request's. */
  _adopt(headers: Headers): void {
    this.#native = headers
  }

  get(name: string): string | null {
    if (this.#native !== undefined || typeof name !== 'string' || !TOKEN.test(name)) return this._native.get(name)
    const raw = this.#raw
    let out: string | null = null
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i]!
      if (key.length === name.length && (key === name || key.toLowerCase() === name.toLowerCase())) {
        out = out === null ? raw[i + 1]! : `${out}, ${raw[i + 1]!}`
      }
    }
    return out
  }

  has(name: string): boolean {
    if (this.#native !== undefined || typeof name !== 'string' || !TOKEN.test(name)) return this._native.has(name)
    const raw = this.#raw
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i]!
      if (key.length === name.length && (key === name || key.toLowerCase() === name.toLowerCase())) return true
    }
    return false
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this._native.forEach((value, key) => callback.call(thisArg, value, key, this as unknown as Headers))
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this._native.entries()
  }
}
forwardTo(RequestHeaders.prototype, NativeHeaders.prototype, '_native')
Object.setPrototypeOf(RequestHeaders.prototype, NativeHeaders.prototype)

/** @internal See the module comment. */
export class NodeRequest {
  readonly #ctx: RequestContext
  readonly #url: string
  readonly #body: Buffer | null
  #bodyUsed = false
  #headers: RequestHeaders | undefined
  #request: Request | undefined

  constructor(ctx: RequestContext, url: string, body: Buffer | null) {
    this.#ctx = ctx
    this.#url = url
    this.#body = body
  }

  get method(): string {
    return this.#ctx.req.method ?? 'GET'
  }

  get url(): string {
    return this.#url
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      if (this.#request !== undefined) return this.#request.headers
      this.#headers = new RequestHeaders(this.#ctx.req.rawHeaders)
    }
    return this.#headers as unknown as Headers
  }

  get signal(): AbortSignal {
    return this.#request !== undefined ? this.#request.signal : this.#ctx.signal()
  }

  get bodyUsed(): boolean {
    return this.#request !== undefined ? this.#request.bodyUsed : this.#bodyUsed
  }

  /** The body as text, straight from the bytes serve read (a UTF-8 BOM dropped, as `Request.text()` does). */
  text(): Promise<string> {
    if (this.#request !== undefined) return this.#request.text()
    if (this.#bodyUsed) return Promise.reject(bodyUnusable())
    const body = this.#body
    if (body === null) return Promise.resolve('')
    this.#bodyUsed = true
    const bom = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf
    return Promise.resolve(body.toString('utf8', bom ? 3 : 0))
  }

  json(): Promise<unknown> {
    if (this.#request !== undefined) return this.#request.json()
    return this.text().then((text) => JSON.parse(text) as unknown)
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#request !== undefined) return this.#request.arrayBuffer()
    if (this.#bodyUsed) return Promise.reject(bodyUnusable())
    const body = this.#body
    if (body === null) return Promise.resolve(new ArrayBuffer(0))
    this.#bodyUsed = true
    const copy = new Uint8Array(body.length)
    copy.set(body)
    return Promise.resolve(copy.buffer)
  }

  /** `console.log(req)` shows what a real Request shows (building it). */
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return inspect(this._request, options)
  }

  /** The real `Request`, built on first use with the same URL, method, headers, body and signal. */
  get _request(): Request {
    if (this.#request === undefined) {
      const body = this.#body
      const request = new NativeRequest(this.#url, {
        method: this.method,
        headers: this.#headers === undefined ? new RequestHeaders(this.#ctx.req.rawHeaders)._init() : this.#headers._init(),
        body,
        signal: this.#ctx.signal(),
      })
      // Already read through the fast path: the real one must say so too.
      if (this.#bodyUsed && body !== null) request.arrayBuffer().catch(() => {})
      this.#headers?._adopt(request.headers)
      this.#request = request
    }
    return this.#request
  }
}
forwardTo(NodeRequest.prototype, NativeRequest.prototype, '_request')
forwardInternals(NodeRequest.prototype, new NativeRequest('http://localhost/'), '_request')
Object.setPrototypeOf(NodeRequest.prototype, NativeRequest.prototype)
