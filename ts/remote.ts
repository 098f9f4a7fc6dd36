/**
 * Remote processes: the distribution layer that lets `send`, `link`,
 * `monitor`, `unlink`, `demonitor` and `exit` reach pids of other nodes (and
 * `{ name, node }`). Every operation is one frame (Send, Link, Unlink, Exit,
 * Monitor, Demonitor, Down) carrying one term; the receiving node applies it
 * with the local rules of ts/process.ts. When a node goes down, every link to
 * one of its pids delivers an exit signal `'noconnection'` and every monitor
 * of one of its pids a DOWN `'noconnection'`, exactly once.
 *
 * Ordering: all frames to one peer currently go through one ordered stream,
 * so messages and signals from one process to another arrive in the order
 * sent (Erlang's guarantee). The price is head-of-line blocking: one large
 * message delays every other conversation with that peer.
 * @internal
 * @module
 */
import { describe } from './check.js'
import { ConnectionError } from './errors.js'
import { addListener } from './cluster-events.js'
import { FrameKind, onFrame, sendFrame, sendFrameParts } from './cluster-frames.js'
import { log } from './logger.js'
import { Pid } from './pid.js'
import {
  type DownMessage,
  type ExitReason,
  type NamedOnNode,
  type Process,
  deliver,
  exitSignal,
  formatReason,
  names,
  onExit,
  setRemoteHooks,
} from './process.js'
import { Ref, makeRef } from './ref.js'
import { assertTerm, decode, encode } from './terms.js'

/** A monitor this node holds on a pid of another node. */
interface RemoteMonitor {
  readonly ref: Ref
  readonly watcher: Process
  readonly pid: Pid
}

/** What this node knows about one peer node. */
interface Peer {
  /** Local process → the pids of this peer it is linked to (by id). */
  readonly links: Map<Process, Map<number, Pid>>
  /** Monitors held here on this peer's pids, by ref id (the refs are local). */
  readonly monitors: Map<number, RemoteMonitor>
  /** The same monitors by watching process, so a process's exit finds its own. */
  readonly monitorsOf: Map<Process, Set<RemoteMonitor>>
  /** Monitors the peer holds on local processes: process → the peer's monitors by ref id. */
  readonly watchers: Map<Process, Map<number, { ref: Ref; watcher: Pid }>>
}

const peers = new Map<string, Peer>()
/** Local processes that have an exit hook for their remote links and monitors. */
const hooked = new WeakSet<Process>()

function peer(nodeName: string): Peer {
  let p = peers.get(nodeName)
  if (p === undefined) peers.set(nodeName, (p = { links: new Map(), monitors: new Map(), monitorsOf: new Map(), watchers: new Map() }))
  return p
}

function addMonitor(st: Peer, m: RemoteMonitor): void {
  st.monitors.set(m.ref.id, m)
  let set = st.monitorsOf.get(m.watcher)
  if (set === undefined) st.monitorsOf.set(m.watcher, (set = new Set()))
  set.add(m)
}

/** Forgets the monitor `ref` of this peer; the monitor, if it was there. */
function takeMonitor(st: Peer, refId: number): RemoteMonitor | undefined {
  const m = st.monitors.get(refId)
  if (m === undefined) return undefined
  st.monitors.delete(refId)
  const set = st.monitorsOf.get(m.watcher)
  if (set !== undefined && set.delete(m) && set.size === 0) st.monitorsOf.delete(m.watcher)
  return m
}

function hook(p: Process): void {
  if (hooked.has(p)) return
  hooked.add(p)
  onExit(p, (reason) => exited(p, reason))
}

// ---------------------------------------------------------------------------
// Exit reasons on the wire: a term as is; an Error as { name, message, stack }
// (rebuilt as an Error on arrival); anything else as its readable form.

type WireReason = { r: unknown } | { e: { name: string; message: string; stack?: string } }

