/**
 * Pub/sub across the cluster (Erlang's pg): each node is authoritative for
 * its own members and tells every other node about them; a publication goes
 * to each other node that has members of its topic as ONE frame, and that
 * node fans it out to its own members.
 *
 * Membership on the wire:
 * - local joins and leaves are collected for the rest of the current
 *   synchronous run (a loop of 1,000 subscribes is one frame) and sent to
 *   every connected node as a delta;
 * - on `nodeup` each side sends the new peer its full local membership, which
 *   *replaces* what the peer knew of it; members are ids in sets, so a resync
 *   or a join heard twice never counts a member twice;
 * - on `nodedown` that node's members are forgotten here;
 * - a membership frame that could not be queued (backpressure) is never
 *   lost silently: the peer gets a full resync shortly after.
 *
 * Every pub/sub frame is kind PubSub (0x40), the only pub/sub kind the
 * transport's codec accepts; the first element of the payload says which
 * (see docs/wire.md).
 * @internal
 * @module
 */
import { addListener } from './cluster-events.js'
import { nodes } from './cluster.js'
import { FrameKind, onFrame, sendFrame } from './cluster-frames.js'
import { log } from './logger.js'
import { counters } from './metrics-counters.js'
import {
  type TopicEntry,
  fanOut,
  localSnapshot,
  remoteDrop,
  remoteJoin,
  remoteLeave,
  setMembershipListener,
  topics,
} from './pubsub-topics.js'
import { assertTerm, decode, encode } from './terms.js'

/** The payload's first element. */
const Op = { Publish: 0, Delta: 1, Sync: 2 } as const

/** Membership frames share one lane, so a resync and the deltas after it arrive in order. */
const MEMBERSHIP_LANE = 0
/** Member ids per membership frame, well under the frame limit (an id is at most 9 bytes). */
const IDS_PER_FRAME = 100_000
const RESYNC_MS = 200

/** Counters for tests and benchmarks. @internal */
export const pubsubStats = {
  /** Publication frames queued to other nodes. */
  publishFramesSent: 0,
  /** Publication frames received from other nodes. */
  publishFramesReceived: 0,
  /** Membership frames (deltas and resyncs) queued. */
  membershipFramesSent: 0,
  /** Publication frames not sent because the peer's send queue was full. */
  publishFramesDropped: 0,
  /** Frames dropped because they were malformed. */
  malformed: 0,
  /** Full resyncs sent (at nodeup, and after a membership frame met backpressure). */
  resyncs: 0,
}

// ---------------------------------------------------------------------------
// Outgoing membership

/** Joins and leaves not sent yet: topic → [joined ids, left ids]. */
let pending: Map<string, [number[], number[]]> | null = null

function queue(topic: string, id: number, joined: boolean): void {
  if (pending === null) {
    pending = new Map()
    queueMicrotask(flush)
  }
  let change = pending.get(topic)
  if (change === undefined) pending.set(topic, (change = [[], []]))
  change[joined ? 0 : 1].push(id)
}

setMembershipListener({
  joined: (topic, id) => queue(topic, id, true),
  left: (topic, id) => queue(topic, id, false),
})

/** Splits `[topic, ...idLists]` entries into payloads of at most IDS_PER_FRAME ids. */
function chunks<E extends [string, ...number[][]]>(entries: E[]): E[][] {
  const out: E[][] = []
  let current: E[] = []
  let ids = 0
  for (const e of entries) {
    let n = 0
    for (let i = 1; i < e.length; i++) n += (e[i] as number[]).length
    if (ids + n > IDS_PER_FRAME && current.length > 0) {
      out.push(current)
      current = []
      ids = 0
    }
    current.push(e)
    ids += n
  }
  if (current.length > 0) out.push(current)
  return out
}

function flush(): void {
  const changes = pending
  pending = null
  if (changes === null) return
  const peers = nodes()
  if (peers.length === 0) return
  // Joins before leaves: an id never joins after it left, so this is the
  // same result as applying them in the order they happened.
  const entries: Array<[string, number[], number[]]> = []
  for (const [topic, [joined, left]] of changes) entries.push([topic, joined, left])
  for (const part of chunks(entries)) {
    const bytes = encode([Op.Delta, part])
    for (const peer of peers) sendMembership(peer, bytes)
  }
}

/** Nodes owed a full resync, because a membership frame to them could not be queued. */
const owed = new Set<string>()
let resyncTimer: ReturnType<typeof setTimeout> | undefined

function sendMembership(peer: string, bytes: Uint8Array): boolean {
  const result = sendFrame(peer, FrameKind.PubSub, bytes, MEMBERSHIP_LANE)
  if (result === 'ok') {
    pubsubStats.membershipFramesSent++
    return true
  }
  if (result === 'backpressure' || result === 'toolarge') {
    // Losing a delta would leave the peer wrong until the next nodeup: resync instead.
    owed.add(peer)
    resyncTimer ??= setTimeout(payDebts, RESYNC_MS).unref()
  }
  return false
}

function payDebts(): void {
  resyncTimer = undefined
  const peers = [...owed]
  owed.clear()
  const connected = new Set(nodes())
  for (const peer of peers) if (connected.has(peer)) resync(peer)
}

