/**
 * Terms: the values that may cross a table, a mailbox of another node, RPC or
 * pub/sub. One encoding (MessagePack via msgpackr) for all of them, so bytes
 * written by the table or one node are read the same way everywhere.
 *
 * A term is `null`, a boolean, number, bigint or string, an array, a plain
 * object, a `Map`, `Set`, `Date`, `Uint8Array`/`Buffer`, a registered term
 * class (such as `Pid`), or a nesting of these. Anything else is refused with
 * a `TypeError` naming the offending path — before anything is written.
 * @module
 */
import { Packr, addExtension } from 'msgpackr'

/** A value that ironwood can store or send. */
export type Term =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | TermClassInstance
  | readonly Term[]
  | ReadonlyMap<Term, Term>
  | ReadonlySet<Term>
  | { readonly [key: string]: Term }

/**
 * `T` checked part by part against {@link Term}. Unlike `Term`, an object type
 * needs no index signature, so value types declared as interfaces pass
 * (TypeScript gives interfaces no implicit index signature). Functions,
 * symbols, `undefined` and class instances with methods become `never`.
 */
export type AsTerm<T> = T extends Term
  ? T
  : T extends (...args: never[]) => unknown
    ? never
    : T extends readonly (infer E)[]
      ? readonly AsTerm<E>[]
      : T extends ReadonlyMap<infer K, infer W>
        ? ReadonlyMap<AsTerm<K>, AsTerm<W>>
        : T extends ReadonlySet<infer E>
          ? ReadonlySet<AsTerm<E>>
          : T extends object
            ? { readonly [K in keyof T]: AsTerm<T[K]> }
            : never

/**
 * The constraint of a value type parameter such as `V` in `Table.open<V>`:
 * a {@link Term}, or an object type (an interface too) whose every property
 * is a term, checked with {@link AsTerm}. A mapped type rather than `AsTerm<V>`
 * itself, which TypeScript would reject as a circular constraint; the price is
 * that a bare function type passes here (it is still refused at run time).
 */
export type TermValue<V> = Term | ({ readonly [K in keyof V]: AsTerm<V[K]> } & object)

/** Marker for instances of classes registered with {@link defineTermClass}. */
export interface TermClassInstance {
  readonly [termClass]: true
}

/** The brand a registered term class puts on its prototype. */
export const termClass: unique symbol = Symbol('ironwood.termClass')

const registered = new Set<Function>()

/**
 * MessagePack extension codes ironwood uses: 0x10–0x1f are reserved for it
 * (msgpackr's own extensions use ASCII letters, e.g. 0x42 for big bigints).
 */
export const ExtType = { map: 0x10, pid: 0x11, ref: 0x12, absent: 0x1f } as const

/**
 * Registers a class whose instances are terms, with its MessagePack extension.
 * Used by ironwood's own value types (e.g. `Pid`).
 * @internal
 */
export function defineTermClass<T extends object>(spec: {
  Class: abstract new (...args: never[]) => T
  type: number
  write: (value: T) => Term
  read: (data: any) => T
}): void {
  registered.add(spec.Class)
  Object.defineProperty(spec.Class.prototype, termClass, { value: true })
  addExtension({ Class: spec.Class as any, type: spec.type, write: spec.write, read: spec.read })
}

// msgpackr writes a Map as a plain msgpack map, which decodes as an object
// (Map keys would turn into strings). So Maps are swapped, only when a value
// contains one, for this wrapper, which has an extension of its own.
class EncodedMap {
  constructor(readonly flat: unknown[]) {}
}
addExtension({
  Class: EncodedMap,
  type: ExtType.map,
  write: (m: EncodedMap) => m.flat,
  read: (flat: unknown[]) => {
    const m = new Map()
    for (let i = 0; i < flat.length; i += 2) m.set(flat[i], flat[i + 1])
    return m
  },
})

