/**
 * The RPC envelopes, written and read by hand: `[id, module, fn, args]`
 * (RpcCall), `[id, ok, value?]` (RpcReply) and `[module, fn, args]`
 * (RpcCast). They stay plain msgpack, readable by any decoder; only their
 * fixed parts (the array header, the id, the names, the flag) skip msgpackr.
 * A small call spent about a third of its JavaScript time in msgpackr's
 * per-call setup for these few bytes. Anything a reader does not expect
 * makes it answer `false`, and the caller decodes the whole payload the
 * general way, so no valid encoding is refused here.
 * @internal
 * @module
 */
import { decode } from './terms.js'

/**
 * Writes one envelope into a reused buffer. Encoding an argument or a
 * result can run user code (a getter), which may make another RPC call:
 * that call gets a writer of its own ({@link writer}), so the envelope
 * being written is never overwritten halfway.
 */
export class Writer {
  bytes = new Uint8Array(256)
  length = 0
  busy = false
  #view = new DataView(this.bytes.buffer)

  #room(n: number): void {
    if (this.length + n <= this.bytes.length) return
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n))
    bigger.set(this.bytes.subarray(0, this.length))
    this.bytes = bigger
    this.#view = new DataView(bigger.buffer)
  }

  /** A non-negative safe integer (ids, and non-negative integer scalars): the shortest msgpack uint. */
  #uint(n: number): void {
    this.#room(9)
    const b = this.bytes
    if (n < 0x80) b[this.length++] = n
    else if (n < 0x100) {
      b[this.length++] = 0xcc
      b[this.length++] = n
    } else if (n < 0x10000) {
      b[this.length++] = 0xcd
      this.#view.setUint16(this.length, n)
      this.length += 2
    } else if (n < 0x1_0000_0000) {
      b[this.length++] = 0xce
      this.#view.setUint32(this.length, n)
      this.length += 4
    } else {
      b[this.length++] = 0xcf
      this.#view.setUint32(this.length, Math.floor(n / 0x1_0000_0000))
      this.#view.setUint32(this.length + 4, n >>> 0)
      this.length += 8
    }
  }

  #name(s: string): void {
    const b = nameBytesOf(s)
    this.#room(b.length)
    this.bytes.set(b, this.length)
    this.length += b.length
  }

  /** Starts `[id, module, fn, ` (then the args: {@link putScalars} or the caller's encoding). */
  beginCall(id: number, module: string, fn: string): void {
    this.length = 0
    this.bytes[this.length++] = 0x94
    this.#uint(id)
    this.#name(module)
    this.#name(fn)
  }

  /** Starts `[module, fn, ` (then the args). */
  beginCast(module: string, fn: string): void {
    this.length = 0
    this.bytes[this.length++] = 0x93
    this.#name(module)
    this.#name(fn)
  }

  /** Starts `[id, ok` and, when `hasValue`, `, ` (then the value). */
  beginReply(id: number, ok: boolean, hasValue: boolean): void {
    this.length = 0
    this.bytes[this.length++] = hasValue ? 0x93 : 0x92
    this.#uint(id)
    this.bytes[this.length++] = ok ? 0xc3 : 0xc2
  }

  /**
   * Appends `v` if it is a scalar written without msgpackr: null, a boolean,
   * a number, or a short ASCII string. Returns false (writing nothing) for
   * anything else: the caller encodes it the general way.
   */
  putScalar(v: unknown): boolean {
    this.#room(10)
    switch (typeof v) {
      case 'number':
        this.#number(v)
        return true
      case 'boolean':
        this.bytes[this.length++] = v ? 0xc3 : 0xc2
        return true
      case 'string':
        return this.#ascii(v)
      case 'object':
        if (v !== null) return false
        this.bytes[this.length++] = 0xc0
        return true
      default:
        return false
    }
  }

  /**
   * Appends `args` if it is a short plain array (not a subclass, which is
   * not a term) of {@link putScalar} values; else writes nothing and
   * returns false.
   */
  putScalars(args: readonly unknown[]): boolean {
    const n = args.length
    if (n > 15 || Object.getPrototypeOf(args) !== Array.prototype) return false
    const mark = this.length
    this.#room(1)
    this.bytes[this.length++] = 0x90 | n
    for (let i = 0; i < n; i++) {
      // A hole reads as undefined, which is not a scalar: the general way names it.
      if (!this.putScalar(args[i])) {
        this.length = mark
        return false
      }
    }
    return true
  }

  #number(v: number): void {
    const b = this.bytes
    if (Number.isInteger(v) && v >= -0x8000_0000 && v < 0x1_0000_0000 && !Object.is(v, -0)) {
      if (v >= 0) this.#uint(v)
      else if (v >= -32) b[this.length++] = v & 0xff
      else if (v >= -0x80) {
        b[this.length++] = 0xd0
        b[this.length++] = v & 0xff
      } else if (v >= -0x8000) {
        b[this.length++] = 0xd1
        this.#view.setInt16(this.length, v)
        this.length += 2
      } else {
        b[this.length++] = 0xd2
        this.#view.setInt32(this.length, v)
        this.length += 4
      }
      return
    }
    // Fractions, large integers, -0, NaN and the infinities: a float64.
    b[this.length++] = 0xcb
    this.#view.setFloat64(this.length, v)
    this.length += 8
  }

  #ascii(s: string): boolean {
    const n = s.length
    if (n > MAX_ASCII) return false
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return false
    this.#room(2 + n)
    const b = this.bytes
    if (n < 32) b[this.length++] = 0xa0 | n
    else {
      b[this.length++] = 0xd9
      b[this.length++] = n
    }
    for (let i = 0; i < n; i++) b[this.length++] = s.charCodeAt(i)
    return true
  }
}

