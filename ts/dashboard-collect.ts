/**
 * What the dashboard (ts/dashboard.ts) gathers from each node: a compact
 * overview (counters, not per-process lists), the capped supervision tree
 * of one chosen node, and the two control actions. Every node registers
 * these as the internal RPC module `ironwood_observer` when ironwood loads,
 * so a dashboard started on any node can see the whole cluster. Cluster
 * peers are trusted (they share the cookie), as in Erlang, where any
 * connected node may call `erlang:exit/2` or `init:stop/0` on another; the
 * dashboard's read-only mode is enforced by the dashboard server.
 * @internal
 * @module
 */
import { cluster } from './cluster.js'
import { restartsByPid, restartsBySupervisor } from './metrics-counters.js'
import { type MetricsSnapshot, metrics } from './metrics.js'
import { node } from './node.js'
import { livePids } from './pid.js'
import { exit, mailboxLength } from './process.js'
import { topics } from './pubsub-topics.js'
import { rpc } from './rpc.js'
import { state } from './state.js'
import { type SupervisedChild, type SupervisorTree, supervisionTree } from './supervisor-server.js'

/** The RPC module name the dashboard calls on every node. */
export const OBSERVER_MODULE = 'ironwood_observer'

/** Most topics an overview lists (by member count). */
const MAX_TOPICS = 40
/** Most key prefixes an overview lists. */
const MAX_PREFIXES = 10
/** Above this many keys the prefixes are not computed (listing them would cost too much). */
const MAX_KEYS_SCANNED = 200_000
/** How long a computed prefix list is reused, ms. */
const PREFIX_TTL_MS = 5000

/** One topic in an overview. */
export interface TopicView {
  name: string
  /** Members cluster-wide (as this node knows). */
  members: number
  /** Local members. */
  local: number
  /** Local deliveries so far (the page turns it into a rate). */
  delivered: number
}

/** One node's overview: aggregates only, a few KB whatever the number of processes. */
export interface NodeOverview {
  node: string
  time: number
  processes: MetricsSnapshot['processes']
  counters: {
    sent: number
    received: number
    rpcCalls: number
    rpcServed: number
    rpcErrors: number
    published: number
    delivered: number
    dropped: number
    restarts: number
    framesIn: number
    framesOut: number
  }
  rpcLatency: { count: number; sumMs: number; p50Ms: number | null; p99Ms: number | null }
  table: { size: number; tables: Record<string, number>; memory: number; prefixes: Array<[string, number]> | null }
  memory: { rss: number; heapUsed: number }
  peers: Array<{ node: string; state: 'up' | 'down'; rttMs: number | null; bytesSent: number; bytesReceived: number; reason?: string }>
  topics: TopicView[]
  topicCount: number
  /** Watched process hubs (`metrics.watchHub`). */
  hubs: MetricsSnapshot['hubs']
}

/** One process in a tree view. */
export interface TreeEntry {
  pid: string
  /** The local process number (what `kill` takes). */
  id: number
  name: string | null
  kind: string
  mailbox: number
  /** For a supervisor: the child restarts it made; for another process: how often its supervisor restarted it (absent if never). */
  restarts?: number
  status?: string
  children?: TreeEntry[]
  /** Children left out by the cap. */
  more?: number
}

/** The capped supervision tree of one node. */
export interface TreeView {
  node: string
  supervisors: TreeEntry[]
  /** Processes outside any supervisor, the longest mailboxes first (capped). */
  others: TreeEntry[]
  processCount: number
  /** Entries left out by the cap in total. */
  omitted: number
}

let prefixCache: { at: number; value: Array<[string, number]> | null } | undefined

