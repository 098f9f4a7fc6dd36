/**
 * Pub/sub membership as this node sees it: every topic with its local
 * members (an array the fan-out walks) and, for each other node, the ids of
 * that node's members. Each node is authoritative for its own members (pg's
 * model); remote members are kept as *sets of ids*, so a join that arrives
 * twice or a full resync never counts a member twice.
 *
 * The local fan-out delivers one object to every member without copying it
 * (the cost per delivery is one buffer slot, or one call). Two rules keep it
 * safe while member code runs in the middle of a fan-out:
 * - a publish made from inside a delivery (a callback publishing again) is
 *   queued and fanned out after the current one, so every member sees
 *   publications in the order they were made;
 * - a member that leaves during a fan-out is marked inactive at once (it gets
 *   nothing more) and taken out of the array afterwards; one that joins is
 *   appended and does not see the publication being delivered.
 *
 * Internal: not exported from the package root. (Not tagged internal here:
 * with `stripInternal` the tag would also drop `LocalMember`, the first
 * declaration, from the emitted .d.ts that still uses it.)
 * @module
 */
import { counters } from './metrics-counters.js'

/** A local member of one topic: a Subscription, a callback or a process. */
export interface LocalMember {
  /** Unique on this node for its lifetime: what other nodes know the member by. */
  readonly id: number
  /** The topic it belongs to. */
  readonly entry: TopicEntry
  /** The key of an idempotent member (its callback or process); `null` for a Subscription. */
  readonly key: unknown
  /** Its slot in `entry.locals`; -1 once taken out. */
  index: number
  /** False from the moment it leaves. */
  active: boolean
  /** Hands it one publication (never throws). */
  deliver(message: unknown, topic: string): void
}

/** One topic: its local members and the other nodes' member ids. */
export class TopicEntry {
  /** Local members, in no particular order (removal swaps the last one in). */
  readonly locals: LocalMember[] = []
  /** Active local members (`locals` may still hold some that left during a fan-out). */
  localCount = 0
  /** Callback and process members by their callback / process, so joining twice is one membership. */
  readonly byKey = new Map<unknown, LocalMember>()
  /** Other nodes' members: node name → member ids (never empty). */
  readonly remote = new Map<string, Set<number>>()
  /** The sum of the sizes of `remote`'s sets. */
  remoteCount = 0
  /** Local deliveries so far (for metrics: the dashboard's per-topic rates). */
  delivered = 0
  /** The lane of this topic's publications: they stay in order between two nodes. */
  readonly lane: number

  constructor(readonly name: string) {
    let h = 0
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0
    this.lane = h >>> 0
  }
}

/** Every topic with at least one member somewhere (as far as this node knows). */
export const topics = new Map<string, TopicEntry>()

/** For each other node, the topics where it has members (so nodedown is not a scan). */
const topicsOfNode = new Map<string, Set<TopicEntry>>()

let lastId = 0

/** @internal A fresh member id. */
export function newMemberId(): number {
  return ++lastId
}

/** What the cluster layer hears about local joins and leaves. */
export interface MembershipListener {
  joined(topic: string, id: number): void
  left(topic: string, id: number): void
}

let listener: MembershipListener | null = null

/** @internal The cluster layer registers here (one listener). */
export function setMembershipListener(l: MembershipListener | null): void {
  listener = l
}

/** The entry of `name`, created if needed. */
export function entryFor(name: string): TopicEntry {
  let t = topics.get(name)
  if (t === undefined) topics.set(name, (t = new TopicEntry(name)))
  return t
}

function dropIfEmpty(t: TopicEntry): void {
  if (t.locals.length === 0 && t.remote.size === 0 && topics.get(t.name) === t) topics.delete(t.name)
}

/** Adds a local member to its topic and announces it. */
export function addLocal(m: LocalMember): void {
  const t = m.entry
  // A topic entry dropped while this member was being made is put back.
  if (topics.get(t.name) !== t) topics.set(t.name, t)
  m.index = t.locals.length
  t.locals.push(m)
  t.localCount++
  if (m.key !== null) t.byKey.set(m.key, m)
  listener?.joined(t.name, m.id)
}

/** Takes a local member out of its topic and announces it; whether it was in. */
export function removeLocal(m: LocalMember): boolean {
  if (!m.active) return false
  m.active = false
  const t = m.entry
  t.localCount--
  if (m.key !== null && t.byKey.get(m.key) === m) t.byKey.delete(m.key)
  listener?.left(t.name, m.id)
  if (dispatching) removals.push(m)
  else detach(m)
  return true
}