function toWire(reason: ExitReason): WireReason {
  if (reason instanceof Error) {
    const e: { name: string; message: string; stack?: string } = { name: String(reason.name), message: String(reason.message) }
    if (typeof reason.stack === 'string') e.stack = reason.stack
    return { e }
  }
  try {
    assertTerm(reason)
    return { r: reason }
  } catch {
    return { r: formatReason(reason) }
  }
}

function fromWire(w: unknown): ExitReason {
  if (isRecord(w)) {
    if ('r' in w) return w.r
    const e = w.e
    if (isRecord(e) && typeof e.name === 'string' && typeof e.message === 'string') {
      const error = new Error(e.message)
      error.name = e.name
      if (typeof e.stack === 'string') error.stack = e.stack
      return error
    }
  }
  return 'unknown'
}

// ---------------------------------------------------------------------------
// Outgoing

/**
 * The lane of every frame addressed to process `to`: messages, link and exit
 * signals, monitor requests and DOWNs for one receiving process share a
 * lane, so they arrive in the order sent (Erlang's per-pair order), while a
 * large message to one process does not hold up traffic to the others.
 */
function laneOf(to: Pid | string): number {
  if (typeof to !== 'string') return to.id
  let h = 0
  for (let i = 0; i < to.length; i++) h = (h * 31 + to.charCodeAt(i)) | 0
  return h >>> 0
}

function frame(nodeName: string, kind: number, payload: Record<string, unknown>, to: Pid): ReturnType<typeof sendFrame> {
  let bytes: Uint8Array
  try {
    bytes = encode(payload)
  } catch (error) {
    // Only a reason could fail here, and toWire made it a term: a bug of ours.
    log({ level: 'error', message: `remote: could not encode a frame for ${nodeName}`, error })
    return 'toolarge'
  }
  return sendFrame(nodeName, kind, bytes, laneOf(to))
}

// The Send payload is the map `{ to, msg }`. Its bytes up to `msg`'s value
// depend only on the target, so they are encoded once per target (a burst
// of sends usually goes to one process) and the message alone per send.
let headTo: Pid | string | undefined
let head = new Uint8Array(0)

function headFor(to: Pid | string): Uint8Array {
  if (to !== headTo) {
    // `msg: null` encodes as the single byte 0xc0 at the end: drop it.
    const full = encode({ to, msg: null })
    head = new Uint8Array(full.subarray(0, full.length - 1)) // a copy: `full` is the encoder's buffer
    headTo = to
  }
  return head
}

function send(to: Pid | NamedOnNode, message: unknown): void {
  const target = to instanceof Pid ? to : to.name
  const prefix = headFor(target)
  let bytes: Uint8Array
  try {
    bytes = encode(message, 'message')
  } catch (error) {
    // Validate again only on failure, for an error that names the message's path.
    assertTerm(message, 'message')
    throw error
  }
  const result = sendFrameParts(to.node, FrameKind.Send, prefix, bytes, laneOf(target))
  if (result === 'toolarge') throw new RangeError(`send: the message to ${describeTarget(to)} is larger than a frame may be`)
  // Erlang would suspend the sender; a synchronous send cannot, and dropping
  // silently would lose data: the sender learns that the peer is not keeping up.
  if (result === 'backpressure') {
    throw new ConnectionError(`send: node ${to.node} is not reading fast enough (its send queue is full); the message to ${describeTarget(to)} was not sent`, to.node)
  }
  // 'notconnected' / 'stopped': dropped, like a message to a dead process.
}

function describeTarget(to: Pid | NamedOnNode): string {
  return to instanceof Pid ? String(to) : `{ name: '${to.name}', node: '${to.node}' }`
}

function link(a: Process, pid: Pid): void {
  const st = peer(pid.node)
  let mine = st.links.get(a)
  if (mine?.has(pid.id)) return
  if (mine === undefined) st.links.set(a, (mine = new Map()))
  mine.set(pid.id, pid)
  hook(a)
  if (frame(pid.node, FrameKind.Link, { from: a.pid, to: pid }, pid) !== 'ok') {
    // Erlang: a link that cannot reach the node is broken at once.
    dropLink(st, a, pid.id)
    exitSignal(a, pid, 'noconnection', true)
  }
}

