/**
 * The counters behind `metrics.snapshot()` (ts/metrics.ts): plain numbers
 * bumped on paths that already exist (a send, a delivery, an RPC reply), so
 * counting costs one integer add and no allocation or timer. Everything
 * else a snapshot reports (processes, mailboxes, topics, the table, peers)
 * is read on demand when the snapshot is taken. This file imports nothing,
 * so the hot modules can import it without cycles.
 * @internal
 * @module
 */

/** The upper bounds (ms) of the RPC latency histogram's buckets; the last bucket is everything above. */
export const RPC_BUCKETS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000]

/** @internal The live counters. One object with a fixed shape, so each bump is a monomorphic field add. */
export const counters = {
  /** Whether counting is on (`metrics.disable()` turns it off, for the on/off benchmark). */
  on: true,
  messagesSent: 0,
  messagesReceived: 0,
  /** Remote RPC calls made from this node (local calls included). */
  rpcCalls: 0,
  /** Calls that ended in an error (remote error, timeout, no connection). */
  rpcErrors: 0,
  /** Calls and casts other nodes made to this node. */
  rpcServed: 0,
  rpcCasts: 0,
  /** Sum of completed remote calls' latency, ms. */
  rpcLatencySumMs: 0,
  /** Completed remote calls (the histogram's count). */
  rpcLatencyCount: 0,
  pubsubPublished: 0,
  /** Local deliveries (one per member a publication reached on this node). */
  pubsubDelivered: 0,
  /** Copies for other nodes dropped because the node was not reading fast enough. */
  pubsubRemoteDropped: 0,
  supervisorRestarts: 0,
  framesIn: 0,
  framesOut: 0,
  frameBytesIn: 0,
  frameBytesOut: 0,
}

/** @internal RPC latency histogram: counts per bucket of {@link RPC_BUCKETS_MS}, plus one overflow bucket. */
export const rpcLatencyBuckets = new Float64Array(RPC_BUCKETS_MS.length + 1)

/** @internal Restarts per supervisor (keyed by its Pid object), for the dashboard's tree. */
export const restartsBySupervisor = new WeakMap<object, number>()

/** The latency histogram times one call in {@link RPC_SAMPLE} (two clock reads were ~5 % of a call at 120k calls/s). */
export const RPC_SAMPLE = 8
let sampleTick = 0

/** @internal A clock reading for a timed call's start, or 0 for a call not sampled or with counting off. */
export function callStarted(): number {
  if (!counters.on || ++sampleTick < RPC_SAMPLE) return 0
  sampleTick = 0
  return performance.now()
}

/** @internal Records one completed remote call; its latency if it was timed ({@link callStarted}). */
export function callEnded(started: number, ok: boolean): void {
  if (!counters.on) return
  if (!ok) counters.rpcErrors++
  if (started === 0) return
  const ms = performance.now() - started
  counters.rpcLatencySumMs += ms
  counters.rpcLatencyCount++
  let i = 0
  const n = RPC_BUCKETS_MS.length
  while (i < n && ms > RPC_BUCKETS_MS[i]!) i++
  rpcLatencyBuckets[i] = rpcLatencyBuckets[i]! + 1
}

/** Restarts per supervised child (the supervisor's record of it, which outlives each pid). */
const restartsOfChild = new WeakMap<object, number>()
/** @internal Restarts of the child each live pid belongs to, for the dashboard's tree. */
export const restartsByPid = new WeakMap<object, number>()

/** @internal A supervisor restarted `child`, which now runs as `pid`. */
export function childRestarted(child: object, pid: object | null): void {
  if (!counters.on || pid === null) return
  const n = (restartsOfChild.get(child) ?? 0) + 1
  restartsOfChild.set(child, n)
  restartsByPid.set(pid, n)
}

/** @internal A supervisor restarted a child. */
export function supervisorRestarted(supervisor: object): void {
  if (!counters.on) return
  counters.supervisorRestarts++
  restartsBySupervisor.set(supervisor, (restartsBySupervisor.get(supervisor) ?? 0) + 1)
}
