/**
 * A snapshot (ts/metrics.ts) as Prometheus text, written by prom-client's
 * own registry so the exposition format (escaping, HELP/TYPE lines, label
 * syntax) is the well-kept library's, not ours. Loaded on the first scrape
 * only: a node that never exports metrics never loads prom-client.
 * @internal
 * @module
 */
import { Counter, Gauge, type Metric, Registry } from 'prom-client'

import type { MetricsSnapshot } from './metrics.js'

const registry = new Registry()
/** The snapshot the collectors read during one `registry.metrics()`. */
let current: MetricsSnapshot | undefined

type Read = (s: MetricsSnapshot) => number

function gauge(name: string, help: string, read: Read): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      if (current !== undefined) this.set(read(current))
    },
  })
}

function counter(name: string, help: string, read: Read): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      if (current === undefined) return
      this.reset()
      this.inc(read(current))
    },
  })
}

/** A gauge with one series per label value, rebuilt from each snapshot. */
function labelled(name: string, help: string, label: string, read: (s: MetricsSnapshot) => Array<[string, number]>): void {
  new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset()
      if (current === undefined) return
      for (const [value, v] of read(current)) this.set({ [label]: value }, v)
    },
  })
}

gauge('ironwood_processes', 'Live local processes.', (s) => s.processes.count)
gauge('ironwood_mailbox_messages', 'Messages waiting in all local mailboxes.', (s) => s.processes.mailboxTotal)
gauge('ironwood_mailbox_max', 'The longest local mailbox.', (s) => s.processes.mailboxMax)
counter('ironwood_messages_sent_total', 'send() calls.', (s) => s.messages.sent)
counter('ironwood_messages_received_total', 'Messages put in local mailboxes.', (s) => s.messages.received)
counter('ironwood_rpc_calls_total', 'rpc.call()s made from this node.', (s) => s.rpc.calls)
counter('ironwood_rpc_errors_total', 'rpc.call()s that failed.', (s) => s.rpc.errors)
counter('ironwood_rpc_served_total', 'RPC calls other nodes made to this node.', (s) => s.rpc.served)
counter('ironwood_rpc_casts_served_total', 'RPC casts other nodes made to this node.', (s) => s.rpc.casts)
gauge('ironwood_rpc_pending', 'RPC calls waiting for a reply.', (s) => s.rpc.pending)
gauge('ironwood_pubsub_topics', 'Pub/sub topics with members.', (s) => s.pubsub.topics)
gauge('ironwood_pubsub_local_members', 'Local pub/sub members over all topics.', (s) => s.pubsub.localMembers)
counter('ironwood_pubsub_published_total', 'pubsub.publish() calls on this node.', (s) => s.pubsub.published)
counter('ironwood_pubsub_delivered_total', 'Local pub/sub deliveries.', (s) => s.pubsub.delivered)
counter('ironwood_pubsub_dropped_total', 'Pub/sub messages dropped (full subscription buffers, slow nodes).', (s) => s.pubsub.dropped)
counter('ironwood_supervisor_restarts_total', 'Child restarts by local supervisors.', (s) => s.supervisors.restarts)
counter('ironwood_frames_in_total', 'Application frames received from other nodes.', (s) => s.frames.in)
counter('ironwood_frames_out_total', 'Application frames queued to other nodes.', (s) => s.frames.out)
counter('ironwood_frame_bytes_in_total', 'Application frame payload bytes received.', (s) => s.frames.bytesIn)
counter('ironwood_frame_bytes_out_total', 'Application frame payload bytes queued.', (s) => s.frames.bytesOut)
gauge('ironwood_memory_rss_bytes', 'Resident memory of the process (the native tables included).', (s) => s.memory.rss)
gauge('ironwood_memory_heap_used_bytes', 'V8 heap in use.', (s) => s.memory.heapUsed)
labelled('ironwood_table_keys', 'Live keys per shared table.', 'table', (s) => Object.entries(s.table.tables))
labelled('ironwood_table_memory_bytes', 'Estimated native memory per shared table (entries, keys and values).', 'table', (s) => Object.entries(s.table.memoryByTable))
labelled('ironwood_peer_up', '1 for a connected peer, 0 for one lost recently.', 'peer', (s) =>
  s.peers.map((p) => [p.node, p.state === 'up' ? 1 : 0]),
)
labelled('ironwood_peer_rtt_seconds', 'QUIC smoothed round-trip time to each connected peer.', 'peer', (s) =>
  s.peers.filter((p) => p.rttMs !== null).map((p) => [p.node, p.rttMs! / 1000]),
)
labelled('ironwood_peer_sent_bytes', 'UDP bytes sent to each peer on its current connection.', 'peer', (s) =>
  s.peers.filter((p) => p.state === 'up').map((p) => [p.node, p.bytesSent]),
)
labelled('ironwood_peer_received_bytes', 'UDP bytes received from each peer on its current connection.', 'peer', (s) =>
  s.peers.filter((p) => p.state === 'up').map((p) => [p.node, p.bytesReceived]),
)
labelled('ironwood_hub_local_children', 'Children of each watched process hub running on this node.', 'hub', (s) =>
  s.hubs.map((h) => [h.id, h.localChildren]),
)
labelled('ironwood_hub_migrations', 'Children that migrated into this node, per watched hub.', 'hub', (s) => s.hubs.map((h) => [h.id, h.migrations]))
labelled('ironwood_hub_restarts', 'Local children restarted, per watched hub.', 'hub', (s) => s.hubs.map((h) => [h.id, h.restarts]))

// The RPC latency histogram is kept as bucket counts by the counters
// (prom-client's Histogram only takes observations one by one), so it is
// handed to the registry as a metric object of its own.
const latency = {
  name: 'ironwood_rpc_latency_seconds',
  help: 'Round-trip latency of completed remote rpc.call()s (one call in 8 is timed).',
  type: 'histogram',
  aggregator: 'sum',
  get() {
    const l = current?.rpc.latency
    const values = (l?.buckets ?? []).map((b) => ({
      metricName: 'ironwood_rpc_latency_seconds_bucket',
      labels: { le: b.le === Infinity ? '+Inf' : String(b.le / 1000) },
      value: b.count,
    }))
    values.push(
      { metricName: 'ironwood_rpc_latency_seconds_sum', labels: {} as { le: string }, value: (l?.sumMs ?? 0) / 1000 },
      { metricName: 'ironwood_rpc_latency_seconds_count', labels: {} as { le: string }, value: l?.count ?? 0 },
    )
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  },
}
registry.registerMetric(latency as unknown as Metric)

/** @internal The snapshot as Prometheus text (format 0.0.4), every series labelled with its node. */
export function prometheusText(s: MetricsSnapshot): Promise<string> {
  // One scrape at a time: the collectors read the module's `current`.
  const run = queue.then(async () => {
    current = s
    registry.setDefaultLabels({ node: s.node })
    try {
      return await registry.metrics()
    } finally {
      current = undefined
    }
  })
  queue = run.catch(() => undefined)
  return run
}

let queue: Promise<unknown> = Promise.resolve()