/**
 * What the native batch read (`getMany`) writes for a missing key, where nil
 * would be a stored `null`. Never a term: only ironwood's own code sees it.
 * @internal
 */
export const ABSENT: object = Object.freeze({ absent: true })
addExtension({ type: ExtType.absent, read: () => ABSENT } as any)

/** A copy of `v` with every Map replaced by an {@link EncodedMap}. */
function tagMaps(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof Date) return v
  if (registered.has(v.constructor)) return v
  if (Array.isArray(v)) return v.map(tagMaps)
  if (v instanceof Map) {
    const flat: unknown[] = []
    for (const [k, val] of v) flat.push(tagMaps(k), tagMaps(val))
    return new EncodedMap(flat)
  }
  if (v instanceof Set) return new Set([...v].map(tagMaps))
  const out: Record<string, unknown> = {}
  for (const key in v) out[key] = tagMaps((v as Record<string, unknown>)[key])
  return out
}

const packr = new Packr({
  useRecords: false, // plain msgpack maps: readable by any msgpack decoder
  moreTypes: true, // Set (Map is ours, above)
  mapsAsObjects: true,
  useBigIntExtension: true, // bigints wider than 64 bits round-trip
  int64AsType: 'bigint', // int64 only ever comes from a bigint
  copyBuffers: true, // decoded bytes must not alias a reused read buffer
})

function describe(v: unknown): string {
  if (v === undefined) return 'undefined'
  if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}`
  if (typeof v === 'symbol') return `a symbol (${String(v.description)})`
  const ctor = (v as object).constructor
  return `an instance of ${typeof ctor === 'function' && ctor.name ? ctor.name : 'an unknown class'}`
}

/**
 * One step of the path to the value being checked. Kept as data and turned
 * into text only when something is refused, so a valid value costs no strings.
 */
type Step = string | number | { mapKey: number } | { mapValue: unknown; index: number } | { setItem: number }

function pathText(root: string, steps: readonly Step[]): string {
  let out = root
  for (const step of steps) {
    if (typeof step === 'number') out += `[${step}]`
    else if (typeof step === 'string') {
      out += /^[A-Za-z_$][\w$]*$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`
    } else if ('mapKey' in step) out += `<Map key #${step.mapKey}>`
    else if ('setItem' in step) out += `<Set item #${step.setItem}>`
    else out += `.get(${typeof step.mapValue === 'string' ? JSON.stringify(step.mapValue) : `<key #${step.index}>`})`
  }
  return out
}

/** The state of one validation walk. */
class Walk {
  readonly steps: Step[] = []
  readonly ancestors: object[] = []
  root = 'value'
  busy = false

  refuse(what: string): never {
    throw new TypeError(
      `${pathText(this.root, this.steps)} is ${what}, which is not a term (terms are null, booleans, numbers, ` +
        'bigints, strings, arrays, plain objects, Map, Set, Date, Uint8Array/Buffer, Pid, and nestings of these)',
    )
  }

  /** Validates `v`; returns whether it contains a Map (which needs {@link tagMaps}). */
  term(v: unknown): boolean {
    switch (typeof v) {
      case 'string':
      case 'number':
      case 'boolean':
      case 'bigint':
        return false
      case 'object':
        return v !== null && this.object(v)
      default:
        return this.refuse(describe(v))
    }
  }

  child(step: Step, v: unknown): boolean {
    this.steps.push(step)
    const hasMap = this.term(v)
    this.steps.pop()
    return hasMap
  }

