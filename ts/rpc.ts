/**
 * Remote procedure calls between cluster nodes. A node exposes modules with
 * `rpc.register`; other nodes `call` (awaiting the result), `cast` (fire and
 * forget) or `multicall` them. Arguments and results are terms, sent in the
 * one msgpack encoding (`ts/terms.ts`) in RpcCall / RpcReply / RpcCast frames.
 * A call to this node's own name runs locally with the same semantics.
 * @module
 */
import { checkName, checkTimeout } from './check.js'
import { addListener } from './cluster-events.js'
import { FrameKind, type SendResult, onFrame, sendFrameParts } from './cluster-frames.js'
import { type Timed, type TimerList, cancelTimeout, startTimeout } from './deadlines.js'
import { ConnectionError, NoFunctionError, RemoteError, TimeoutError } from './errors.js'
import { log } from './logger.js'
import * as envelope from './rpc-envelope.js'
import { callEnded, callStarted, counters } from './metrics-counters.js'
import { node as localNode } from './node.js'
import { type Term, type TermValue, assertTerm, decode, encode } from './terms.js'

/** What {@link rpc.call} and {@link rpc.multicall} take. */
export interface RpcOptions {
  /** Milliseconds to wait for the reply (default 5000; `Infinity`: until the node goes down). */
  timeout?: number | undefined
}

/** One node's outcome in {@link rpc.multicall}. */
export type MulticallResult = { node: string; ok: true; value: Term } | { node: string; ok: false; error: Error }

/** A registered module: an object whose own function properties are callable. */
export type RpcModule = object

/** What an error becomes on the wire. `code` is set only for errors of the RPC layer itself. */
interface WireError {
  name: string
  message: string
  stack?: string
  code?: string
}

const ENOFUNCTION = 'ENOFUNCTION'
const MAX_TIMER_MS = 2 ** 31 - 1
const modules = new Map<string, RpcModule>()

/** A call waiting for its reply; armed in the shared timer lists. */
class Pending implements Timed {
  tPrev: Timed | null = null
  tNext: Timed | null = null
  tAt = 0
  tList: TimerList | null = null
  /** When the call was sent, for the latency histogram (0 with metrics off). */
  readonly started = callStarted()
  constructor(
    readonly id: number,
    readonly node: string,
    readonly module: string,
    readonly fn: string,
    readonly timeout: number,
    readonly resolve: (value: Term) => void,
    readonly reject: (error: Error) => void,
  ) {}

  expire(): void {
    if (!forget(this)) return
    if (counters.on) counters.rpcErrors++
    this.reject(new TimeoutError(`${describe(this.node, this.module, this.fn)} timed out after ${this.timeout} ms`, this.timeout))
  }
}

/** Pending calls by node, then id: a nodedown rejects one node's calls without scanning the others. */
const pending = new Map<string, Map<number, Pending>>()
let pendingCount = 0
let nextId = 1

/** @internal How many calls are waiting for a reply (for tests of leaks). */
export function pendingCallCount(): number {
  return pendingCount
}

function forget(p: Pending): boolean {
  const byId = pending.get(p.node)
  if (byId === undefined || !byId.delete(p.id)) return false
  if (byId.size === 0) pending.delete(p.node)
  pendingCount--
  cancelTimeout(p)
  return true
}

function describe(node: string, module: string, fn: string): string {
  return `rpc.call(${node}, ${module}.${fn})`
}

/** Finds `module.fn`: own enumerable function properties only (never inherited names). */
function lookup(module: string, fn: string): { impl: RpcModule; f: (...args: Term[]) => unknown } | WireError {
  const impl = modules.get(module)
  if (impl === undefined) return { name: 'NoFunctionError', message: `no RPC module '${module}'`, code: ENOFUNCTION }
  const f = Object.hasOwn(impl, fn) && Object.prototype.propertyIsEnumerable.call(impl, fn) ? (impl as Record<string, unknown>)[fn] : undefined
  if (typeof f !== 'function') {
    return { name: 'NoFunctionError', message: `no function '${fn}' in RPC module '${module}'`, code: ENOFUNCTION }
  }
  return { impl, f: f as (...args: Term[]) => unknown }
}