/** Strings this short are checked and copied by hand (one pass); longer ones go to msgpackr. */
const MAX_ASCII = 64

const shared = new Writer()

/** The shared writer, or a new one while it is in use (a call made from inside an encoding); {@link release} it. */
export function writer(): Writer {
  const w = shared.busy ? new Writer() : shared
  w.busy = true
  return w
}

/** Gives a writer back once its envelope has been queued. */
export function release(w: Writer): void {
  w.busy = false
}

/** Encoded names (module and function names repeat: encoded once). Bounded: cleared when full. */
const nameBytes = new Map<string, Uint8Array>()
const encoder = new TextEncoder()

function nameBytesOf(s: string): Uint8Array {
  let b = nameBytes.get(s)
  if (b === undefined) {
    const utf8 = encoder.encode(s)
    const n = utf8.length
    const head = n < 32 ? [0xa0 | n] : n < 0x100 ? [0xd9, n] : n < 0x10000 ? [0xda, n >> 8, n & 0xff] : [0xdb, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
    b = new Uint8Array(head.length + n)
    b.set(head)
    b.set(utf8, head.length)
    if (nameBytes.size >= 1024) nameBytes.clear()
    nameBytes.set(s, b)
  }
  return b
}

// What the readers found: module-level rather than an object per frame.
/** The id of the envelope last read. */
export let readId = 0
/** The module of the envelope last read (calls and casts). */
export let readModule = ''
/** The function of the envelope last read (calls and casts). */
export let readFn = ''
/** The ok flag of the reply last read. */
export let readOk = false
/** Where the envelope's last element (args or value) starts; `end` when a reply has none. */
export let readAt = 0

let pos = 0

function getUint(b: Uint8Array, end: number): number {
  if (pos >= end) return -1
  const t = b[pos]!
  if (t < 0x80) {
    pos += 1
    return t
  }
  switch (t) {
    case 0xcc:
      pos += 2
      return pos <= end ? b[pos - 1]! : -1
    case 0xcd:
      pos += 3
      return pos <= end ? (b[pos - 2]! << 8) | b[pos - 1]! : -1
    case 0xce:
      pos += 5
      return pos <= end ? b[pos - 4]! * 0x100_0000 + ((b[pos - 3]! << 16) | (b[pos - 2]! << 8) | b[pos - 1]!) : -1
    case 0xcf: {
      pos += 9
      if (pos > end) return -1
      const hi = b[pos - 8]! * 0x100_0000 + ((b[pos - 7]! << 16) | (b[pos - 6]! << 8) | b[pos - 5]!)
      const lo = b[pos - 4]! * 0x100_0000 + ((b[pos - 3]! << 16) | (b[pos - 2]! << 8) | b[pos - 1]!)
      const n = hi * 0x1_0000_0000 + lo
      return Number.isSafeInteger(n) ? n : -1
    }
    default:
      return -1
  }
}

/** Names decoded lately, with their bytes: the same few names arrive again and again. */
const recent: { bytes: Uint8Array; name: string }[] = []
let nextSlot = 0
const RECENT = 16

/** A str at `pos`, or undefined (not a str, or cut short). */
function getName(b: Uint8Array, end: number): string | undefined {
  if (pos >= end) return undefined
  const t = b[pos]!
  let start: number
  let n: number
  if (t >= 0xa0 && t <= 0xbf) {
    n = t & 0x1f
    start = pos + 1
  } else if (t === 0xd9 && pos + 1 < end) {
    n = b[pos + 1]!
    start = pos + 2
  } else return undefined
  const stop = start + n
  if (stop > end) return undefined
  search: for (let i = 0; i < recent.length; i++) {
    const r = recent[i]!.bytes
    if (r.length !== n) continue
    for (let j = 0; j < n; j++) if (r[j] !== b[start + j]) continue search
    pos = stop
    return recent[i]!.name
  }
  const name = decode(b, pos, stop)
  if (typeof name !== 'string') return undefined
  const entry = { bytes: new Uint8Array(b.subarray(start, stop)), name }
  if (recent.length < RECENT) recent.push(entry)
  else {
    recent[nextSlot] = entry
    nextSlot = (nextSlot + 1) % RECENT
  }
  pos = stop
  return name
}

/**
 * Reads `[id, module, fn, ` of an RpcCall (`withId`) or `[module, fn, ` of
 * an RpcCast in `b[start, end)`; false if it is not in the expected form.
 */
export function readInvocation(b: Uint8Array, start: number, end: number, withId: boolean): boolean {
  if (start >= end || b[start] !== (withId ? 0x94 : 0x93)) return false
  pos = start + 1
  const id = withId ? getUint(b, end) : 0
  if (id < 0) return false
  const module = getName(b, end)
  if (module === undefined) return false
  const fn = getName(b, end)
  if (fn === undefined || pos >= end) return false
  readId = id
  readModule = module
  readFn = fn
  readAt = pos
  return true
}

/** Reads `[id, ok` of an RpcReply; `readAt` is where its value starts (`end` if it has none). False if not in the expected form. */
export function readReply(b: Uint8Array, start: number, end: number): boolean {
  if (start >= end) return false
  const t = b[start]
  if (t !== 0x92 && t !== 0x93) return false
  pos = start + 1
  const id = getUint(b, end)
  if (id < 0 || pos >= end) return false
  const flag = b[pos++]
  if (flag !== 0xc2 && flag !== 0xc3) return false
  if ((t === 0x93) !== (pos < end)) return false
  readId = id
  readOk = flag === 0xc3
  readAt = pos
  return true
}
