/**
 * A Subscription: one member of a pub/sub topic with a bounded buffer,
 * consumed with `for await`, `receive({ timeout })`, or both.
 *
 * The buffer is a ring that grows on demand up to its limit, so an idle
 * subscription costs a few slots, and a full one costs `buffer` slots and no
 * more: a stuck consumer cannot grow memory without bound. What happens to a
 * publication that finds it full is the overflow policy (drop the oldest by
 * default), counted in `dropped`. With `latestBy`, only the newest message per
 * key waits in the buffer (a live dashboard of many devices).
 * @module
 */
import { checkOptions, checkTimeout, describe } from './check.js'
import { log } from './logger.js'
import { type LocalMember, type TopicEntry, addLocal, newMemberId, removeLocal } from './pubsub-topics.js'
import type { Term } from './terms.js'

/** What a full Subscription buffer does with a new publication. */
export type OverflowPolicy = 'drop_oldest' | 'drop_newest'

/** Options of `pubsub.subscribe(topic, options)`. */
export interface SubscribeOptions {
  /**
   * The most messages (with `latestBy`: the most keys) waiting to be read; a
   * positive integer, default {@link DEFAULT_BUFFER}.
   */
  buffer?: number | undefined
  /**
   * When the buffer is full: `'drop_oldest'` (the default) discards the
   * oldest waiting message to make room, `'drop_newest'` discards the new
   * one. Either way `dropped` counts it.
   */
  overflow?: OverflowPolicy | undefined
  /**
   * Latest-value mode: the name of a field of the messages (e.g.
   * `'deviceId'`). While the consumer is behind, a new message replaces the
   * waiting one with the same value of that field (counted in `replaced`),
   * keeping its place in the queue. Messages without the field, or that are
   * not objects, are never replaced. Keys compare like `Map` keys: use
   * strings or numbers.
   */
  latestBy?: string | undefined
}

/** What `receive` takes. */
export interface SubscriptionReceiveOptions {
  /** Milliseconds to wait (≥ 0; default `Infinity`). `0` only looks at what is already buffered. */
  timeout?: number | undefined
}

/** The buffer size of a Subscription unless `buffer` says otherwise. */
export const DEFAULT_BUFFER = 1024

const MIN_RING = 8
const MAX_TIMER_MS = 2 ** 31 - 1

/** A message of `latestBy` mode that has no key: it waits in the ring itself. */
class Keyless {
  constructor(readonly message: unknown) {}
}

/** A consumer waiting for the next message: a `receive` or an iterator's `next`. */
class Waiter {
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  constructor(
    readonly resolve: (value: unknown) => void,
    readonly iterating: boolean,
  ) {}
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true }) as IteratorReturnResult<undefined>

/**
 * A member of a topic with its own bounded buffer. Made by
 * `pubsub.subscribe(topic, options?)`; read it with `for await (const m of
 * sub)` or `await sub.receive({ timeout })`; leave with `sub.unsubscribe()`
 * (breaking out of a `for await` loop does it too).
 *
 * Messages are not copied for local subscribers: every subscriber of a
 * publication gets the same object. Treat messages as immutable.
 */
export class Subscription<T = Term> implements AsyncIterableIterator<T> {
  /** The topic this subscription belongs to. */
  readonly topic: string
  /** @internal */
  readonly id: number
  /** @internal */
  readonly entry: TopicEntry
  /** @internal Subscriptions are never idempotent members. */
  readonly key: null = null
  /** @internal */
  index = -1
  /** @internal */
  active = true

  private ring: unknown[]
  private head = 0
  private len = 0
  private readonly limit: number
  private readonly dropNewest: boolean
  private readonly field: string | null
  /** latestBy mode: the newest message of each key waiting in the ring (which holds keys). */
  private readonly latest: Map<unknown, unknown> | null
  private waiter: Waiter | null = null
  private moreWaiters: Waiter[] | null = null
  private droppedCount = 0
  private replacedCount = 0

  private constructor(entry: TopicEntry, limit: number, dropNewest: boolean, field: string | null) {
    this.topic = entry.name
    this.entry = entry
    this.id = newMemberId()
    this.limit = limit
    this.dropNewest = dropNewest
    this.field = field
    this.latest = field === null ? null : new Map()
    this.ring = new Array(Math.min(limit, MIN_RING))
  }

  /** @internal Makes a subscription and joins its topic. Options are validated by the caller. */
  static join<T>(entry: TopicEntry, options: ValidOptions): Subscription<T> {
    const sub = new Subscription<T>(entry, options.buffer, options.dropNewest, options.latestBy)
    addLocal(sub as unknown as LocalMember)
    return sub
  }

  /** Publications discarded because the buffer was full (see `overflow`). */
  get dropped(): number {
    return this.droppedCount
  }