function wireError(error: unknown): WireError {
  if (error instanceof Error) {
    const out: WireError = { name: String(error.name), message: String(error.message) }
    if (typeof error.stack === 'string') out.stack = error.stack
    return out
  }
  let text: string
  try {
    text = String(error)
  } catch {
    text = typeof error
  }
  return { name: 'Error', message: `a non-Error value was thrown: ${text}` }
}

type Outcome = { ok: true; value: Term } | { ok: false; error: WireError }

/**
 * Runs `module.fn(...args)` here and hands `done` the outcome: at once when
 * the function returns a plain value (no promise, no extra turn), or when its
 * promise settles. Never throws. The result is not validated here: the
 * encoding that carries it does that (see {@link encodeResult}).
 */
function run(module: string, fn: string, args: Term[], done: (out: Outcome) => void): void {
  const found = lookup(module, fn)
  if (!('f' in found)) return done({ ok: false, error: found })
  let value: unknown
  try {
    value = found.f.apply(found.impl, args)
  } catch (error) {
    return done({ ok: false, error: wireError(error) })
  }
  if (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function') {
    Promise.resolve(value).then(
      (v) => done({ ok: true, value: v as Term }),
      (error: unknown) => done({ ok: false, error: wireError(error) }),
    )
  } else done({ ok: true, value: value as Term })
}

/** A thrown encoding error, replaced by the one that names the offending path. */
function explain(error: unknown, value: unknown, path: string): unknown {
  try {
    assertTerm(value, path)
  } catch (named) {
    return named
  }
  return error
}

/** Turns a failed outcome into the error the caller sees. */
function callerError(error: WireError, node: string, module: string, fn: string): Error {
  if (error.code === ENOFUNCTION) return new NoFunctionError(`${error.message} on ${node}`, `${module}.${fn}`)
  return new RemoteError({ remoteName: error.name, remoteMessage: error.message, remoteStack: error.stack, node })
}

/** The shape of `args`; its contents are validated by the encoding that carries them. */
function checkArgs(args: unknown, what: string): Term[] {
  if (!Array.isArray(args)) throw new TypeError(`${what}: args must be an array of terms`)
  return args as Term[]
}

const NONE: Uint8Array = new Uint8Array(0)

/**
 * Completes the envelope begun in `w` with `args` and returns the part to
 * send after it: nothing when the args were short scalars written into the
 * envelope, else their encoding. A non-term argument throws a TypeError
 * naming `args[i]...`.
 */
function argsAfter(w: envelope.Writer, args: Term[]): Uint8Array {
  if (w.putScalars(args)) return NONE
  try {
    return encode(args)
  } catch (error) {
    throw explain(error, args, 'args')
  }
}

function checkNode(nodeName: unknown, what: string): string {
  if (typeof nodeName !== 'string' || nodeName.length === 0) {
    throw new TypeError(`${what}: expected a node name like 'a@127.0.0.1:4370'`)
  }
  return nodeName
}

