/**
 * `metrics`: what this node is doing, read on demand. Counters are plain
 * integer adds on paths that already exist (ts/metrics-counters.ts); the
 * rest (processes, mailboxes, topics, tables, peers) is gathered only when
 * {@link metrics.snapshot} is called, so a node nobody observes pays almost
 * nothing. The same figures are offered as Prometheus text
 * (ts/metrics-prometheus.ts) and as periodic `'snapshot'` events.
 * @module
 */
import { checkOptions } from './check.js'
import { addListener } from './cluster-events.js'
import { peerStats } from './cluster-frames.js'
import { nodes } from './cluster.js'
import type { Hub } from './hub.js'
import { RPC_BUCKETS_MS, counters, rpcLatencyBuckets } from './metrics-counters.js'
import { type HubMetrics, hubMetrics, unwatchHub, watchHub } from './metrics-hub.js'
import { node } from './node.js'
import { livePids } from './pid.js'
import { mailboxLength } from './process.js'
import { topics } from './pubsub-topics.js'
import { pendingCallCount } from './rpc.js'
import { Table } from './state.js'

export type { HubMetrics, HubMove } from './metrics-hub.js'

/** One cumulative bucket of a latency histogram (Prometheus style: `count` calls took ≤ `le` ms). */
export interface HistogramBucket {
  /** The bucket's upper bound in milliseconds (`Infinity` for the last). */
  le: number
  /** Calls that took at most `le` ms (cumulative). */
  count: number
}

/** A peer as this node sees it. */
export interface PeerMetrics {
  /** The peer's full name. */
  node: string
  /** `'up'` while connected; `'down'` for a peer lost recently (see `reason`). */
  state: 'up' | 'down'
  /** QUIC's smoothed round-trip time in milliseconds (`null` when down). */
  rttMs: number | null
  /** UDP bytes sent to it on the current connection. */
  bytesSent: number
  /** UDP bytes received from it on the current connection. */
  bytesReceived: number
  /** Packets QUIC declared lost on the current connection. */
  lostPackets: number
  /** Application bytes queued for it and not yet written. */
  queuedBytes: number
  /** Why it went down (for `'down'`). */
  reason?: string
  /** When it went down (ms since the epoch, for `'down'`). */
  since?: number
}

/** Everything {@link metrics.snapshot} reports. Counters count from process start (or the last `reset`). */
export interface MetricsSnapshot {
  /** This node's name (`'nonode@nohost'` outside a cluster). */
  node: string
  /** When the snapshot was taken, ms since the epoch. */
  time: number
  /** Whether counting is on ({@link metrics.disable} turns it off). */
  enabled: boolean
  processes: {
    /** Live local processes. */
    count: number
    /** Messages waiting in all mailboxes. */
    mailboxTotal: number
    /** The longest mailbox. */
    mailboxMax: number
  }
  messages: {
    /** `send` calls (local and remote targets). */
    sent: number
    /** Messages put in a local mailbox (or handed to a waiting `receive`), system messages included. */
    received: number
  }
  rpc: {
    /** `rpc.call`s made from this node (local and remote). */
    calls: number
    /** Calls that failed: timed out, node lost, or the remote function threw. */
    errors: number
    /** Calls other nodes made to this node. */
    served: number
    /** Casts other nodes made to this node. */
    casts: number
    /** Calls waiting for a reply now. */
    pending: number
    /** Round-trip latency of completed remote calls. */
    latency: { count: number; sumMs: number; buckets: HistogramBucket[] }
  }
  pubsub: {
    /** Topics with members somewhere in the cluster (as this node knows). */
    topics: number
    /** Local members over all topics. */
    localMembers: number
    /** `pubsub.publish` calls on this node. */
    published: number
    /** Local deliveries (one per member a publication reached on this node). */
    delivered: number
    /** Messages dropped: by current subscriptions whose buffer was full, plus copies for nodes that were not reading. */
    dropped: number
  }
  table: {
    /** Live keys in the default table (`state`). */
    size: number
    /** Live keys per named table opened in this process (the default one included). */
    tables: Record<string, number>
    /** Estimated native memory of all tables, in bytes (see {@link Table.memory}). */
    memory: number
    /** The same estimate per table. */
    memoryByTable: Record<string, number>
  }
  /** This process's memory (bytes); the tables' native memory is part of `rss` (estimated apart in `table.memory`). */
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number }
  supervisors: {
    /** Child restarts by every supervisor of this node. */
    restarts: number
  }
  /** Application frames exchanged with other nodes (the transport's own heartbeats excluded). */
  frames: { in: number; out: number; bytesIn: number; bytesOut: number }
  /** Connected peers, then peers lost in the last five minutes. */
  peers: PeerMetrics[]
  /** The process hubs watched with {@link metrics.watchHub} on this node (empty if none). */
  hubs: HubMetrics[]
}