  /** latestBy mode: waiting messages replaced by a newer one with the same key. */
  get replaced(): number {
    return this.replacedCount
  }

  /** Messages waiting to be read. */
  get size(): number {
    return this.len
  }

  /** Whether it has left its topic (`unsubscribe`, or the end of a `for await` loop). */
  get closed(): boolean {
    return !this.active
  }

  /**
   * The next message. Resolves `undefined` if none arrives within `timeout`
   * ms (`timeout: 0` only takes what is already buffered), or once the
   * subscription is closed and its buffer is empty.
   */
  receive(options?: SubscriptionReceiveOptions): Promise<T | undefined> {
    let timeout = Infinity
    if (options !== undefined) {
      checkOptions(options, 'receive options')
      if (options.timeout !== undefined) timeout = checkTimeout(options.timeout, 'receive timeout')
    }
    if (this.len > 0) return Promise.resolve(this.take() as T)
    if (!this.active || timeout === 0) return Promise.resolve(undefined)
    return new Promise<T | undefined>((resolve) => {
      const w = this.wait(resolve as (value: unknown) => void, false)
      // Beyond a timer's range (~24.8 days) is as good as forever.
      if (timeout < MAX_TIMER_MS) w.timer = setTimeout(() => this.expire(w), timeout)
    })
  }

  /** The async iterator protocol: the next message, or done once closed and drained. */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.len > 0) return Promise.resolve({ value: this.take() as T, done: false })
    if (!this.active) return Promise.resolve(DONE)
    return new Promise((resolve) => void this.wait(resolve as (value: unknown) => void, true))
  }

  /**
   * Takes up to `max` buffered messages at once, oldest first, without
   * waiting (an empty array if none). The cheapest way to read a busy
   * subscription: one call and one array per batch instead of a promise
   * per message.
   */
  drain(max = Infinity): T[] {
    if (typeof max !== 'number') throw new TypeError(`drain: max must be a number, got ${describe(max)}`)
    if (!(max >= 1)) throw new RangeError(`drain: max must be ≥ 1, got ${max}`)
    const n = Math.min(this.len, max)
    const out = new Array<T>(n)
    for (let i = 0; i < n; i++) out[i] = this.take() as T
    return out
  }

  /**
   * Reads in batches: each step waits for at least one message, then yields
   * every message waiting (at most `max`), oldest first. Ends when the
   * subscription is closed and drained; leaving the loop early unsubscribes.
   *
   * ```ts
   * for await (const batch of sub.batches()) render(batch)
   * ```
   */
  batches(max = Infinity): AsyncGenerator<T[], void, undefined> {
    if (typeof max !== 'number') throw new TypeError(`batches: max must be a number, got ${describe(max)}`)
    if (!(max >= 1)) throw new RangeError(`batches: max must be ≥ 1, got ${max}`)
    return this.batchLoop(max)
  }

  private async *batchLoop(max: number): AsyncGenerator<T[], void, undefined> {
    try {
      for (;;) {
        if (this.len > 0) {
          yield this.drain(max)
          continue
        }
        // A message is never undefined (not a term): undefined means closed and drained.
        const first = await this.receive()
        if (first === undefined) return
        const batch = max > 1 ? this.drain(max - 1) : []
        batch.unshift(first)
        yield batch
      }
    } finally {
      this.unsubscribe()
    }
  }

  /** Ends a `for await` loop early: unsubscribes. */
  return(): Promise<IteratorResult<T, undefined>> {
    this.unsubscribe()
    return Promise.resolve(DONE)
  }

  /** A Subscription is its own async iterator. */
  [Symbol.asyncIterator](): this {
    return this
  }

  /**
   * Leaves the topic: nothing more is delivered. Messages already buffered
   * can still be read; then iteration ends and `receive` resolves
   * `undefined`. Returns whether it was subscribed.
   */
  unsubscribe(): boolean {
    if (!removeLocal(this as unknown as LocalMember)) return false
    // Waiters exist only while the buffer is empty: they are told it is over.
    let w = this.waiter
    this.waiter = null
    const more = this.moreWaiters
    this.moreWaiters = null
    while (w !== null) {
      if (w.timer !== undefined) clearTimeout(w.timer)
      w.resolve(w.iterating ? DONE : undefined)
      w = more === null ? null : (more.shift() ?? null)
    }
    return true
  }

  /** @internal One publication arrives (the fan-out's hot path: no allocation unless a consumer waits). */
  deliver(message: unknown): void {
    const w = this.waiter
    if (w !== null) {
      this.waiter = this.moreWaiters === null ? null : (this.moreWaiters.shift() ?? null)
      if (w.timer !== undefined) clearTimeout(w.timer)
      w.resolve(w.iterating ? { value: message, done: false } : message)
      return
    }
    if (this.latest !== null) return this.keep(message)
    this.push(message)
  }

  private push(item: unknown): void {
    let ring = this.ring
    if (this.len === ring.length && !this.grow()) {
      this.drop()
      if (this.dropNewest) return
      // Full: the new message takes the oldest one's slot and becomes the newest.
      const evicted = ring[this.head]
      ring[this.head] = item
      this.head = this.head + 1 === ring.length ? 0 : this.head + 1
      if (this.latest !== null && !(evicted instanceof Keyless)) this.latest.delete(evicted)
      return
    }
    ring = this.ring
    let i = this.head + this.len
    if (i >= ring.length) i -= ring.length
    ring[i] = item
    this.len++
  }

  /** latestBy mode: the ring holds keys (or Keyless messages); `latest` holds each key's newest message. */
  private keep(message: unknown): void {
    const key = typeof message === 'object' && message !== null ? (message as Record<string, unknown>)[this.field!] : undefined
    if (key === undefined) return this.push(new Keyless(message))
    const latest = this.latest!
    if (latest.has(key)) {
      latest.set(key, message)
      this.replacedCount++
      return
    }
    if (this.len === this.ring.length && this.len === this.limit && this.dropNewest) return this.drop()
    latest.set(key, message)
    this.push(key)
  }

  /** Doubles the ring up to the limit; false if it is at the limit. */
  private grow(): boolean {
    const old = this.ring
    if (old.length >= this.limit) return false
    const ring = new Array(Math.min(this.limit, old.length * 2))
    for (let i = 0; i < this.len; i++) {
      let j = this.head + i
      if (j >= old.length) j -= old.length
      ring[i] = old[j]
    }
    this.ring = ring
    this.head = 0
    return true
  }

  private drop(): void {
    if (this.droppedCount++ === 0) {
      log({ level: 'warn', message: `a subscription to '${this.topic}' is full (buffer ${this.limit}); dropping messages (see subscription.dropped)` })
    }
  }

  private take(): unknown {
    const ring = this.ring
    const item = ring[this.head]
    ring[this.head] = undefined
    this.head = this.head + 1 === ring.length ? 0 : this.head + 1
    if (--this.len === 0) this.head = 0
    if (this.latest === null) return item
    if (item instanceof Keyless) return item.message
    const message = this.latest.get(item)
    this.latest.delete(item)
    return message
  }

  private wait(resolve: (value: unknown) => void, iterating: boolean): Waiter {
    const w = new Waiter(resolve, iterating)
    if (this.waiter === null) this.waiter = w
    else (this.moreWaiters ??= []).push(w)
    return w
  }

  private expire(w: Waiter): void {
    if (this.waiter === w) this.waiter = this.moreWaiters === null ? null : (this.moreWaiters.shift() ?? null)
    else if (this.moreWaiters !== null) {
      const i = this.moreWaiters.indexOf(w)
      if (i < 0) return
      this.moreWaiters.splice(i, 1)
    } else return
    w.resolve(undefined)
  }
}

