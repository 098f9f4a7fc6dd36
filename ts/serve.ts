/**
 * `serve()`: an HTTP server with a fetch-style handler, request-lifecycle
 * hooks and WebSockets whose topics are cluster pub/sub topics. The same
 * code runs on Node (node:http + ws, ts/serve-node.ts) and on Bun
 * (Bun.serve, ts/serve-bun.ts); the lifecycle (ts/hooks.ts), the options
 * (ts/serve-options.ts) and the sockets (ts/websocket.ts) are shared.
 * @module
 */
import { checkOptions } from './check.js'
import { Pipeline } from './hooks.js'
import { BunServerAdapter, isBun } from './serve-bun.js'
import { NodeServer } from './serve-node.js'
import { type Handler, type ServeOptions, resolveOptions } from './serve-options.js'
import type { RuntimeServer } from './serve-runtime.js'
import { publish } from './topics.js'

/** What {@link Server.stop} takes. */
export interface StopServerOptions {
  /** Milliseconds to let requests in flight finish before every connection is closed (default 10,000). */
  timeout?: number | undefined
}

/** A running server, from {@link serve}. */
export interface Server {
  /** `http://hostname:port/` with the port actually bound. */
  readonly url: URL
  readonly port: number
  readonly hostname: string
  /** Which adapter runs it. */
  readonly runtime: 'node' | 'bun'
  /**
   * `pubsub.publish(topic, message)`: every WebSocket subscribed to `topic`,
   * on any node, receives it (so do the topic's other pub/sub members).
   * Returns how many members it was sent to (each socket is one).
   */
  publish(topic: string, message: unknown): number
  /**
   * Drains and stops: no new connections, WebSockets closed with 1001,
   * requests in flight get up to `timeout` ms to finish, then every
   * connection is closed. Idempotent.
   */
  stop(options?: StopServerOptions): Promise<void>
}

class RunningServer implements Server {
  readonly url: URL
  #stopping: Promise<void> | null = null

  constructor(
    readonly runtime: 'node' | 'bun',
    readonly adapter: RuntimeServer,
  ) {
    const host = adapter.hostname.includes(':') ? `[${adapter.hostname}]` : adapter.hostname
    this.url = new URL(`http://${host}:${adapter.port}/`)
  }

  get port(): number {
    return this.adapter.port
  }

  get hostname(): string {
    return this.adapter.hostname
  }

  publish(topic: string, message: unknown): number {
    return publish(topic, message)
  }

  stop(options?: StopServerOptions): Promise<void> {
    checkOptions(options, 'server.stop: options')
    const timeout = options?.timeout ?? 10_000
    if (typeof timeout !== 'number' || !(timeout >= 0)) throw new RangeError('server.stop: timeout must be a number ≥ 0')
    this.#stopping ??= this.adapter.stop(timeout)
    return this.#stopping
  }
}

/**
 * Starts an HTTP server on `options.hostname` (default 127.0.0.1) and
 * `options.port` (default 0: a free port, see `server.url`). Every request
 * goes through the `onRequest` hooks, the handler and the `onResponse`
 * hooks; a throw anywhere goes to the `onError` hooks (default: a bare 500,
 * the error logged). Bodies over `maxBodySize` are answered 413, requests
 * running past `requestTimeout` 503. With `websocket`, upgrade requests
 * become {@link ServerWebSocket}s.
 *
 * @example
 * const server = await serve((req) => new Response(`hello ${new URL(req.url).pathname}`), {
 *   port: 3000,
 *   hooks: { onRequest: (req) => (req.headers.get('x-token') === token ? undefined : new Response('no', { status: 401 })) },
 * })
 * await server.stop()
 */
export async function serve<D = undefined>(handler: Handler, options?: ServeOptions<D>): Promise<Server> {
  if (typeof handler !== 'function') throw new TypeError('serve: the handler must be a function (request) => Response')
  const resolved = resolveOptions(options)
  const pipeline = new Pipeline(handler, resolved)
  if (isBun()) {
    const adapter = new BunServerAdapter(pipeline, resolved)
    await adapter.listen()
    return new RunningServer('bun', adapter)
  }
  const adapter = new NodeServer(pipeline, resolved)
  await adapter.listen()
  return new RunningServer('node', adapter)
}
