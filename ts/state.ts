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
import { ABSENT, type Term, type TermValue, decode, encode } from './terms.js'

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

// One buffer per thread, shared with native code: JS writes the key (and the
// encoded value) at its start and passes only lengths; native code writes
// results right after the key. Passing strings or typed arrays through
// N-API costs more than the table operation itself (see docs/state.md).
let scratch = new Uint8Array(64 * 1024)
let view = new DataView(scratch.buffer)
native.attachScratch(scratch)

/** Replaces the buffer with one of at least `min` bytes, keeping `[0, keep)`. */
function grow(min: number, keep: number): void {
  const next = new Uint8Array(Math.max(min, scratch.length * 2))
  next.set(scratch.subarray(0, keep))
  scratch = next
  view = new DataView(next.buffer)
  native.attachScratch(next)
}

const utf8 = new TextEncoder()

/** Writes `s` as UTF-8 at `at`; returns its length in bytes. */
function writeStr(s: string, at: number): number {
  const n = s.length
  if (at + n * 3 > scratch.length) grow(at + n * 3 + 1024, at)
  // Keys are nearly always ASCII: a plain loop beats TextEncoder for short ones.
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return utf8.encodeInto(s, scratch.subarray(at)).written
    scratch[at + i] = c
  }
  return n
}

/** Writes `key` then `bytes` after it; returns the key's length. */
function writeKeyValue(key: string, bytes: Uint8Array): number {
  const klen = writeStr(key, 0)
  if (klen + bytes.length > scratch.length) grow(klen + bytes.length, klen)
  scratch.set(bytes, klen)
  return klen
}

const opened = new Map<string, Table<any>>()

/**
 * A named, process-wide table. `Table.open(name)` returns the same table in
 * every worker thread. The type parameter `V` is the value type callers
 * promise to store; it is not checked at run time beyond "is a term".
 */
export class Table<V extends TermValue<V> = Term> {
  /** The table's name (`'state'` for the default table). */
  readonly name: string
  readonly #id: number

  /** @internal Use {@link Table.open}. */
  private constructor(name: string) {
    this.name = name
    this.#id = native.tableOpen(name)
  }

  /** Opens (creating on first use) the table called `name`. */
  static open<V extends TermValue<V> = Term>(name: string): Table<V> {
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
    if (isNativeInt(value)) native.tableSetInt(this.#id, writeStr(key, 0), value, ttl)
    else {
      const bytes = encode(value)
      native.tableSet(this.#id, writeKeyValue(key, bytes), bytes.length, ttl)
    }
  }

  /** Stores `value` only if `key` is absent (ETS `insert_new`); returns whether it did. */
  setNew(key: string, value: V, opts?: SetOptions): boolean {
    checkKey(key)
    const ttl = ttlOf(opts)
    if (isNativeInt(value)) return native.tableSetNewInt(this.#id, writeStr(key, 0), value, ttl)
    const bytes = encode(value)
    return native.tableSetNew(this.#id, writeKeyValue(key, bytes), bytes.length, ttl)
  }

  /** A copy of the value under `key`, or `undefined` if it is absent or expired. */
  get<T extends V = V>(key: string): T | undefined {
    checkKey(key)
    const klen = writeStr(key, 0)
    let r = native.tableGet(this.#id, klen)
    // Too large for the buffer: grow it and read again (in a loop, in case
    // another thread grew the value again in between).
    while (r < -1) {
      grow(klen + (-r - 1), klen)
      r = native.tableGet(this.#id, klen)
    }
    return r < 0 ? undefined : (decode(scratch, klen, klen + r) as T)
  }

  /** Copies of the values of many keys in one native call. */
  getMany<T extends V = V>(keys: readonly string[]): Record<string, T | undefined> {
    if (!Array.isArray(keys)) throw new TypeError('keys must be an array of strings')
    for (let i = 0; i < keys.length; i++) checkKey(keys[i], `keys[${i}]`)
    let at = 0
    for (const key of keys) {
      if (at + 4 > scratch.length) grow(at + 4 + 1024, at)
      const len = writeStr(key, at + 4)
      view.setUint32(at, len, true)
      at += 4 + len
    }
    let r = native.tableGetMany(this.#id, keys.length, at)
    while (r < -1) {
      grow(at + (-r - 1), at)
      r = native.tableGetMany(this.#id, keys.length, at)
    }
    // One decode for the whole batch (a msgpack array; missing keys are ABSENT).
    const values = decode(scratch.subarray(at, at + r)) as unknown[]
    const out: Record<string, T | undefined> = {}
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      const value = values[i] === ABSENT ? undefined : (values[i] as T)
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
      else out[key] = value
    }
    return out
  }

  /** Removes `key`; returns whether it existed. */
  delete(key: string): boolean {
    checkKey(key)
    return native.tableDelete(this.#id, writeStr(key, 0))
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
    const r = native.tableIncr(this.#id, writeStr(key, 0), by)
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
    const plen = writeStr(prefix, 0)
    let r = native.tableKeys(this.#id, plen)
    while (r < -1) {
      grow(plen + (-r - 1), plen)
      r = native.tableKeys(this.#id, plen)
    }
    return decode(scratch.subarray(plen, plen + r)) as string[]
  }

  /** Gives `key` a TTL of `ttlMs` from now; returns whether the key exists. */
  expire(key: string, ttlMs: number): boolean {
    checkKey(key)
    const ttl = checkTtl(ttlMs, 'ttlMs')
    return native.tableExpire(this.#id, writeStr(key, 0), ttl)
  }

  /** Removes the TTL of `key`; returns whether the key exists. */
  persist(key: string): boolean {
    checkKey(key)
    return native.tableExpire(this.#id, writeStr(key, 0), 0)
  }

  /**
   * Milliseconds until `key` expires; `Infinity` if it has no TTL;
   * `undefined` if it is absent.
   */
  ttl(key: string): number | undefined {
    checkKey(key)
    const r = native.tableTtl(this.#id, writeStr(key, 0))
    return r < 0 ? undefined : r
  }

  /** The number of live keys. */
  size(): number {
    return native.tableSize(this.#id)
  }

  /**
   * An estimate of the native memory the entries hold, in bytes: a fixed
   * 104 bytes per entry (hash slot and ordered-index share) plus each
   * encoded value's and each long (over 24 bytes) key's allocations. Kept up
   * to date on every write, so reading it is O(1). Spare capacity of the
   * hash map and indexes is not counted; expired entries not yet freed are.
   */
  memory(): number {
    return native.tableMemory(this.#id)
  }

  /** Removes every key. */
  clear(): void {
    native.tableClear(this.#id)
  }
}

/** The default process-wide table. */
export const state: Table<Term> = Table.open<Term>('state')