/** Peers lost recently, kept so a dashboard can show them down. */
const lost = new Map<string, { reason: string; since: number }>()
const LOST_KEEP_MS = 5 * 60_000

addListener('nodedown', (peer, info) => {
  lost.set(peer, { reason: String(info.reason ?? 'unknown'), since: Date.now() })
})
addListener('nodeup', (peer) => {
  lost.delete(peer)
})

function peersNow(now: number): PeerMetrics[] {
  // An addon built before peerStats existed: connected peers, without transport figures.
  const stats = peerStats() ?? nodes().map((n) => ({ node: n, rttMicros: NaN, bytesSent: 0, bytesReceived: 0, lostPackets: 0, queuedBytes: 0 }))
  const out: PeerMetrics[] = stats.map((p) => ({
    node: p.node,
    state: 'up',
    rttMs: Number.isNaN(p.rttMicros) ? null : p.rttMicros / 1000,
    bytesSent: p.bytesSent,
    bytesReceived: p.bytesReceived,
    lostPackets: p.lostPackets,
    queuedBytes: p.queuedBytes,
  }))
  const up = new Set(nodes())
  for (const [peer, l] of lost) {
    if (now - l.since > LOST_KEEP_MS) lost.delete(peer)
    else if (!up.has(peer)) {
      out.push({ node: peer, state: 'down', rttMs: null, bytesSent: 0, bytesReceived: 0, lostPackets: 0, queuedBytes: 0, reason: l.reason, since: l.since })
    }
  }
  return out
}

function latency(): MetricsSnapshot['rpc']['latency'] {
  const buckets: HistogramBucket[] = []
  let cumulative = 0
  for (let i = 0; i < rpcLatencyBuckets.length; i++) {
    cumulative += rpcLatencyBuckets[i]!
    buckets.push({ le: RPC_BUCKETS_MS[i] ?? Infinity, count: cumulative })
  }
  return { count: counters.rpcLatencyCount, sumMs: counters.rpcLatencySumMs, buckets }
}

function snapshot(): MetricsSnapshot {
  const now = Date.now()
  let count = 0
  let mailboxTotal = 0
  let mailboxMax = 0
  for (const pid of livePids()) {
    const p = pid.proc
    if (p === null) continue
    count++
    const n = mailboxLength(p)
    mailboxTotal += n
    if (n > mailboxMax) mailboxMax = n
  }
  let localMembers = 0
  let subscriberDrops = 0
  for (const t of topics.values()) {
    localMembers += t.localCount
    for (const m of t.locals) {
      // Subscriptions count what their full buffer dropped.
      const d = (m as { dropped?: unknown }).dropped
      if (m.active && typeof d === 'number') subscriberDrops += d
    }
  }
  const tables: Record<string, number> = {}
  const memoryByTable: Record<string, number> = {}
  let tableMemory = 0
  for (const name of Table.names()) {
    const t = Table.open(name)
    tables[name] = t.size()
    tableMemory += memoryByTable[name] = t.memory()
  }
  const mem = process.memoryUsage()
  return {
    node: node(),
    time: now,
    enabled: counters.on,
    processes: { count, mailboxTotal, mailboxMax },
    messages: { sent: counters.messagesSent, received: counters.messagesReceived },
    rpc: {
      calls: counters.rpcCalls,
      errors: counters.rpcErrors,
      served: counters.rpcServed,
      casts: counters.rpcCasts,
      pending: pendingCallCount(),
      latency: latency(),
    },
    pubsub: {
      topics: topics.size,
      localMembers,
      published: counters.pubsubPublished,
      delivered: counters.pubsubDelivered,
      dropped: subscriberDrops + counters.pubsubRemoteDropped,
    },
    table: { size: tables.state ?? 0, tables, memory: tableMemory, memoryByTable },
    memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external },
    supervisors: { restarts: counters.supervisorRestarts },
    frames: { in: counters.framesIn, out: counters.framesOut, bytesIn: counters.frameBytesIn, bytesOut: counters.frameBytesOut },
    peers: peersNow(now),
    hubs: hubMetrics(),
  }
}

