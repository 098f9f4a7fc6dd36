/**
 * One server-side WebSocket, the same object on Node (the `ws` package) and
 * on Bun (`Bun.serve`): the runtime adapter supplies a small transport and
 * this class adds what must behave identically on both: the bounded send
 * buffer with its slow-client policy, and topic subscriptions.
 * @module
 */
import { log } from './logger.js'
import type { ResolvedWebSocket, SlowClientPolicy } from './serve-options.js'
import type { CallbackSubscription } from './pubsub.js'
import { joinTopic } from './topics.js'

/** @internal What a runtime adapter provides for one socket. */
export interface SocketTransport {
  send(data: string | Uint8Array): void
  /** Bytes queued and not yet handed to the kernel. */
  buffered(): number
  close(code: number, reason: string): void
  /** Cuts the connection at once (no closing handshake). */
  terminate(): void
}

/** A WebSocket connection as the `websocket` handlers of `serve()` see it. */
export class ServerWebSocket<D = undefined> {
  /** What the `websocket.upgrade` handler returned for this socket (`undefined` without one). */
  readonly data: D
  #dropped = 0
  readonly #transport: SocketTransport
  readonly #maxBuffered: number
  readonly #policy: SlowClientPolicy
  /** @internal How published messages become frames. */
  readonly serializer: ResolvedWebSocket['serialize']
  readonly #topics = new Map<string, CallbackSubscription>()
  #open = true

  /** @internal Made by the runtime adapters only. */
  constructor(transport: SocketTransport, data: D, options: ResolvedWebSocket) {
    this.#transport = transport
    this.data = data
    this.#maxBuffered = options.maxBufferedBytes
    this.#policy = options.slowClient
    this.serializer = options.serialize
  }

  /** Messages not sent because the client was too slow (policy `'drop'`). */
  get dropped(): number {
    return this.#dropped
  }

  /** `'open'` until the socket closes (either side), then `'closed'`. */
  get readyState(): 'open' | 'closed' {
    return this.#open ? 'open' : 'closed'
  }

  /** Bytes queued for this client and not yet written to the network. */
  get bufferedAmount(): number {
    return this.#open ? this.#transport.buffered() : 0
  }

  /** The topics this socket is subscribed to. */
  get topics(): string[] {
    return [...this.#topics.keys()]
  }

  /**
   * Sends a text (string) or binary (bytes) message. Returns `false` when it
   * was not sent: the socket is closed, or the client is too slow (more than
   * `maxBufferedBytes` already queued), in which case the `slowClient` policy
   * applies: `'close'` cuts the connection at once (a close frame would only
   * queue behind the data the client is not reading, so the client sees an
   * abnormal closure, 1006), `'drop'` drops this message and counts it in
   * {@link dropped}.
   */
  send(data: string | Uint8Array | ArrayBuffer): boolean {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      if (data instanceof ArrayBuffer) data = new Uint8Array(data)
      else throw new TypeError('ws.send: data must be a string, a Uint8Array or an ArrayBuffer')
    }
    if (!this.#open) return false
    if (this.#transport.buffered() > this.#maxBuffered) {
      if (this.#policy === 'drop') {
        this.#dropped++
      } else {
        log({ level: 'warn', message: `serve: cut a WebSocket whose client is too slow (over ${this.#maxBuffered} bytes queued)` })
        this.#transport.terminate()
        this.closed()
      }
      return false
    }
    this.#transport.send(data)
    return true
  }

  /** Closes the socket (code 1000 by default); it leaves all its topics at once. */
  close(code = 1000, reason = ''): void {
    if (!this.#open) return
    if (typeof code !== 'number' || typeof reason !== 'string') throw new TypeError('ws.close(code?: number, reason?: string)')
    this.#transport.close(code, reason)
    this.closed()
  }

  /**
   * Subscribes this socket to a cluster pub/sub topic (it becomes one member
   * of `pubsub`): every message published on it with `pubsub.publish` or
   * `server.publish`, on any node, is sent to the socket (strings as text,
   * bytes as binary, other terms as JSON text unless `websocket.serialize`
   * says otherwise).
   */
  subscribe(topic: string): void {
    checkTopic(topic, 'ws.subscribe')
    if (!this.#open || this.#topics.has(topic)) return
    this.#topics.set(topic, joinTopic(topic, this))
  }

  /** Leaves a topic; whether the socket was subscribed to it. */
  unsubscribe(topic: string): boolean {
    checkTopic(topic, 'ws.unsubscribe')
    const sub = this.#topics.get(topic)
    if (sub === undefined) return false
    this.#topics.delete(topic)
    sub.unsubscribe()
    return true
  }

  /** Whether the socket is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.#topics.has(topic)
  }

  /** @internal The transport closed (either side): leave every topic. Idempotent. */
  closed(): void {
    if (!this.#open) return
    this.#open = false
    for (const sub of this.#topics.values()) sub.unsubscribe()
    this.#topics.clear()
  }
}

function checkTopic(topic: unknown, what: string): void {
  if (typeof topic !== 'string' || topic.length === 0) throw new TypeError(`${what}: topic must be a non-empty string`)
}
