/**
 * The options of `serve()` and their checks. One normalised shape is handed
 * to both runtime adapters (node:http and Bun.serve), so a value is checked
 * once, with one error message, whatever the runtime.
 * @module
 */
import type { ServerWebSocket } from './websocket.js'

/** A fetch-style request handler: a WHATWG `Request` in, a `Response` out. */
export type Handler = (request: Request) => Response | Promise<Response>

/**
 * Runs before the handler. Return nothing to go on with the same request, a
 * new `Request` to go on with that one, or a `Response` to answer at once
 * (the handler and later `onRequest` hooks are skipped).
 */
export type OnRequestHook = (request: Request) => Request | Response | void | undefined | Promise<Request | Response | void | undefined>

/** Runs after the handler (or a short-circuit or error response). Return a `Response` to replace it. */
export type OnResponseHook = (
  response: Response,
  request: Request,
) => Response | void | undefined | Promise<Response | void | undefined>

/**
 * Turns an error thrown by the handler or a hook into a response. Return
 * nothing to let the next `onError` hook (or the default 500) answer.
 */
export type OnErrorHook = (error: unknown, request: Request) => Response | void | undefined | Promise<Response | void | undefined>

/** Request-lifecycle hooks; each may be one function or an array run in order. */
export interface Hooks {
  onRequest?: OnRequestHook | readonly OnRequestHook[] | undefined
  onResponse?: OnResponseHook | readonly OnResponseHook[] | undefined
  onError?: OnErrorHook | readonly OnErrorHook[] | undefined
}

/** What a socket does when a send finds more than `maxBufferedBytes` not yet written to the client. */
export type SlowClientPolicy = 'close' | 'drop'

/** Data from a WebSocket client: text frames as strings, binary frames as bytes. */
export type WebSocketData = string | Uint8Array

/** WebSocket handlers; a request with `Upgrade: websocket` becomes a socket when these are given. */
export interface WebSocketHandlers<D = undefined> {
  /**
   * Decides whether an upgrade request (after the `onRequest` hooks ran) may
   * become a socket: return `false` or a `Response` to refuse it, anything
   * else becomes `ws.data`. Without it every upgrade request is accepted.
   */
  upgrade?: ((request: Request) => D | false | Response | Promise<D | false | Response>) | undefined
  // What these return is ignored (a rejected promise is logged and closes the socket), so
  // `open: (ws) => ws.send('hi')` type-checks.
  open?: ((ws: ServerWebSocket<D>) => unknown) | undefined
  message?: ((ws: ServerWebSocket<D>, data: WebSocketData) => unknown) | undefined
  close?: ((ws: ServerWebSocket<D>, code: number, reason: string) => unknown) | undefined
  /** Bytes a socket may have queued for a slow client before `slowClient` applies (default 1 MiB). */
  maxBufferedBytes?: number | undefined
  /** `'close'` (default): cut the connection (the client sees 1006); `'drop'`: drop the message and count it in `ws.dropped`. */
  slowClient?: SlowClientPolicy | undefined
  /** The largest message accepted from a client, in bytes (default 1 MiB); a larger one closes the socket with 1009. */
  maxPayload?: number | undefined
  /** How a published term becomes a frame (default: strings as text, bytes as binary, anything else as JSON text). */
  serialize?: ((message: unknown, topic: string) => string | Uint8Array) | undefined
}

/** What {@link serve} takes. */
export interface ServeOptions<D = undefined> {
  /** TCP port; 0 (the default) picks a free one, see `server.port` / `server.url`. */
  port?: number | undefined
  /** Interface to listen on (default `'127.0.0.1'`). */
  hostname?: string | undefined
  hooks?: Hooks | undefined
  websocket?: WebSocketHandlers<D> | undefined
  /** The largest request body accepted, in bytes (default 1 MiB); a larger one is answered 413. */
  maxBodySize?: number | undefined
  /**
   * Milliseconds a request may take before it is answered 503 and its
   * `request.signal` aborted (default 30,000; `Infinity`: no limit).
   */
  requestTimeout?: number | undefined
  /**
   * Node only (ignored on Bun). `true` (the default): `serve()` puts a lazy
   * `Response` class in place of `globalThis.Response`, for the whole
   * process, as @hono/node-server does. It is `instanceof Response` and
   * behaves as one, but a string, byte or empty body is written without
   * building undici's `Response`, which on Node 20 costs more than the rest
   * of the request (see docs/serve.md, Performance). `false` leaves the
   * global alone; real Responses are still written directly when their body
   * is a string or bytes.
   */
  fastResponse?: boolean | undefined
}