function detach(m: LocalMember): void {
  const t = m.entry
  const arr = t.locals
  const last = arr.pop()!
  if (last !== m) {
    arr[m.index] = last
    last.index = m.index
  }
  m.index = -1
  dropIfEmpty(t)
}

/** The active local members of every topic, for a resync: topic → ids. */
export function localSnapshot(): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = []
  for (const t of topics.values()) {
    if (t.localCount === 0) continue
    const ids: number[] = []
    for (const m of t.locals) if (m.active) ids.push(m.id)
    out.push([t.name, ids])
  }
  return out
}

// ---------------------------------------------------------------------------
// Local fan-out

let dispatching = false
/** Publications made during a fan-out: (entry, message) pairs, delivered after it. */
const deferred: unknown[] = []
/** Members that left during a fan-out, taken out of their arrays after it. */
const removals: LocalMember[] = []

/** Delivers `message` to every active local member of `t`. */
export function fanOut(t: TopicEntry, message: unknown): void {
  if (dispatching) {
    deferred.push(t, message)
    return
  }
  dispatching = true
  try {
    deliverAll(t, message)
    for (let i = 0; i < deferred.length; i += 2) deliverAll(deferred[i] as TopicEntry, deferred[i + 1])
  } finally {
    deferred.length = 0
    dispatching = false
    if (removals.length > 0) {
      for (const m of removals) detach(m)
      removals.length = 0
    }
  }
}

/** The `{ type: 'pubsub', topic, message }` of the publication being delivered, shared by its process members. */
let envelope: PubSubMessage | null = null

/** The message a process member receives in its mailbox. */
export interface PubSubMessage<T = unknown> {
  readonly type: 'pubsub'
  readonly topic: string
  readonly message: T
}

/** @internal The mailbox message for the publication being delivered (one per publication, not per process). */
export function currentEnvelope(topic: string, message: unknown): PubSubMessage {
  return (envelope ??= { type: 'pubsub', topic, message })
}

function deliverAll(t: TopicEntry, message: unknown): void {
  envelope = null
  if (counters.on) {
    t.delivered += t.localCount
    counters.pubsubDelivered += t.localCount
  }
  const locals = t.locals
  const name = t.name
  // Members appended during the walk are past `n`: they joined after this publication.
  const n = locals.length
  for (let i = 0; i < n; i++) {
    const m = locals[i]!
    if (m.active) m.deliver(message, name)
  }
  envelope = null
}

// ---------------------------------------------------------------------------
// Other nodes' members

function nodeTopics(node: string): Set<TopicEntry> {
  let s = topicsOfNode.get(node)
  if (s === undefined) topicsOfNode.set(node, (s = new Set()))
  return s
}

/** `node` says these members of `topic` joined. Already known ids change nothing. */
export function remoteJoin(node: string, topic: string, ids: readonly number[]): void {
  if (ids.length === 0) return
  const t = entryFor(topic)
  let set = t.remote.get(node)
  if (set === undefined) {
    t.remote.set(node, (set = new Set()))
    nodeTopics(node).add(t)
  }
  for (const id of ids) {
    if (set.has(id)) continue
    set.add(id)
    t.remoteCount++
  }
}

/** `node` says these members of `topic` left. Unknown ids change nothing. */
export function remoteLeave(node: string, topic: string, ids: readonly number[]): void {
  const t = topics.get(topic)
  const set = t?.remote.get(node)
  if (t === undefined || set === undefined) return
  for (const id of ids) if (set.delete(id)) t.remoteCount--
  if (set.size === 0) forgetNodeIn(t, node)
}

function forgetNodeIn(t: TopicEntry, node: string): void {
  const set = t.remote.get(node)
  if (set === undefined) return
  t.remoteCount -= set.size
  t.remote.delete(node)
  const s = topicsOfNode.get(node)
  if (s !== undefined && s.delete(t) && s.size === 0) topicsOfNode.delete(node)
  dropIfEmpty(t)
}

/** Forgets every member of `node` (it went down, or it is about to send its full membership). */
export function remoteDrop(node: string): void {
  const s = topicsOfNode.get(node)
  if (s === undefined) return
  for (const t of [...s]) forgetNodeIn(t, node)
  topicsOfNode.delete(node)
}

/** The nodes this node knows members of (for tests and introspection). */
export function remoteNodes(): string[] {
  return [...topicsOfNode.keys()]
}
