/**
 * Shared state: ETS for JavaScript. A process-wide table in native memory,
 * shared by every worker thread of the process. Values are copied in and out:
 * mutating a returned object never changes the table.
 *
 * Concurrency, honestly: the table is sharded with a read-write lock per
 * shard (dashmap), not lock-free. Each single-key operation is atomic; `incr`
 * on integers is one native update with no decoding.
 * @module
 */
import { native } from './native.js'
import { type Term, decode, encode } from './terms.js'

type NativeTable = InstanceType<typeof native.NativeTable>

/** Options for {@link Table.set} and {@link Table.setNew}. */
export interface SetOptions {
  /** Time to live in milliseconds (> 0). Without it the key never expires. */
  ttl?: number | undefined
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER

function checkKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string') {
    throw new TypeError(`${what} must be a string, got ${key === null ? 'null' : typeof key}`)
  }
  if (key.length === 0) throw new TypeError(`${what} must not be empty`)
}

function checkTtl(ttl: unknown, what: string): number {
  if (typeof ttl !== 'number') throw new TypeError(`${what} must be a number of milliseconds, got ${typeof ttl}`)
  if (!(ttl > 0) || ttl === Infinity) {
    throw new RangeError(`${what} must be a positive, finite number of milliseconds, got ${ttl}`)
  }
  return ttl
}

function ttlOf(opts: SetOptions | undefined): number {
  if (opts === undefined) return 0
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object like { ttl: 1000 }')
  return opts.ttl === undefined ? 0 : checkTtl(opts.ttl, 'ttl')
}

function checkBy(by: unknown): number {
  if (typeof by !== 'number' || !Number.isInteger(by)) {
    throw new TypeError(`the increment must be an integer, got ${typeof by === 'number' ? by : typeof by}`)
  }
  if (Math.abs(by) > MAX_SAFE) throw new RangeError(`the increment ${by} is beyond ±(2^53 − 1)`)
  return by
}

// Safe integers are stored natively so incr needs no decoding.
function isNativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value)
}

// One read buffer per thread: native code writes encoded values into it and
// JS decodes in place, so a read allocates nothing but the decoded value.
const SCRATCH_BYTES = 64 * 1024
const scratch = new Uint8Array(SCRATCH_BYTES)
const scratchView = new DataView(scratch.buffer)

const opened = new Map<string, Table<any>>()

/**
 * A named, process-wide table. `Table.open(name)` returns the same table in
 * every worker thread. The type parameter `V` is the value type callers
 * promise to store; it is not checked at run time beyond "is a term".
 */
export class Table<V extends Term = Term> {
  /** The table's name (`'state'` for the default table). */
  readonly name: string
  readonly #t: NativeTable

  /** @internal Use {@link Table.open}. */
  private constructor(name: string) {
    this.name = name
    this.#t = native.NativeTable.open(name)
  }

  /** Opens (creating on first use) the table called `name`. */
  static open<V extends Term = Term>(name: string): Table<V> {
    checkKey(name, 'table name')
    let t = opened.get(name)
    if (t === undefined) {
      t = new Table<V>(name)
      opened.set(name, t)
    }
    return t as Table<V>
  }

  /** The names of every table opened in this process, by any thread. */
  static names(): string[] {
    return native.tableNames()
  }

  /** Stores `value` under `key`, replacing any value and TTL it had. */
  set(key: string, value: V, opts?: SetOptions): void {
    checkKey(key)
    const ttl = ttlOf(opts)
    if (isNativeInt(value)) this.#t.setInt(key, value, ttl)
    else this.#t.set(key, encode(value), ttl)
  }

  /** Stores `value` only if `key` is absent (ETS `insert_new`); returns whether it did. */
  setNew(key: string, value: V, opts?: SetOptions): boolean {
    checkKey(key)
    const ttl = ttlOf(opts)
    if (isNativeInt(value)) return this.#t.setNewInt(key, value, ttl)
    return this.#t.setNew(key, encode(value), ttl)
  }

  /** A copy of the value under `key`, or `undefined` if it is absent or expired. */
  get<T extends V = V>(key: string): T | undefined {
    checkKey(key)
    let r = this.#t.get(key, scratch)
    if (r >= 0) return decode(scratch, 0, r) as T
    // A value larger than the read buffer gets a buffer of its own; loop in
    // case another thread grew it again between the two reads.
    while (r < -1) {
      const big = new Uint8Array(-r - 1)
      r = this.#t.get(key, big)
      if (r >= 0) return decode(big, 0, r) as T
    }
    return undefined
  }

  /** Copies of the values of many keys in one native call. */
  getMany<T extends V = V>(keys: readonly string[]): Record<string, T | undefined> {
    if (!Array.isArray(keys)) throw new TypeError('keys must be an array of strings')
    for (let i = 0; i < keys.length; i++) checkKey(keys[i], `keys[${i}]`)
    let buf = scratch
    let view = scratchView
    let r = this.#t.getMany(keys as string[], buf)
    while (r < 0) {
      buf = new Uint8Array(-r - 1)
      view = new DataView(buf.buffer)
      r = this.#t.getMany(keys as string[], buf)
    }
    const out: Record<string, T | undefined> = {}
    let pos = 0
    for (const key of keys) {
      const len = view.getInt32(pos, true)
      pos += 4
      const value = len < 0 ? undefined : (decode(buf, pos, pos + len) as T)
      if (len > 0) pos += len
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
      else out[key] = value
    }
    return out
  }

  /** Removes `key`; returns whether it existed. */
  delete(key: string): boolean {
    checkKey(key)
    return this.#t.delete(key)
  }

  /**
   * Adds `by` to the integer under `key` atomically and returns the result. A
   * missing key counts from 0. Throws `TypeError` if the key holds a
   * non-integer, `RangeError` if the result would pass ±(2^53 − 1); the
   * stored value is unchanged in both cases.
   */
  incr(key: string, by = 1): number {
    checkKey(key)
    checkBy(by)
    const r = this.#t.incr(key, by)
    if (typeof r === 'number') return r
    if (r === 'not_integer') throw new TypeError(`cannot incr "${key}": it holds a value that is not an integer`)
    throw new RangeError(`cannot incr "${key}" by ${by}: the result would be beyond ±(2^53 − 1)`)
  }

  /** Subtracts `by` atomically; see {@link Table.incr}. */
  decr(key: string, by = 1): number {
    return this.incr(key, -checkBy(by))
  }

  /** The live keys starting with `prefix`, sorted. Uses an ordered index, not a scan. */
  keys(prefix = ''): string[] {
    if (typeof prefix !== 'string') throw new TypeError(`prefix must be a string, got ${typeof prefix}`)
    return this.#t.keys(prefix)
  }

  /** Gives `key` a TTL of `ttlMs` from now; returns whether the key exists. */
  expire(key: string, ttlMs: number): boolean {
    checkKey(key)
    return this.#t.expire(key, checkTtl(ttlMs, 'ttlMs'))
  }

  /** Removes the TTL of `key`; returns whether the key exists. */
  persist(key: string): boolean {
    checkKey(key)
    return this.#t.expire(key, 0)
  }

  /**
   * Milliseconds until `key` expires; `Infinity` if it has no TTL;
   * `undefined` if it is absent.
   */
  ttl(key: string): number | undefined {
    checkKey(key)
    const r = this.#t.ttl(key)
    return r < 0 ? undefined : r
  }

  /** The number of live keys. */
  size(): number {
    return this.#t.size()
  }

  /** Removes every key. */
  clear(): void {
    this.#t.clear()
  }
}

/** The default process-wide table. */
export const state: Table<Term> = Table.open<Term>('state')