/** @internal The checked, defaulted options. */
export interface ResolvedOptions {
  port: number
  hostname: string
  onRequest: OnRequestHook[]
  onResponse: OnResponseHook[]
  onError: OnErrorHook[]
  websocket: ResolvedWebSocket | null
  maxBodySize: number
  requestTimeout: number
  fastResponse: boolean
}

/** @internal */
export interface ResolvedWebSocket {
  // The handlers are stored untyped: `ws.data` is whatever `upgrade` returned.
  upgrade: ((request: Request) => unknown) | undefined
  open: ((ws: ServerWebSocket<any>) => unknown) | undefined
  message: ((ws: ServerWebSocket<any>, data: WebSocketData) => unknown) | undefined
  close: ((ws: ServerWebSocket<any>, code: number, reason: string) => unknown) | undefined
  maxBufferedBytes: number
  slowClient: SlowClientPolicy
  maxPayload: number
  serialize: ((message: unknown, topic: string) => string | Uint8Array) | undefined
}

const MiB = 1024 * 1024

function hookList<T>(value: unknown, what: string): T[] {
  if (value === undefined) return []
  const list = Array.isArray(value) ? value : [value]
  list.forEach((h, i) => {
    if (typeof h !== 'function') throw new TypeError(`serve: ${what}${Array.isArray(value) ? `[${i}]` : ''} must be a function`)
  })
  return list as T[]
}

function optionalFunction<T>(value: unknown, what: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`serve: ${what} must be a function`)
  return value as T | undefined
}

function byteCount(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') throw new TypeError(`serve: ${what} must be a number of bytes`)
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`serve: ${what} must be an integer ≥ 0, got ${value}`)
  return value
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`serve: ${what} must be an object`)
  return value as Record<string, unknown>
}

/** @internal Checks `serve`'s arguments; bad values throw TypeError / RangeError naming the option. */
export function resolveOptions(options: unknown): ResolvedOptions {
  const o = object(options, 'options')
  const port = o.port ?? 0
  if (typeof port !== 'number') throw new TypeError('serve: port must be a number')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`serve: port must be an integer in 0-65535, got ${port}`)
  const hostname = o.hostname ?? '127.0.0.1'
  if (typeof hostname !== 'string' || hostname.length === 0) throw new TypeError('serve: hostname must be a non-empty string')
  const hooks = object(o.hooks, 'hooks')
  const timeout = o.requestTimeout ?? 30_000
  if (typeof timeout !== 'number') throw new TypeError('serve: requestTimeout must be a number of milliseconds')
  if (!(timeout > 0)) throw new RangeError(`serve: requestTimeout must be > 0 milliseconds (or Infinity), got ${timeout}`)
  const fastResponse = o.fastResponse ?? true
  if (typeof fastResponse !== 'boolean') throw new TypeError('serve: fastResponse must be a boolean')
  let websocket: ResolvedWebSocket | null = null
  if (o.websocket !== undefined) {
    const w = object(o.websocket, 'websocket')
    const slowClient = w.slowClient ?? 'close'
    if (slowClient !== 'close' && slowClient !== 'drop') throw new TypeError(`serve: websocket.slowClient must be 'close' or 'drop'`)
    websocket = {
      upgrade: optionalFunction(w.upgrade, 'websocket.upgrade'),
      open: optionalFunction(w.open, 'websocket.open'),
      message: optionalFunction(w.message, 'websocket.message'),
      close: optionalFunction(w.close, 'websocket.close'),
      maxBufferedBytes: byteCount(w.maxBufferedBytes, 'websocket.maxBufferedBytes', MiB),
      slowClient,
      maxPayload: byteCount(w.maxPayload, 'websocket.maxPayload', MiB),
      serialize: optionalFunction(w.serialize, 'websocket.serialize'),
    }
    if (websocket.maxPayload === 0) throw new RangeError('serve: websocket.maxPayload must be > 0')
  }
  return {
    port,
    hostname,
    onRequest: hookList(hooks.onRequest, 'hooks.onRequest'),
    onResponse: hookList(hooks.onResponse, 'hooks.onResponse'),
    onError: hookList(hooks.onError, 'hooks.onError'),
    websocket,
    maxBodySize: byteCount(o.maxBodySize, 'maxBodySize', MiB),
    requestTimeout: timeout,
    fastResponse,
  }
}