function prefixes(size: number, now: number): Array<[string, number]> | null {
  if (prefixCache !== undefined && now - prefixCache.at < PREFIX_TTL_MS) return prefixCache.value
  let value: Array<[string, number]> | null = null
  if (size <= MAX_KEYS_SCANNED) {
    const counts = new Map<string, number>()
    for (const key of state.keys()) {
      const m = /^[^:/.#]*[:/.#]/.exec(key)
      const p = m === null ? key : m[0]
      counts.set(p, (counts.get(p) ?? 0) + 1)
    }
    value = [...counts].sort((a, b) => b[1] - a[1]).slice(0, MAX_PREFIXES)
  }
  prefixCache = { at: now, value }
  return value
}

/** A percentile (ms) from the cumulative buckets, as the bucket's upper bound. */
function percentile(s: MetricsSnapshot['rpc']['latency'], q: number): number | null {
  if (s.count === 0) return null
  const want = s.count * q
  for (const b of s.buckets) if (b.count >= want) return b.le
  return null
}

/** @internal This node's overview. */
export function overview(): NodeOverview {
  const s = metrics.snapshot()
  const list: TopicView[] = []
  for (const t of topics.values()) list.push({ name: t.name, members: t.localCount + t.remoteCount, local: t.localCount, delivered: t.delivered })
  list.sort((a, b) => b.members - a.members || (a.name < b.name ? -1 : 1))
  return {
    node: s.node,
    time: s.time,
    processes: s.processes,
    counters: {
      sent: s.messages.sent,
      received: s.messages.received,
      rpcCalls: s.rpc.calls,
      rpcServed: s.rpc.served,
      rpcErrors: s.rpc.errors,
      published: s.pubsub.published,
      delivered: s.pubsub.delivered,
      dropped: s.pubsub.dropped,
      restarts: s.supervisors.restarts,
      framesIn: s.frames.in,
      framesOut: s.frames.out,
    },
    rpcLatency: {
      count: s.rpc.latency.count,
      sumMs: s.rpc.latency.sumMs,
      p50Ms: percentile(s.rpc.latency, 0.5),
      p99Ms: percentile(s.rpc.latency, 0.99),
    },
    table: { size: s.table.size, tables: s.table.tables, memory: s.table.memory, prefixes: prefixes(s.table.size, s.time) },
    memory: { rss: s.memory.rss, heapUsed: s.memory.heapUsed },
    peers: s.peers.map((p) => ({
      node: p.node,
      state: p.state,
      rttMs: p.rttMs,
      bytesSent: p.bytesSent,
      bytesReceived: p.bytesReceived,
      ...(p.reason !== undefined && { reason: p.reason }),
    })),
    topics: list.slice(0, MAX_TOPICS),
    topicCount: list.length,
    hubs: s.hubs,
  }
}

/** @internal This node's supervision tree, at most `cap` entries (longest mailboxes kept first). */
export function tree(cap: number): TreeView {
  let budget = Math.max(10, Math.min(2000, Math.floor(cap)))
  let omitted = 0
  const seen = new Set<number>()

  function entryOf(c: SupervisedChild): TreeEntry | null {
    const pid = c.pid
    if (pid === null) return null
    seen.add(pid.id)
    const p = pid.proc
    return {
      pid: pid.toString(),
      id: pid.id,
      name: p?.ext?.name ?? null,
      kind: c.tree !== undefined ? c.tree.kind : c.type,
      mailbox: p === null ? 0 : mailboxLength(p),
      status: c.status,
      ...(restartsByPid.has(pid) && { restarts: restartsByPid.get(pid)! }),
      ...(c.tree !== undefined && supervisorBody(c.tree)),
    }
  }

  function supervisorBody(t: SupervisorTree): Pick<TreeEntry, 'children' | 'more' | 'restarts'> {
    seen.add(t.pid.id)
    const all = t.children.map(entryOf).filter((e): e is TreeEntry => e !== null)
    // Supervisors first (their subtrees matter), then the fullest mailboxes.
    all.sort((a, b) => Number(b.children !== undefined) - Number(a.children !== undefined) || b.mailbox - a.mailbox)
    const keep = all.slice(0, Math.max(0, Math.min(all.length, budget, 50)))
    budget -= keep.length
    const more = all.length - keep.length
    omitted += more
    return { children: keep, restarts: restartsBySupervisor.get(t.pid) ?? 0, ...(more > 0 && { more }) }
  }

  const supervisors = supervisionTree().map((t) => {
    budget--
    return { pid: t.pid.toString(), id: t.pid.id, name: t.name, kind: t.kind, mailbox: t.pid.proc === null ? 0 : mailboxLength(t.pid.proc), ...supervisorBody(t) }
  })
  const others: TreeEntry[] = []
  let processCount = 0
  for (const pid of livePids()) {
    const p = pid.proc
    if (p === null) continue
    processCount++
    if (seen.has(pid.id)) continue
    others.push({ pid: pid.toString(), id: pid.id, name: p.ext?.name ?? null, kind: p.ext?.kind ?? 'process', mailbox: mailboxLength(p) })
  }
  others.sort((a, b) => b.mailbox - a.mailbox)
  const keepOthers = Math.max(0, Math.min(others.length, budget, 50))
  omitted += others.length - keepOthers
  return { node: node(), supervisors, others: others.slice(0, keepOthers), processCount, omitted }
}

/** @internal Kills local process number `id` (reason `'kill'`); whether it was alive. */
export function kill(id: number): boolean {
  for (const pid of livePids()) {
    if (pid.id === id) {
      if (pid.proc === null) return false
      exit(pid, 'kill')
      return true
    }
  }
  return false
}

/** @internal Stops this node's cluster membership (the process keeps running), after replying. */
export function stopNode(): boolean {
  setTimeout(() => void cluster.stop(), 50)
  return true
}

rpc.register(OBSERVER_MODULE, {
  overview,
  tree: (cap: unknown) => tree(typeof cap === 'number' && Number.isFinite(cap) ? cap : 300),
  kill: (id: unknown) => (typeof id === 'number' && Number.isSafeInteger(id) ? kill(id) : false),
  stopNode,
})