/** Sends `peer` this node's whole local membership, replacing what it knew. */
function resync(peer: string): void {
  pubsubStats.resyncs++
  const parts = chunks(localSnapshot())
  // The first frame replaces; any further ones add (as joins).
  if (!sendMembership(peer, encode([Op.Sync, parts[0] ?? []]))) return
  for (let i = 1; i < parts.length; i++) {
    if (!sendMembership(peer, encode([Op.Delta, parts[i]!.map(([topic, ids]) => [topic, ids, []])]))) return
  }
}

// Sent even when this node has no members: the peer may still hold the
// members of an earlier incarnation of this node name, and a resync replaces
// them whatever the order of its nodedown and nodeup events.
addListener('nodeup', (peer) => resync(peer))
addListener('nodedown', (peer) => {
  owed.delete(peer)
  remoteDrop(peer)
  slow.delete(peer)
})

// ---------------------------------------------------------------------------
// Publishing

/** Per node whose send queue has been full: when we last warned, and the publications dropped since. */
const slow = new Map<string, { warnedAt: number; dropped: number }>()
/** At most one warning per slow node in this many ms (the queue flickers between full and not). */
const SLOW_WARN_MS = 10_000

function droppedFor(peer: string, topic: string): void {
  const now = Date.now()
  let s = slow.get(peer)
  if (s === undefined) slow.set(peer, (s = { warnedAt: -Infinity, dropped: 0 }))
  s.dropped++
  if (now - s.warnedAt < SLOW_WARN_MS) return
  log({
    level: 'warn',
    message:
      `pubsub: node ${peer} is not reading fast enough (its send queue is full); ` +
      `${s.dropped} publication(s) to it dropped (the latest on '${topic}'), more are dropped while it stays behind`,
  })
  s.warnedAt = now
  s.dropped = 0
}

/**
 * Sends one publication to every other node with members of `t`: encoded
 * once, one frame per node. Returns how many remote members it went to.
 * TypeError (naming the path) for a non-term message; RangeError if it is
 * larger than a frame may be. Nothing is sent in either case.
 */
export function publishRemote(t: TopicEntry, message: unknown): number {
  let bytes: Uint8Array
  try {
    bytes = encode([Op.Publish, t.name, message])
  } catch (error) {
    // Validate again only on failure, for an error that names the message's path.
    assertTerm(message, 'message')
    throw error
  }
  let sent = 0
  for (const [peer, ids] of t.remote) {
    const result = sendFrame(peer, FrameKind.PubSub, bytes, t.lane)
    if (result === 'ok') {
      pubsubStats.publishFramesSent++
      sent += ids.size
    } else if (result === 'toolarge') {
      throw new RangeError(`pubsub.publish('${t.name}'): the message is larger than a frame may be`)
    } else if (result === 'backpressure') {
      // A telemetry publisher must not stall or fail for one slow node: its copy is dropped.
      if (counters.on) counters.pubsubRemoteDropped++
      pubsubStats.publishFramesDropped++
      droppedFor(peer, t.name)
    }
  }
  return sent
}

// ---------------------------------------------------------------------------
// Incoming

function malformed(from: string, detail: string): void {
  pubsubStats.malformed++
  log({ level: 'warn', message: `pubsub: dropped a malformed frame from ${from}: ${detail}` })
}

function isTopic(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0
}

function isIds(v: unknown): v is number[] {
  if (!Array.isArray(v)) return false
  for (const id of v) if (!Number.isSafeInteger(id)) return false
  return true
}

/** Validates a list of `[topic, ...idLists]` with `lists` id lists each. */
function isEntries(v: unknown, lists: number): v is Array<[string, ...number[][]]> {
  if (!Array.isArray(v)) return false
  for (const e of v) {
    if (!Array.isArray(e) || e.length !== lists + 1 || !isTopic(e[0])) return false
    for (let i = 1; i <= lists; i++) if (!isIds(e[i])) return false
  }
  return true
}

onFrame(FrameKind.PubSub, (from, bytes, start, end) => {
  let msg: unknown
  try {
    msg = decode(bytes, start, end)
  } catch (error) {
    return malformed(from, String(error))
  }
  if (!Array.isArray(msg)) return malformed(from, 'not an array')
  switch (msg[0]) {
    case Op.Publish: {
      if (msg.length !== 3 || !isTopic(msg[1]) || msg[2] === undefined) return malformed(from, 'expected [0, topic, message]')
      pubsubStats.publishFramesReceived++
      const t = topics.get(msg[1])
      // No local members (any more): the publisher's view was a moment old.
      if (t !== undefined && t.localCount > 0) fanOut(t, msg[2])
      return
    }
    case Op.Delta: {
      if (msg.length !== 2 || !isEntries(msg[1], 2)) return malformed(from, 'expected [1, [[topic, joined, left], ...]]')
      for (const [topic, joined, left] of msg[1] as Array<[string, number[], number[]]>) {
        remoteJoin(from, topic, joined)
        remoteLeave(from, topic, left)
      }
      return
    }
    case Op.Sync: {
      if (msg.length !== 2 || !isEntries(msg[1], 1)) return malformed(from, 'expected [2, [[topic, ids], ...]]')
      remoteDrop(from)
      for (const [topic, ids] of msg[1] as Array<[string, number[]]>) remoteJoin(from, topic, ids)
      return
    }
    default:
      return malformed(from, `unknown operation ${String(msg[0])}`)
  }
})
