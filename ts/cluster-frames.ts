/**
 * Application frames between nodes: the cluster's `'frame'` events are
 * routed here by kind, and {@link sendFrame} queues a frame to a peer.
 * RPC uses it; remote messaging and pub/sub register their own kinds.
 * @internal
 * @module
 */
import { log } from './logger.js'
import { counters } from './metrics-counters.js'

/** The application frame kinds (see docs/wire.md; transport kinds are never seen here). */
export const FrameKind = {
  Send: 0x10,
  Link: 0x20,
  Unlink: 0x21,
  Exit: 0x22,
  Monitor: 0x23,
  Demonitor: 0x24,
  Down: 0x25,
  RpcCall: 0x30,
  RpcReply: 0x31,
  RpcCast: 0x32,
  PubSub: 0x40,
  HubHello: 0x50,
  HubLeave: 0x51,
  HubStart: 0x52,
  HubStartReply: 0x53,
  HubStop: 0x54,
  HubStopReply: 0x55,
  HubUpdate: 0x56,
  HubSync: 0x57,
  HubMigrate: 0x58,
} as const

/**
 * A frame handler: the sending node's full name and the frame's payload,
 * `bytes[start, end)`. `bytes` is the whole delivery (many frames): decode
 * in place (`decode(bytes, start, end)`) rather than slicing, so a burst
 * of small frames costs no view object per frame; `bytes.subarray(start,
 * end)` when a handler needs the payload on its own.
 */
export type FrameHandler = (from: string, bytes: Uint8Array, start: number, end: number) => void

/** What {@link sendFrame} reports: queued, or why not. */
export type SendResult = 'ok' | 'notconnected' | 'toolarge' | 'stopped' | 'backpressure'

/** The part of the native handle this file needs (crates/napi/src/cluster.rs). */
export interface FrameSender {
  nodeId(node: string): number
  queuedBytes(id: number): number
  limits(): number[]
  sendBatch(batch: Uint8Array): number[]
  nodeName(id: number): string | null
  /** Transport figures per connected peer (for metrics); absent from an addon built before it existed. */
  peerStats?(): NativePeerStat[]
}

/** One peer's transport figures as the native handle reports them. */
export interface NativePeerStat {
  node: string
  rttMicros: number
  bytesSent: number
  bytesReceived: number
  lostPackets: number
  queuedBytes: number
  dialer: boolean
}

/** @internal The running node's per-peer transport figures (empty when not running; `undefined` from an older addon). */
export function peerStats(): NativePeerStat[] | undefined {
  if (sender === undefined) return []
  return typeof sender.peerStats === 'function' ? sender.peerStats() : undefined
}

const handlers = new Map<number, FrameHandler>()
let sender: FrameSender | undefined

// Outgoing frames wait here until the end of the current JS turn (a
// microtask) and then cross into Rust in one call: a burst of sends or
// replies costs one native call and one wake-up per peer lane, not one per
// frame. Each entry is [node id u32 LE][lane u32 LE][kind u8][len u32 LE][payload].
const HEADER = 13
/** A batch this large is handed over at once rather than at the end of the turn. */
const FLUSH_AT = 256 * 1024
let out = new Uint8Array(64 * 1024)
let outView = new DataView(out.buffer)
let outLen = 0
let flushQueued = false
let outFrames = 0
/**
 * ...and so are the first 32 frames of a turn, then the next 64, 128, ...:
 * the peer starts on the first ones while this turn encodes the rest, which
 * keeps both sides busy at once (64 calls in flight: ~75k/s with one batch
 * per turn, ~90k/s this way), while a long burst of one-way sends still
 * crosses in a few large batches.
 */
const FIRST_FLUSH_FRAMES = 32
let flushFrames = FIRST_FLUSH_FRAMES
/** Node name -> native id, for connected nodes (learnt from nodeup or asked for). */
const ids = new Map<string, number>()
/** Native id -> name, for incoming frames. */
const names: string[] = []
/** Per node id: bytes Rust had queued at the last report, and bytes waiting in `out`. */
let queued = new Float64Array(16)
let pending = new Float64Array(16)
let maxPayload = 0
let maxQueued = 0

/** Sets the handler for one frame kind (one per kind; a later call replaces it). */
export function onFrame(kind: number, handler: FrameHandler): void {
  handlers.set(kind, handler)
}

/** Removes the handler of a kind; whether there was one. */
export function offFrame(kind: number): boolean {
  return handlers.delete(kind)
}

function grow(id: number): void {
  let n = queued.length
  while (n <= id) n *= 2
  const q = new Float64Array(n)
  q.set(queued)
  queued = q
  const p = new Float64Array(n)
  p.set(pending)
  pending = p
}

function idOf(s: FrameSender, node: string): number {
  const known = ids.get(node)
  if (known !== undefined) return known
  // Not seen connected yet (e.g. `connect` settled before its nodeup event
  // arrived): ask the transport, which knows.
  const id = s.nodeId(node)
  if (id >= 0) {
    ids.set(node, id)
    names[id] = node
    if (id >= queued.length) grow(id)
  }
  return id
}

/**
 * Queues one frame to `node` on `lane` (a non-negative integer; frames on one
 * lane arrive in order, different lanes do not wait for each other). Never
 * blocks and never throws for a peer problem: `'notconnected'` (no such
 * connected node), `'toolarge'` (over the frame limit), `'stopped'` (the
 * cluster is not running), `'backpressure'` (the peer's send queue is full:
 * it is not reading as fast as we write). A frame accepted with `'ok'` is
 * handed to the transport at the end of the current turn; it is lost only
 * if its node goes down (and then `nodedown` follows).
 */