function checkOptions(options: unknown, what: string): number {
  if (options === undefined) return 5000
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what}: options must be an object`)
  const { timeout } = options as RpcOptions
  return timeout === undefined ? 5000 : checkTimeout(timeout, `${what}: timeout`)
}

/** A copy of a term, as the remote side would see it (local calls keep the same semantics). */
function copy<T extends Term>(value: T, path: string): T {
  let bytes: Uint8Array
  try {
    bytes = encode(value)
  } catch (error) {
    throw explain(error, value, path)
  }
  return decode(bytes) as T
}

function callLocal(module: string, fn: string, args: Term[], timeout: number): Promise<Term> {
  const self = localNode()
  const what = describe(self, module, fn)
  return new Promise<Term>((resolve, reject) => {
    let done = false
    const timer =
      timeout < MAX_TIMER_MS
        ? setTimeout(() => {
            done = true
            reject(new TimeoutError(`${what} timed out after ${timeout} ms`, timeout))
          }, timeout)
        : undefined
    let copied: Term[]
    try {
      copied = copy(args, 'args')
    } catch (error) {
      clearTimeout(timer)
      reject(error)
      return
    }
    run(module, fn, copied, (out) => {
      if (done) return
      clearTimeout(timer)
      if (out.ok) {
        try {
          resolve(out.value === undefined ? (undefined as unknown as Term) : copy(out.value, `the result of ${module}.${fn}`))
        } catch (error) {
          reject(callerError(wireError(error), self, module, fn))
        }
      } else reject(callerError(out.error, self, module, fn))
    })
  })
}

function callRemote(nodeName: string, module: string, fn: string, args: Term[], timeout: number): Promise<Term> {
  const id = nextId
  nextId = nextId >= Number.MAX_SAFE_INTEGER ? 1 : nextId + 1
  if (counters.on) counters.rpcCalls++
  const w = envelope.writer()
  let result: SendResult
  try {
    w.beginCall(id, module, fn)
    const tail = argsAfter(w, args)
    result = sendFrameParts(nodeName, FrameKind.RpcCall, w.bytes, tail, laneOf(module), w.length)
  } catch (error) {
    return Promise.reject(error)
  } finally {
    envelope.release(w)
  }
  if (result !== 'ok') {
    const what = describe(nodeName, module, fn)
    if (result === 'toolarge') return Promise.reject(new RangeError(`${what}: the arguments are larger than a frame may be`))
    if (result === 'backpressure') {
      return Promise.reject(new ConnectionError(`${what}: node ${nodeName} is not reading fast enough (its send queue is full)`, nodeName))
    }
    return Promise.reject(new ConnectionError(`${what}: node ${nodeName} is not connected`, nodeName))
  }
  return new Promise<Term>((resolve, reject) => {
    const p = new Pending(id, nodeName, module, fn, timeout, resolve, reject)
    let byId = pending.get(nodeName)
    if (byId === undefined) pending.set(nodeName, (byId = new Map()))
    byId.set(id, p)
    pendingCount++
    if (timeout < MAX_TIMER_MS) startTimeout(p, timeout)
  })
}

// Not `async`: an async wrapper around the returned promise would cost two
// more promise turns per call. Argument errors still come back as rejections.
// `T`: the result type the caller expects (not checked at run time), as in GenServer.call<R>.
function call<T extends TermValue<T> = Term>(nodeName: string, module: string, fn: string, args: Term[] = [], options?: RpcOptions): Promise<T> {
  let list: Term[]
  let timeout: number
  try {
    checkNode(nodeName, 'rpc.call')
    checkName(module, 'rpc.call: module')
    checkName(fn, 'rpc.call: fn')
    list = checkArgs(args, 'rpc.call')
    timeout = checkOptions(options, 'rpc.call')
  } catch (error) {
    return Promise.reject(error)
  }
  if (nodeName === localNode()) {
    if (counters.on) counters.rpcCalls++
    return callLocal(module, fn, list, timeout) as Promise<T>
  }
  return callRemote(nodeName, module, fn, list, timeout) as Promise<T>
}

function cast(nodeName: string, module: string, fn: string, args: Term[] = []): void {
  checkNode(nodeName, 'rpc.cast')
  checkName(module, 'rpc.cast: module')
  checkName(fn, 'rpc.cast: fn')
  const list = checkArgs(args, 'rpc.cast')
  if (nodeName === localNode()) {
    const copied = copy(list, 'args')
    setImmediate(() => run(module, fn, copied, (out) => logCastFailure(out, localNode(), module, fn)))
    return
  }
  const w = envelope.writer()
  let result: SendResult
  try {
    w.beginCast(module, fn)
    result = sendFrameParts(nodeName, FrameKind.RpcCast, w.bytes, argsAfter(w, list), laneOf(module), w.length)
  } finally {
    envelope.release(w)
  }
  if (result === 'toolarge') throw new RangeError(`rpc.cast(${nodeName}, ${module}.${fn}): the arguments are larger than a frame may be`)
  // Not connected: a cast is fire-and-forget, like sending to a dead process.
}

async function multicall(nodeNames: string[], module: string, fn: string, args: Term[] = [], options?: RpcOptions): Promise<MulticallResult[]> {
  if (!Array.isArray(nodeNames)) throw new TypeError('rpc.multicall: nodes must be an array of node names')
  for (const n of nodeNames) checkNode(n, 'rpc.multicall')
  checkName(module, 'rpc.multicall: module')
  checkName(fn, 'rpc.multicall: fn')
  const list = checkArgs(args, 'rpc.multicall')
  assertTerm(list, 'args') // once, rather than one rejection per node
  const timeout = checkOptions(options, 'rpc.multicall')
  return Promise.all(
    nodeNames.map((n) =>
      (n === localNode() ? callLocal(module, fn, list, timeout) : callRemote(n, module, fn, list, timeout)).then(
        (value): MulticallResult => ({ node: n, ok: true, value }),
        (error: Error): MulticallResult => ({ node: n, ok: false, error }),
      ),
    ),
  )
}

function logCastFailure(out: Outcome, from: string, module: string, fn: string): void {
  if (out.ok) {
    // The result of a cast is dropped, but a non-term one is still a bug worth
    // a line (nothing at all, undefined, is fine).
    if (out.value === undefined) return
    try {
      assertTerm(out.value, `the result of ${module}.${fn}`)
    } catch (error) {
      log({ level: 'warn', message: `rpc.cast ${module}.${fn} from ${from} failed: ${String(error)}` })
    }
  } else log({ level: 'warn', message: `rpc.cast ${module}.${fn} from ${from} failed: ${out.error.name}: ${out.error.message}` })
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map)
}

function malformed(kind: string, from: string, detail: unknown): void {
  log({ level: 'warn', message: `rpc: dropped a malformed ${kind} from ${from}: ${String(detail)}` })
}

function decodeFrame(kind: string, from: string, bytes: Uint8Array, start: number, end: number): unknown[] | undefined {
  let msg: unknown
  try {
    msg = decode(bytes, start, end)
  } catch (error) {
    malformed(kind, from, error)
    return undefined
  }
  if (!Array.isArray(msg)) {
    malformed(kind, from, 'not an array')
    return undefined
  }
  return msg
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v)
}

/**
 * The lane of a module's calls, casts and replies: calls and casts to one
 * module arrive in the order made, and a large call or reply to one module
 * does not hold up the others.
 */
function laneOf(module: string): number {
  let h = 0
  for (let i = 0; i < module.length; i++) h = (h * 31 + module.charCodeAt(i)) | 0
  return h >>> 0
}

function reply(to: string, id: number, out: Outcome, module: string, fn: string): void {
  const lane = laneOf(module)
  const w = envelope.writer()
  try {
    let tail: Uint8Array = NONE
    try {
      if (out.ok) {
        // A function that returns nothing (undefined) answers with no value.
        w.beginReply(id, true, out.value !== undefined)
        if (out.value !== undefined && !w.putScalar(out.value)) tail = encode(out.value)
      } else {
        w.beginReply(id, false, true)
        tail = encode(out.error)
      }
    } catch (error) {
      // A result that is not a term: the caller gets the TypeError naming it.
      w.beginReply(id, false, true)
      tail = encode(wireError(explain(error, out.ok ? out.value : undefined, `the result of ${module}.${fn}`)))
    }
    const sent = sendFrameParts(to, FrameKind.RpcReply, w.bytes, tail, lane, w.length)
    if (sent === 'toolarge') {
      w.beginReply(id, false, true)
      sendFrameParts(to, FrameKind.RpcReply, w.bytes, encode({ name: 'RangeError', message: 'the result is larger than a frame may be' }), lane, w.length)
    }
    // 'notconnected': the caller saw the node go down and has already given up.
  } finally {
    envelope.release(w)
  }
}

/** The envelope's last element (args or value), decoded in place; undefined (logged) if malformed. */
function lastElement(kind: string, from: string, bytes: Uint8Array, end: number): { value: unknown } | undefined {
  try {
    return { value: decode(bytes, envelope.readAt, end) }
  } catch (error) {
    malformed(kind, from, error)
    return undefined
  }
}

/** What an RpcCall or RpcCast asks for (`id` is 0 for a cast). */
interface Invocation {
  id: number
  module: string
  fn: string
  args: Term[]
}

/**
 * The parts of an RpcCall (`[id, module, fn, args]`) or RpcCast (`[module,
 * fn, args]`): read by the envelope's reader, else decoded whole;
 * undefined (logged) if malformed.
 */
function invocation(kind: 'RpcCall' | 'RpcCast', from: string, bytes: Uint8Array, start: number, end: number): Invocation | undefined {
  const isCall = kind === 'RpcCall'
  let id: unknown = 0
  let module: unknown, fn: unknown, args: unknown
  if (envelope.readInvocation(bytes, start, end, isCall)) {
    id = envelope.readId
    module = envelope.readModule
    fn = envelope.readFn
    const last = lastElement(kind, from, bytes, end)
    if (last === undefined) return undefined
    args = last.value
  } else {
    const msg = decodeFrame(kind, from, bytes, start, end)
    if (msg === undefined) return undefined
    if (isCall) [id, module, fn, args] = msg
    else [module, fn, args] = msg
  }
  if (!isId(id) || typeof module !== 'string' || typeof fn !== 'string' || !Array.isArray(args)) {
    malformed(kind, from, isCall ? 'expected [id, module, fn, args]' : 'expected [module, fn, args]')
    return undefined
  }
  return { id, module, fn, args: args as Term[] }
}

onFrame(FrameKind.RpcCall, (from, bytes, start, end) => {
  const c = invocation('RpcCall', from, bytes, start, end)
  if (c === undefined) return
  if (counters.on) counters.rpcServed++
  run(c.module, c.fn, c.args, (out) => reply(from, c.id, out, c.module, c.fn))
})

onFrame(FrameKind.RpcCast, (from, bytes, start, end) => {
  const c = invocation('RpcCast', from, bytes, start, end)
  if (c === undefined) return
  if (counters.on) counters.rpcCasts++
  run(c.module, c.fn, c.args, (out) => logCastFailure(out, from, c.module, c.fn))
})

onFrame(FrameKind.RpcReply, (from, bytes, start, end) => {
  let id: unknown, ok: unknown, value: unknown
  if (envelope.readReply(bytes, start, end)) {
    id = envelope.readId
    ok = envelope.readOk
    if (envelope.readAt < end) {
      const last = lastElement('RpcReply', from, bytes, end)
      if (last === undefined) return
      value = last.value
    }
  } else {
    const msg = decodeFrame('RpcReply', from, bytes, start, end)
    if (msg === undefined) return
    ;[id, ok, value] = msg
  }
  if (!isId(id) || typeof ok !== 'boolean') {
    malformed('RpcReply', from, 'expected [id, ok, value | error]')
    return
  }
  const p = pending.get(from)?.get(id)
  if (p === undefined) return // timed out already (or never ours): dropped
  forget(p)
  callEnded(p.started, ok)
  if (ok) {
    p.resolve(value as Term)
    return
  }
  const e = value
  const error: WireError =
    isRecord(e) && typeof e.name === 'string' && typeof e.message === 'string'
      ? {
          name: e.name,
          message: e.message,
          ...(typeof e.stack === 'string' && { stack: e.stack }),
          ...(typeof e.code === 'string' && { code: e.code }),
        }
      : { name: 'Error', message: 'the remote node sent a malformed error' }
  p.reject(callerError(error, from, p.module, p.fn))
})

addListener('nodedown', (nodeName, info) => {
  const byId = pending.get(nodeName)
  if (byId === undefined) return
  pending.delete(nodeName)
  for (const p of byId.values()) {
    if (counters.on) counters.rpcErrors++
    pendingCount--
    cancelTimeout(p)
    p.reject(new ConnectionError(`${describe(p.node, p.module, p.fn)}: node ${nodeName} went down (${info.reason ?? 'unknown'})`, nodeName))
  }
})

/** Remote procedure calls. Only functions exposed with `rpc.register` can be called from other nodes. */
export const rpc = {
  /**
   * Exposes `impl` as `module`: its own enumerable function properties become
   * callable (`this` is `impl`); inherited names such as `toString` never are.
   * Registering a module again replaces it.
   */
  register(module: string, impl: RpcModule): void {
    checkName(module, 'rpc.register: module')
    if ((typeof impl !== 'object' && typeof impl !== 'function') || impl === null) {
      throw new TypeError('rpc.register: impl must be an object of functions')
    }
    modules.set(module, impl)
  },
  /** Removes a module; whether it was registered. */
  unregister(module: string): boolean {
    checkName(module, 'rpc.unregister: module')
    return modules.delete(module)
  },
  /**
   * Calls `module.fn(...args)` on `node` and resolves with its result.
   * Rejects with TimeoutError (no reply in time; a late reply is dropped),
   * ConnectionError (not connected, or the node went down during the call),
   * RemoteError (the function threw) or NoFunctionError (no such module or
   * function); TypeError/RangeError for bad arguments.
   */
  call,
  /** Runs `module.fn(...args)` on `node` without waiting; remote failures are logged there, never thrown here. */
  cast,
  /** Calls every node at once; one `{ node, ok, value | error }` per node, in the order given. */
  multicall,
}