function dropLink(st: Peer, a: Process, id: number): boolean {
  const mine = st.links.get(a)
  if (mine === undefined || !mine.delete(id)) return false
  if (mine.size === 0) st.links.delete(a)
  return true
}

function unlink(a: Process, pid: Pid): void {
  const st = peers.get(pid.node)
  if (st === undefined || !dropLink(st, a, pid.id)) return
  frame(pid.node, FrameKind.Unlink, { from: a.pid, to: pid }, pid)
}

function monitor(watcher: Process, pid: Pid): Ref {
  const ref = makeRef()
  if (!watcher.alive) return ref
  const st = peer(pid.node)
  addMonitor(st, { ref, watcher, pid })
  hook(watcher)
  if (frame(pid.node, FrameKind.Monitor, { ref, from: watcher.pid, to: pid }, pid) !== 'ok') {
    takeMonitor(st, ref.id)
    deliver(watcher, { type: 'DOWN', ref, pid, reason: 'noconnection' } satisfies DownMessage, true)
  }
  return ref
}

function demonitor(ref: Ref): boolean {
  for (const [nodeName, st] of peers) {
    const m = takeMonitor(st, ref.id)
    if (m === undefined) continue
    frame(nodeName, FrameKind.Demonitor, { ref, to: m.pid }, m.pid)
    return true
  }
  return false
}

function exit(from: Pid | null, pid: Pid, reason: ExitReason): void {
  frame(pid.node, FrameKind.Exit, { from, to: pid, reason: toWire(reason), link: false }, pid)
}