  object(v: object): boolean {
    if (ArrayBuffer.isView(v)) {
      if (v instanceof Uint8Array) return false
      this.refuse(`${describe(v)} (use a Uint8Array view of its bytes)`)
    }
    if (registered.has(v.constructor)) return false
    const proto = Object.getPrototypeOf(v)
    if (proto === Date.prototype) return false
    if (this.ancestors.includes(v)) this.refuse('a reference back to one of its own ancestors (a cycle)')
    let hasMap = false
    this.ancestors.push(v)
    if (proto === Array.prototype) {
      for (let i = 0; i < (v as unknown[]).length; i++) hasMap = this.child(i, (v as unknown[])[i]) || hasMap
    } else if (proto === Map.prototype) {
      hasMap = true
      let i = 0
      for (const [k, val] of v as Map<unknown, unknown>) {
        this.child({ mapKey: i }, k)
        this.child({ mapValue: k, index: i }, val)
        i++
      }
    } else if (proto === Set.prototype) {
      let i = 0
      for (const item of v as Set<unknown>) hasMap = this.child({ setItem: i++ }, item) || hasMap
    } else {
      // Subclasses of Array, Map, Set or Date land here too: they have behaviour.
      if (proto !== Object.prototype && proto !== null) this.refuse(describe(v))
      if (Object.getOwnPropertySymbols(v).length > 0) this.refuse('an object with symbol keys')
      for (const key in v) {
        if (key === '__proto__') {
          this.steps.push(key)
          this.refuse('a "__proto__" key')
        }
        hasMap = this.child(key, (v as Record<string, unknown>)[key]) || hasMap
      }
    }
    this.ancestors.pop()
    return hasMap
  }
}

// One walk reused by every check on this thread (validation never awaits);
// a nested check (a Map subclass's iterator calling back in) gets its own.
const shared = new Walk()

/** Validates `value`; returns whether it contains a Map. */
function check(value: unknown, path: string): boolean {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol' || value === undefined) {
      const w = new Walk()
      w.root = path
      return w.term(value)
    }
    return false // primitives need no walk
  }
  const w = shared.busy ? new Walk() : shared
  w.busy = true
  w.root = path
  // Empty unless a refusal threw mid-walk; writing `length` is a slow runtime call.
  if (w.steps.length !== 0) w.steps.length = 0
  if (w.ancestors.length !== 0) w.ancestors.length = 0
  try {
    return w.object(value)
  } finally {
    w.busy = false
  }
}

/**
 * Throws a `TypeError` naming the first part of `value` that is not a term.
 * `path` names the value in the message (e.g. `'value'` gives `value.a[2]`).
 */
export function assertTerm(value: unknown, path = 'value'): asserts value is Term {
  check(value, path)
}

/**
 * Encodes a term. Validates first, so nothing is written for a bad value.
 * The result may share memory with the encoder's buffer: copy it (or hand it
 * to a native call, which copies) before encoding again.
 */
export function encode(value: unknown, path = 'value'): Uint8Array {
  return packr.pack(check(value, path) ? tagMaps(value) : value)
}

/** Decodes one term from `bytes[start, end)`. */
export function decode(bytes: Uint8Array, start = 0, end = bytes.length): Term {
  // Numbers, booleans and nil are decoded here: counters are the commonest
  // values and this is several times cheaper than a full unpack.
  const b = bytes[start]!
  if (b < 0x80) return b
  if (b >= 0xe0) return b - 0x100
  switch (b) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xcc:
      return bytes[start + 1]!
    case 0xcd:
      return (bytes[start + 1]! << 8) | bytes[start + 2]!
    case 0xce:
      return ((bytes[start + 1]! << 24) >>> 0) + ((bytes[start + 2]! << 16) | (bytes[start + 3]! << 8) | bytes[start + 4]!)
    case 0xd0:
      return (bytes[start + 1]! << 24) >> 24
    case 0xd1:
      return (((bytes[start + 1]! << 8) | bytes[start + 2]!) << 16) >> 16
    case 0xd2:
      return (bytes[start + 1]! << 24) | (bytes[start + 2]! << 16) | (bytes[start + 3]! << 8) | bytes[start + 4]!
    case 0xcb:
      return new DataView(bytes.buffer, bytes.byteOffset + start, 9).getFloat64(1)
  }
  return packr.unpack(bytes, { start, end }) as Term
}