export function sendFrame(node: string, kind: number, payload: Uint8Array, lane = 0): SendResult {
  return queueFrame(node, kind, undefined, 0, payload, lane)
}

/**
 * {@link sendFrame} for a payload in two parts, `head` (its first `headLen`
 * bytes) then `tail`, copied into the batch one after the other: a sender
 * that sends many frames starting with the same bytes (a remote `send` to
 * one pid) encodes them once, and one that writes a short envelope into a
 * reused buffer (RPC) needs no view of it.
 */
export function sendFrameParts(node: string, kind: number, head: Uint8Array, tail: Uint8Array, lane = 0, headLen = head.length): SendResult {
  return queueFrame(node, kind, head, headLen, tail, lane)
}

function queueFrame(node: string, kind: number, head: Uint8Array | undefined, headLen: number, payload: Uint8Array, lane: number): SendResult {
  const s = sender
  if (s === undefined) return 'stopped'
  const id = idOf(s, node)
  if (id < 0) return 'notconnected'
  const len = payload.length + headLen
  if (len > maxPayload) return 'toolarge'
  if (queued[id] + pending[id] + len > maxQueued) {
    // Our view of the queue is from the last batch; the writers have been
    // draining since. Hand over what waits and look again before refusing.
    flush()
    queued[id] = s.queuedBytes(id)
    if (queued[id] + len > maxQueued) return 'backpressure'
  }
  if (outLen + HEADER + len > out.length) {
    if (outLen > 0) flush()
    if (HEADER + len > out.length) {
      out = new Uint8Array(Math.max(HEADER + len, out.length * 2))
      outView = new DataView(out.buffer)
    }
  }
  outView.setUint32(outLen, id, true)
  outView.setUint32(outLen + 4, lane >>> 0, true)
  out[outLen + 8] = kind
  outView.setUint32(outLen + 9, len, true)
  let o = outLen + HEADER
  if (head !== undefined) {
    // Heads are short (an envelope, a target): a loop beats a view and a copy call.
    if (headLen <= 64) for (let i = 0; i < headLen; i++) out[o + i] = head[i]!
    else out.set(head.subarray(0, headLen), o)
    o += headLen
  }
  if (payload.length > 0) out.set(payload, o)
  outLen += HEADER + len
  pending[id] += len
  if (counters.on) {
    counters.framesOut++
    counters.frameBytesOut += len
  }
  if (!flushQueued) {
    flushQueued = true
    queueMicrotask(endOfTurn)
  }
  if (outLen >= FLUSH_AT) flush()
  else if (++outFrames >= flushFrames) {
    flushFrames *= 2
    flush()
  }
  return 'ok'
}

function endOfTurn(): void {
  flushQueued = false
  flushFrames = FIRST_FLUSH_FRAMES
  flush()
}

/** Hands the waiting frames to the transport (normally at the end of the turn). */
export function flush(): void {
  outFrames = 0
  if (outLen === 0) return
  const batch = out.subarray(0, outLen)
  outLen = 0
  pending.fill(0)
  const s = sender
  if (s === undefined) return
  let report: number[]
  try {
    report = s.sendBatch(batch)
  } catch (error) {
    // Only our own encoding could be malformed: a bug, logged, never fatal.
    log({ level: 'error', message: 'cluster: the transport refused a batch of frames', error })
    return
  }
  for (let i = 0; i + 1 < report.length; i += 2) {
    const id = report[i]!
    if (id >= queued.length) grow(id)
    queued[id] = report[i + 1]!
  }
}

/** @internal The cluster sets the running node's handle (and clears it on stop). */
export function setFrameSender(s: FrameSender | undefined): void {
  if (s === undefined && sender !== undefined) flush()
  sender = s
  ids.clear()
  names.length = 0
  outLen = 0
  queued.fill(0)
  pending.fill(0)
  if (s !== undefined) {
    const [payload, queue] = s.limits()
    maxPayload = payload ?? 0
    maxQueued = queue ?? 0
  }
}

/** @internal A node came up with this native id. */
export function nodeUp(node: string, id: number): void {
  ids.set(node, id)
  names[id] = node
  if (id >= queued.length) grow(id)
  queued[id] = 0
}

/** @internal A node went down: frames to it are refused from now on. */
export function nodeDown(node: string): void {
  ids.delete(node)
}

function nameOf(id: number): string {
  const name = sender?.nodeName(id) ?? `unknown#${id}`
  names[id] = name
  return name
}

/** @internal The cluster hands each `frames` event here: frames in arrival order. */
export function dispatchFrames(batch: Uint8Array): void {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength)
  let at = 0
  while (at + 9 <= batch.length) {
    const id = view.getUint32(at, true)
    const kind = batch[at + 4]!
    const len = view.getUint32(at + 5, true)
    if (at + 9 + len > batch.length) break // never from our transport; not worth a crash
    const from = names[id] ?? nameOf(id)
    if (counters.on) {
      counters.framesIn++
      counters.frameBytesIn += len
    }
    dispatchFrame(from, kind, batch, at + 9, at + 9 + len)
    at += 9 + len
  }
}

/** @internal Runs the handler of `kind`. A throwing handler is logged, never fatal. */
export function dispatchFrame(from: string, kind: number, bytes: Uint8Array, start = 0, end = bytes.length): void {
  const handler = handlers.get(kind)
  if (handler === undefined) return
  try {
    handler(from, bytes, start, end)
  } catch (error) {
    log({ level: 'error', message: `a handler for frame kind 0x${kind.toString(16)} from ${from} threw`, error })
  }
}
