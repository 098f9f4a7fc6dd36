/**
 * What `serve()` needs from a runtime adapter (serve-node.ts, serve-bun.ts):
 * the bound port, and a stop that drains.
 * @module
 */

/** @internal */
export interface RuntimeServer {
  /** The port actually bound (never 0 once listening). */
  readonly port: number
  readonly hostname: string
  /** Stops accepting, closes WebSockets (1001), waits up to `timeout` ms for requests in flight, then closes every connection. */
  stop(timeout: number): Promise<void>
}