/** A `'snapshot'` listener. */
export type SnapshotListener = (snapshot: MetricsSnapshot) => void

/** What {@link metrics.on} takes. */
export interface SnapshotListenerOptions {
  /** Milliseconds between snapshots, ≥ 100; default 1000. */
  interval?: number
}

const listeners = new Map<SnapshotListener, ReturnType<typeof setInterval>>()

function on(event: 'snapshot', fn: SnapshotListener, options?: SnapshotListenerOptions): () => void {
  if (event !== 'snapshot') throw new TypeError(`metrics.on: unknown event ${JSON.stringify(event)}; the only event is 'snapshot'`)
  if (typeof fn !== 'function') throw new TypeError('metrics.on: the listener must be a function (snapshot) => void')
  checkOptions(options, 'metrics.on: options')
  const interval = options?.interval ?? 1000
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 100) {
    throw new RangeError('metrics.on: interval must be a number of milliseconds ≥ 100')
  }
  off('snapshot', fn)
  const timer = setInterval(() => {
    try {
      fn(snapshot())
    } catch {
      // A listener's failure is its own; the next tick tries again.
    }
  }, interval)
  // Observing a node never keeps it alive.
  timer.unref?.()
  listeners.set(fn, timer)
  return () => off('snapshot', fn)
}

function off(event: 'snapshot', fn: SnapshotListener): boolean {
  if (event !== 'snapshot') throw new TypeError(`metrics.off: unknown event ${JSON.stringify(event)}`)
  const timer = listeners.get(fn)
  if (timer === undefined) return false
  clearInterval(timer)
  listeners.delete(fn)
  return true
}

function reset(): void {
  for (const k of Object.keys(counters) as Array<keyof typeof counters>) if (k !== 'on') counters[k] = 0
  rpcLatencyBuckets.fill(0)
}

/**
 * This node's metrics: cheap counters, read on demand.
 *
 * @example
 * const s = metrics.snapshot()
 * console.log(s.processes.count, s.rpc.latency.count, s.peers.map((p) => `${p.node} ${p.rttMs} ms`))
 * const stop = metrics.on('snapshot', (s) => pubsub.publish('telemetry:node', s.messages), { interval: 5000 })
 * const text = await metrics.prometheus()   // for a scrape endpoint
 */
export const metrics = {
  /** Every figure of this node now (cost proportional to the number of processes and topics). */
  snapshot,
  /**
   * Calls `fn` with a snapshot every `interval` ms (default 1000) until the
   * returned function (or `metrics.off`) is called. The timer never keeps
   * the process alive. A listener added twice keeps only its latest interval.
   */
  on,
  /** Stops a `'snapshot'` listener; whether it was listening. */
  off,
  /** Turns counting off (the counters keep their values; a snapshot still reads the live state). */
  disable(): void {
    counters.on = false
  },
  /** Turns counting back on (the default). */
  enable(): void {
    counters.on = true
  },
  /**
   * Adds a process hub's figures to this node's snapshots (and so to the
   * dashboard): children per node, migrations into this node, restarts of
   * local children, and the latest moves. Call it on every node of the hub
   * after `Hub.start`. Returns a function that stops watching; a stopped
   * hub is dropped by itself.
   */
  watchHub(hub: Hub): () => void {
    if (typeof hub !== 'object' || hub === null || typeof (hub as Hub).on !== 'function' || typeof (hub as Hub).whichChildren !== 'function') {
      throw new TypeError('metrics.watchHub: expected a Hub (from Hub.start)')
    }
    return watchHub(hub)
  },
  /** Stops watching a hub; whether it was watched. */
  unwatchHub,
  /** Sets every counter and the latency histogram back to zero. */
  reset,
  /**
   * The snapshot in the Prometheus text exposition format (version 0.0.4),
   * built with prom-client; serve it with {@link metrics.contentType}.
   */
  async prometheus(): Promise<string> {
    const { prometheusText } = await import('./metrics-prometheus.js')
    return prometheusText(snapshot())
  },
  /** The Content-Type of {@link metrics.prometheus}'s text. */
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
  /**
   * A `serve()` handler answering `GET /metrics` with the Prometheus text
   * (404 for any other path), to mount as is or call from your own handler.
   */
  async handler(req: Request): Promise<Response> {
    if (new URL(req.url).pathname !== '/metrics') return new Response('not found', { status: 404 })
    return new Response(await metrics.prometheus(), { headers: { 'content-type': metrics.contentType } })
  },
}
