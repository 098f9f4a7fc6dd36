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

/** Marker for instances of classes registered with {@link defineTermClass}. */
export interface TermClassInstance {
  readonly [termClass]: true
}

/** The brand a registered term class puts on its prototype. */
export const termClass: unique symbol = Symbol('ironwood.termClass')

const registered = new Set<Function>()

/** MessagePack extension codes ironwood uses (0x40–0x4f are reserved for it). */
export const ExtType = { map: 0x40, pid: 0x41, ref: 0x42 } as const

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

function refuse(path: string, what: string): never {
  throw new TypeError(
    `${path} is ${what}, which is not a term (terms are null, booleans, numbers, bigints, strings, ` +
      'arrays, plain objects, Map, Set, Date, Uint8Array/Buffer, Pid, and nestings of these)',
  )
}

function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function checkObject(v: object, path: string, stack: object[]): boolean {
  if (stack.includes(v)) refuse(path, 'a reference back to one of its own ancestors (a cycle)')
  if (ArrayBuffer.isView(v)) {
    if (v instanceof Uint8Array) return false
    refuse(path, `${describe(v)} (use a Uint8Array view of its bytes)`)
  }
  if (v instanceof Date || registered.has(v.constructor)) return false
  let hasMap = false
  stack.push(v)
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) hasMap = checkTerm(v[i], `${path}[${i}]`, stack) || hasMap
  } else if (v instanceof Map) {
    hasMap = true
    let i = 0
    for (const [k, val] of v) {
      checkTerm(k, `${path}<Map key #${i}>`, stack)
      checkTerm(val, `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : `<key #${i}>`})`, stack)
      i++
    }
  } else if (v instanceof Set) {
    let i = 0
    for (const item of v) hasMap = checkTerm(item, `${path}<Set item #${i++}>`, stack) || hasMap
  } else {
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) refuse(path, describe(v))
    if (Object.getOwnPropertySymbols(v).length > 0) refuse(path, 'an object with symbol keys')
    for (const key in v) {
      if (key === '__proto__') refuse(keyPath(path, key), 'a "__proto__" key')
      hasMap = checkTerm((v as Record<string, unknown>)[key], keyPath(path, key), stack) || hasMap
    }
  }
  stack.pop()
  return hasMap
}

/** Validates `v`; returns whether it contains a Map (which needs {@link tagMaps}). */
function checkTerm(v: unknown, path: string, stack: object[]): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return false
    case 'object':
      return v !== null && checkObject(v, path, stack)
    default:
      refuse(path, describe(v))
  }
}

/**
 * Throws a `TypeError` naming the first part of `value` that is not a term.
 * `path` names the value in the message (e.g. `'value'` gives `value.a[2]`).
 */
export function assertTerm(value: unknown, path = 'value'): asserts value is Term {
  checkTerm(value, path, [])
}

/**
 * Encodes a term. Validates first, so nothing is written for a bad value.
 * The result may share memory with the encoder's buffer: copy it (or hand it
 * to a native call, which copies) before encoding again.
 */
export function encode(value: unknown, path = 'value'): Uint8Array {
  return packr.pack(checkTerm(value, path, []) ? tagMaps(value) : value)
}

/** Decodes one term from `bytes[start, end)`. */
export function decode(bytes: Uint8Array, start = 0, end = bytes.length): Term {
  return packr.unpack(bytes, { start, end }) as Term
}