/** A local process with remote links or monitors exited: tell the peers, forget it. */
function exited(p: Process, reason: ExitReason): void {
  let wire: WireReason | undefined
  for (const [nodeName, st] of peers) {
    const mine = st.links.get(p)
    if (mine !== undefined) {
      st.links.delete(p)
      wire ??= toWire(reason)
      for (const pid of mine.values()) frame(nodeName, FrameKind.Exit, { from: p.pid, to: pid, reason: wire, link: true }, pid)
    }
    const watched = st.watchers.get(p)
    if (watched !== undefined) {
      st.watchers.delete(p)
      wire ??= toWire(reason)
      for (const { ref, watcher } of watched.values()) frame(nodeName, FrameKind.Down, { ref, pid: p.pid, reason: wire }, watcher)
    }
    const own = st.monitorsOf.get(p)
    if (own !== undefined) {
      st.monitorsOf.delete(p)
      for (const m of own) {
        st.monitors.delete(m.ref.id)
        frame(nodeName, FrameKind.Demonitor, { ref: m.ref, to: m.pid }, m.pid)
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Incoming

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map)
}

function malformed(kind: string, from: string, detail: string): undefined {
  log({ level: 'warn', message: `remote: dropped a malformed ${kind} from ${from}: ${detail}` })
  return undefined
}

function decodeFrame(kind: string, from: string, bytes: Uint8Array, start: number, end: number): Record<string, unknown> | undefined {
  let msg: unknown
  try {
    msg = decode(bytes, start, end)
  } catch (error) {
    return malformed(kind, from, String(error))
  }
  return isRecord(msg) ? msg : malformed(kind, from, 'not a map')
}

/** A pid of the sending node, or undefined. */
function theirs(v: unknown, from: string): Pid | undefined {
  return v instanceof Pid && v.home === from ? v : undefined
}

/** A pid of this node, or undefined. */
function ours(v: unknown): Pid | undefined {
  return v instanceof Pid && v.home === null ? v : undefined
}

// The receiving side of the sender's head cache: a burst of sends to one
// process repeats the same head, so the target is decoded once and each
// frame after that decodes its message alone (after comparing the bytes).
let lastFrom = ''
let lastHead: Uint8Array | undefined
let lastTarget: unknown

/** Whether `b[start, end)` starts with `head` and has more after it. */
function sameHead(head: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  if (end - start <= head.length) return false
  for (let i = head.length - 1; i >= 0; i--) if (head[i] !== b[start + i]) return false
  return true
}

/** `[to, message]` of a Send payload (`bytes[start, end)`), or undefined if malformed (logged). */
function decodeSend(from: string, bytes: Uint8Array, start: number, end: number): [unknown, unknown] | undefined {
  if (lastHead !== undefined && from === lastFrom && sameHead(lastHead, bytes, start, end)) {
    try {
      return [lastTarget, decode(bytes, start + lastHead.length, end)]
    } catch (error) {
      return malformed('Send', from, String(error))
    }
  }
  const msg = decodeFrame('Send', from, bytes, start, end)
  if (msg === undefined) return undefined
  // Encode the head the way a sender of ours does; if this payload starts
  // with it, the next ones from this sender probably do too.
  try {
    const full = encode({ to: msg.to, msg: null })
    const head = full.subarray(0, full.length - 1)
    if (sameHead(head, bytes, start, end)) {
      lastFrom = from
      lastHead = new Uint8Array(head)
      lastTarget = msg.to
    }
  } catch {
    // Not a term we can encode: nothing to cache; the handler refuses it.
  }
  return [msg.to, msg.msg]
}

/** Forgets the cached head (its target may no longer decode the same way). */
function forgetHead(): void {
  lastHead = undefined
  lastTarget = undefined
  lastFrom = ''
}

onFrame(FrameKind.Send, (from, bytes, start, end) => {
  const sent = decodeSend(from, bytes, start, end)
  if (sent === undefined) return
  const [to, message] = sent
  let p: Process | null | undefined
  if (typeof to === 'string') p = names.get(to)
  else if (ours(to) !== undefined) p = (to as Pid).proc
  else return malformed('Send', from, `bad target ${describe(to)}`)
  if (p === null || p === undefined || message === undefined) return // dead or unregistered: dropped
  try {
    deliver(p, message, false)
  } catch (error) {
    // A full mailbox with mailboxOverflow 'error': the remote sender cannot be told.
    log({ level: 'warn', message: `remote: a message from ${from} to ${p.pid} was refused`, pid: p.pid, error })
  }
})

onFrame(FrameKind.Link, (from, bytes, start, end) => {
  const msg = decodeFrame('Link', from, bytes, start, end)
  if (msg === undefined) return
  const a = theirs(msg.from, from)
  const to = ours(msg.to)
  if (a === undefined || to === undefined) return malformed('Link', from, 'expected { from, to }')
  const p = to.proc
  if (p === null) {
    frame(from, FrameKind.Exit, { from: to, to: a, reason: { r: 'noproc' }, link: true }, a)
    return
  }
  const st = peer(from)
  let mine = st.links.get(p)
  if (mine === undefined) st.links.set(p, (mine = new Map()))
  mine.set(a.id, a)
  hook(p)
})

onFrame(FrameKind.Unlink, (from, bytes, start, end) => {
  const msg = decodeFrame('Unlink', from, bytes, start, end)
  if (msg === undefined) return
  const a = theirs(msg.from, from)
  const to = ours(msg.to)
  if (a === undefined || to === undefined) return malformed('Unlink', from, 'expected { from, to }')
  const st = peers.get(from)
  if (st !== undefined && to.proc !== null) dropLink(st, to.proc, a.id)
})

onFrame(FrameKind.Exit, (from, bytes, start, end) => {
  const msg = decodeFrame('Exit', from, bytes, start, end)
  if (msg === undefined) return
  const sender = msg.from === null ? null : theirs(msg.from, from)
  const to = ours(msg.to)
  if (sender === undefined || to === undefined || typeof msg.link !== 'boolean') {
    return malformed('Exit', from, 'expected { from, to, reason, link }')
  }
  const p = to.proc
  if (p === null) return
  if (msg.link) {
    // Over a link: only while the link exists (an unlink may have crossed it).
    const st = peers.get(from)
    if (sender === null || st === undefined || !dropLink(st, p, sender.id)) return
    exitSignal(p, sender, fromWire(msg.reason), true)
  } else {
    exitSignal(p, sender, fromWire(msg.reason), false)
  }
})

onFrame(FrameKind.Monitor, (from, bytes, start, end) => {
  const msg = decodeFrame('Monitor', from, bytes, start, end)
  if (msg === undefined) return
  const { ref } = msg
  const to = ours(msg.to)
  const watcher = theirs(msg.from, from)
  if (!(ref instanceof Ref) || ref.home !== from || to === undefined || watcher === undefined) {
    return malformed('Monitor', from, 'expected { ref, from, to }')
  }
  const p = to.proc
  if (p === null) {
    frame(from, FrameKind.Down, { ref, pid: to, reason: { r: 'noproc' } }, watcher)
    return
  }
  const st = peer(from)
  let refs = st.watchers.get(p)
  if (refs === undefined) st.watchers.set(p, (refs = new Map()))
  refs.set(ref.id, { ref, watcher })
  hook(p)
})

onFrame(FrameKind.Demonitor, (from, bytes, start, end) => {
  const msg = decodeFrame('Demonitor', from, bytes, start, end)
  if (msg === undefined) return
  const { ref } = msg
  const to = ours(msg.to)
  if (!(ref instanceof Ref) || ref.home !== from || to === undefined) return malformed('Demonitor', from, 'expected { ref, to }')
  const st = peers.get(from)
  const p = to.proc
  if (st === undefined || p === null) return
  const refs = st.watchers.get(p)
  if (refs !== undefined && refs.delete(ref.id) && refs.size === 0) st.watchers.delete(p)
})

onFrame(FrameKind.Down, (from, bytes, start, end) => {
  const msg = decodeFrame('Down', from, bytes, start, end)
  if (msg === undefined) return
  const { ref } = msg
  const pid = theirs(msg.pid, from)
  if (!(ref instanceof Ref) || ref.home !== null || pid === undefined) return malformed('Down', from, 'expected { ref, pid, reason }')
  const st = peers.get(from)
  const m = st === undefined ? undefined : takeMonitor(st, ref.id)
  if (m === undefined) return // demonitored meanwhile
  deliver(m.watcher, { type: 'DOWN', ref: m.ref, pid: m.pid, reason: fromWire(msg.reason) } satisfies DownMessage, true)
})

// A lost node: every link to it breaks with 'noconnection', every monitor of
// one of its pids fires once with 'noconnection', and its monitors and links
// on our processes are forgotten.
addListener('nodeup', forgetHead)
addListener('nodedown', (nodeName) => {
  forgetHead()
  const st = peers.get(nodeName)
  if (st === undefined) return
  peers.delete(nodeName)
  for (const m of st.monitors.values()) {
    deliver(m.watcher, { type: 'DOWN', ref: m.ref, pid: m.pid, reason: 'noconnection' } satisfies DownMessage, true)
  }
  for (const [p, mine] of st.links) {
    for (const pid of mine.values()) exitSignal(p, pid, 'noconnection', true)
  }
})

setRemoteHooks({ send, link, unlink, monitor, demonitor, exit })

/** @internal Links and monitors this node tracks with other nodes (for tests of leaks). */
export function remoteCounts(): { links: number; monitors: number; watchers: number } {
  let links = 0
  let monitors = 0
  let watchers = 0
  for (const st of peers.values()) {
    for (const m of st.links.values()) links += m.size
    monitors += st.monitors.size
    for (const w of st.watchers.values()) watchers += w.size
  }
  return { links, monitors, watchers }
}