/** @internal Options after validation. */
export interface ValidOptions {
  buffer: number
  dropNewest: boolean
  latestBy: string | null
}

/** @internal Validates `subscribe` options: TypeError / RangeError naming the bad one. */
export function checkSubscribeOptions(options: unknown, what: string): ValidOptions {
  checkOptions(options, `${what}: options`)
  const o = (options ?? {}) as SubscribeOptions
  let buffer = DEFAULT_BUFFER
  if (o.buffer !== undefined) {
    if (typeof o.buffer !== 'number') throw new TypeError(`${what}: buffer must be a number, got ${describe(o.buffer)}`)
    if (!Number.isSafeInteger(o.buffer) || o.buffer < 1) throw new RangeError(`${what}: buffer must be a positive integer, got ${o.buffer}`)
    buffer = o.buffer
  }
  if (o.overflow !== undefined && o.overflow !== 'drop_oldest' && o.overflow !== 'drop_newest') {
    throw new TypeError(`${what}: overflow must be 'drop_oldest' or 'drop_newest', got ${describe(o.overflow)}`)
  }
  if (o.latestBy !== undefined && (typeof o.latestBy !== 'string' || o.latestBy.length === 0)) {
    throw new TypeError(`${what}: latestBy must be a non-empty field name, got ${describe(o.latestBy)}`)
  }
  for (const k of Object.keys(o)) {
    if (k !== 'buffer' && k !== 'overflow' && k !== 'latestBy') throw new TypeError(`${what}: unknown option '${k}'`)
  }
  return { buffer, dropNewest: o.overflow === 'drop_newest', latestBy: o.latestBy ?? null }
}
