/**
 * The request lifecycle shared by both runtimes: `onRequest` hooks, the
 * handler, `onResponse` hooks, and `onError` hooks that turn a throw
 * anywhere into a response. Hooks run in order; a hook's result is awaited
 * only when it is a promise, so synchronous hooks cost a call each and no
 * microtask (issue 6: three no-op hooks must cost ≤ 10% of throughput).
 * @module
 */
import { describe, isThenable } from './check.js'
import { log } from './logger.js'
import type { Handler, OnErrorHook, OnRequestHook, OnResponseHook, ResolvedOptions } from './serve-options.js'

/** `run`'s second argument when the handler has not been called yet. */
const NOT_CALLED: unique symbol = Symbol('not called')

/** @internal What the `onRequest` hooks made of an upgrade request. */
export type UpgradeOutcome = { request: Request; response?: undefined } | { request: Request; response: Response }

/** A plain-text response (also for the default error, timeout and limit answers). */
export function textResponse(status: number, text: string, headers?: Record<string, string>): Response {
  return new Response(text, { status, headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers } })
}

function describeRequest(request: Request): string {
  let path = request.url
  try {
    path = new URL(request.url).pathname
  } catch {
    // keep the raw url
  }
  return `${request.method} ${path}`
}

/** @internal Runs hooks and the handler for one request; `run` never rejects. */
export class Pipeline {
  readonly #handler: Handler
  readonly #onRequest: OnRequestHook[]
  readonly #onResponse: OnResponseHook[]
  readonly #onError: OnErrorHook[]

  constructor(handler: Handler, options: ResolvedOptions) {
    this.#handler = handler
    this.#onRequest = options.onRequest
    this.#onResponse = options.onResponse
    this.#onError = options.onError
  }

  /**
   * `run`, but synchronous when it can be: with no hooks and a handler that
   * returns a `Response` (not a promise), that Response itself, with no
   * promise or microtask; otherwise `run`'s promise.
   */
  handle(request: Request): Response | Promise<Response> {
    if (this.#onRequest.length > 0 || this.#onResponse.length > 0) return this.run(request)
    let r: unknown
    try {
      r = this.#handler(request)
    } catch (error) {
      return this.error(error, request)
    }
    if (r instanceof Response) return r
    return this.run(request, r)
  }

  /** The response for `request`: from a hook, the handler or the error hooks. */
  async run(request: Request, handled: unknown = NOT_CALLED): Promise<Response> {
    let req = request
    let res: Response | undefined
    try {
      if (this.#onRequest.length > 0) {
        const outcome = await this.#before(req)
        req = outcome.request
        res = outcome.response
      }
      if (res === undefined) {
        // `handled`: what the handler already returned (from `handle`), not to be called twice.
        let r: unknown = handled !== NOT_CALLED ? handled : this.#handler(req)
        if (isThenable(r)) r = await r
        if (!(r instanceof Response)) throw new TypeError(`serve: the handler returned ${describe(r)}; expected a Response`)
        res = r
      }
    } catch (error) {
      res = await this.error(error, req)
    }
    if (this.#onResponse.length === 0) return res
    try {
      for (const hook of this.#onResponse) {
        let r: unknown = hook(res, req)
        if (isThenable(r)) r = await r
        if (r === undefined) continue
        if (!(r instanceof Response)) throw new TypeError(`serve: an onResponse hook returned ${describe(r)}; expected a Response or nothing`)
        res = r
      }
    } catch (error) {
      // A failing onResponse hook: its error becomes the answer, with no more onResponse hooks.
      res = await this.error(error, req)
    }
    return res
  }

  /** The `onRequest` hooks only (for WebSocket upgrades); never rejects. */
  async upgrade(request: Request): Promise<UpgradeOutcome> {
    try {
      return await this.#before(request)
    } catch (error) {
      return { request, response: await this.error(error, request) }
    }
  }

  async #before(request: Request): Promise<UpgradeOutcome> {
    let req = request
    for (const hook of this.#onRequest) {
      let r: unknown = hook(req)
      if (isThenable(r)) r = await r
      if (r === undefined) continue
      if (r instanceof Response) return { request: req, response: r }
      if (r instanceof Request) req = r
      else throw new TypeError(`serve: an onRequest hook returned ${describe(r)}; expected a Request, a Response or nothing`)
    }
    return { request: req }
  }

  /** Asks the `onError` hooks in order; none answering (or all throwing) gives a 500 with no detail. */
  async error(error: unknown, request: Request): Promise<Response> {
    for (const hook of this.#onError) {
      try {
        let r: unknown = hook(error, request)
        if (isThenable(r)) r = await r
        if (r instanceof Response) return r
        if (r !== undefined) log({ level: 'error', message: `serve: an onError hook returned ${describe(r)}; expected a Response or nothing` })
      } catch (hookError) {
        log({ level: 'error', message: `serve: an onError hook threw while handling ${describeRequest(request)}`, error: hookError })
      }
    }
    log({ level: 'error', message: `serve: ${describeRequest(request)} failed`, error })
    // The client learns nothing about the error: no message, no stack.
    return textResponse(500, 'Internal Server Error')
  }
}
