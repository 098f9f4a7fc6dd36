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

/** What an onRequest hook returned (not undefined): the request to go on with, or the answer. */
function requestOutcome(r: unknown): Request | Response {
  if (r instanceof Response || r instanceof Request) return r
  throw new TypeError(`serve: an onRequest hook returned ${describe(r)}; expected a Request, a Response or nothing`)
}

function handlerOutcome(r: unknown): Response {
  if (r instanceof Response) return r
  throw new TypeError(`serve: the handler returned ${describe(r)}; expected a Response`)
}

function responseOutcome(r: unknown): Response {
  if (r instanceof Response) return r
  throw new TypeError(`serve: an onResponse hook returned ${describe(r)}; expected a Response or nothing`)
}

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
   * The response for `request`: from a hook, the handler or the error hooks.
   * Synchronous as long as every hook and the handler are: a `Response`
   * comes back with no promise or microtask made, and the first hook (or
   * handler) that returns a promise turns the rest into a promise. Never
   * throws, and the promise never rejects.
   */
  handle(request: Request): Response | Promise<Response> {
    let req = request
    try {
      const hooks = this.#onRequest
      for (let i = 0; i < hooks.length; i++) {
        const r = hooks[i]!(req)
        if (r === undefined) continue
        if (isThenable(r)) return this.#waitBefore(req, r, i)
        const next = requestOutcome(r)
        if (next instanceof Response) return this.#after(next, req)
        req = next
      }
      const r = this.#handler(req)
      if (isThenable(r)) return this.#waitHandler(req, r)
      return this.#after(handlerOutcome(r), req)
    } catch (error) {
      return this.#failed(error, req)
    }
  }

  /** {@link handle}, always as a promise. */
  async run(request: Request): Promise<Response> {
    return this.handle(request)
  }

  /** The rest of `handle` once onRequest hook `at` returned a promise. */
  async #waitBefore(request: Request, pending: PromiseLike<unknown>, at: number): Promise<Response> {
    let req = request
    let res: Response | undefined
    try {
      let r: unknown = await pending
      for (let i = at; ; ) {
        if (r !== undefined) {
          const next = requestOutcome(r)
          if (next instanceof Response) {
            res = next
            break
          }
          req = next
        }
        if (++i >= this.#onRequest.length) break
        r = this.#onRequest[i]!(req)
        if (isThenable(r)) r = await r
      }
      if (res === undefined) {
        let r: unknown = this.#handler(req)
        if (isThenable(r)) r = await r
        res = handlerOutcome(r)
      }
    } catch (error) {
      res = await this.error(error, req)
    }
    return this.#after(res, req)
  }

  /** The rest of `handle` once the handler returned a promise. */
  async #waitHandler(req: Request, pending: PromiseLike<unknown>): Promise<Response> {
    let res: Response
    try {
      res = handlerOutcome(await pending)
    } catch (error) {
      res = await this.error(error, req)
    }
    return this.#after(res, req)
  }

  async #failed(error: unknown, req: Request): Promise<Response> {
    return this.#after(await this.error(error, req), req)
  }

  /** The onResponse hooks, synchronously until one returns a promise. */
  #after(response: Response, req: Request): Response | Promise<Response> {
    const hooks = this.#onResponse
    let res = response
    try {
      for (let i = 0; i < hooks.length; i++) {
        const r = hooks[i]!(res, req)
        if (r === undefined) continue
        if (isThenable(r)) return this.#waitAfter(res, req, r, i)
        res = responseOutcome(r)
      }
    } catch (error) {
      // A failing onResponse hook: its error becomes the answer, with no more onResponse hooks.
      return this.error(error, req)
    }
    return res
  }

  async #waitAfter(response: Response, req: Request, pending: PromiseLike<unknown>, at: number): Promise<Response> {
    let res = response
    try {
      let r: unknown = await pending
      for (let i = at; ; ) {
        if (r !== undefined) res = responseOutcome(r)
        if (++i >= this.#onResponse.length) break
        r = this.#onResponse[i]!(res, req)
        if (isThenable(r)) r = await r
      }
    } catch (error) {
      return this.error(error, req)
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
      const next = requestOutcome(r)
      if (next instanceof Response) return { request: req, response: next }
      req = next
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
