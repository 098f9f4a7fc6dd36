// Metrics benchmark (issue 9 item 5). Run with `npm run bench:metrics`.
//
// What counting costs: the same workloads with metrics on and off
// (`metrics.enable()` / `metrics.disable()` on every node involved), in the
// same run, measured in interleaved passes (on, off, on, off, …) with each
// variant keeping its best pass (bench/lib/measure.mjs explains why):
//
//   rpc 64 in flight   calls/s of add(1, 2) to a forked node, 64 outstanding
//                      (bench/rpc.mjs's workload)
//   pub/sub local      deliveries/s, 1 publisher → 1,000 callback subscribers
//                      (bench/pubsub.mjs's "local callbacks" workload)
//   send/receive       messages/s between two local processes
//
// Then the dashboard's feed: 10,000 processes over 3 nodes (this one and two
// forked), a dashboard on this node with one browser-like WebSocket client
// that chose this node's tree; reports updates/s and bytes/s of the feed.
//
// Targets (not tests): metrics on costs ≤ 5% of RPC and pub/sub throughput;
// the feed updates ≥ 1/s and stays < 100 KB/s.
//
//   METRICS_BENCH_MS=4000     time per workload (split over the passes)
//   METRICS_BENCH_PASSES=8    interleaved passes per workload
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { pinNativeAddon } from './lib/pin-addon.mjs'
import { compareAsync, compareSync } from './lib/measure.mjs'

const ROLE = process.argv[2]
const PROCESSES = 10_000

// --- the forked node ------------------------------------------------------------
if (ROLE === 'server') {
  const { DynamicSupervisor, GenServer, cluster, metrics, node, rpc } = await import('ironwood')
  class Idle extends GenServer {}
  rpc.register('bench', {
    add: (a, b) => a + b,
    setMetrics: (on) => {
      if (on) metrics.enable()
      else metrics.disable()
      return on
    },
    spawn: async (n) => {
      const sup = await DynamicSupervisor.start({ maxChildren: Infinity })
      for (let i = 0; i < n; i++) await sup.startChild({ start: () => GenServer.start(Idle, null) })
      return n
    },
  })
  await cluster.start({ name: `server${process.argv[3]}`, cookie: process.env.IRONWOOD_BENCH_COOKIE })
  process.send({ node: node() })
  process.on('disconnect', () => process.exit(0))
} else {
  await main()
}

async function main() {
  const pinned = pinNativeAddon() // before ironwood loads; the forks inherit it
  const { DynamicSupervisor, GenServer, cluster, dashboard, metrics, pubsub, rpc, send, spawn } = await import('ironwood')
  const WebSocket = (await import('ws')).default
  const MS = Number(process.env.METRICS_BENCH_MS ?? 4000)
  const PASSES = Number(process.env.METRICS_BENCH_PASSES ?? 8)
  const INFLIGHT = 64
  const cookie = randomBytes(16).toString('hex')
  const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
  const log = (...a) => console.error(...a)

  const children = []
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  })
  const forkServer = async (i) => {
    const child = fork(new URL(import.meta.url), ['server', String(i)], {
      env: { ...process.env, IRONWOOD_BENCH_COOKIE: cookie },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    children.push(child)
    return new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(m.node))
      child.once('exit', (code) => reject(new Error(`server exited early (${code})`)))
    })
  }

  await cluster.start({ name: 'client', cookie })
  const peers = [await forkServer(1), await forkServer(2)]
  for (const p of peers) if (!(await cluster.connect(p))) throw new Error(`could not connect to ${p}`)
  const peer = peers[0]

  async function setMetrics(on) {
    if (on) metrics.enable()
    else metrics.disable()
    await Promise.all(peers.map((p) => rpc.call(p, 'bench', 'setMetrics', [on])))
  }
  // A body that sets the mode first: compareAsync runs the bodies in turn.
  let mode = true
  const withMetrics = (on, body) => async (n) => {
    if (mode !== on) {
      await setMetrics(on)
      mode = on
    }
    return body(n)
  }

  // --- 1. RPC, 64 in flight -------------------------------------------------------
  // Each body call runs n calls with 64 outstanding at all times.
  async function rpcBody(n) {
    let started = 0
    const worker = async () => {
      while (started < n) {
        started++
        await rpc.call(peer, 'bench', 'add', [1, 2])
      }
    }
    await Promise.all(Array.from({ length: INFLIGHT }, worker))
    return n
  }
  log('rpc: 64 in flight, metrics on vs off')
  const rpcR = await compareAsync({ on: withMetrics(true, rpcBody), off: withMetrics(false, rpcBody) }, { ms: MS, passes: PASSES, batchMs: 100 })

  // --- 2. pub/sub local: 1 → 1,000 callback subscribers ---------------------------
  let delivered = 0
  for (let i = 0; i < 1000; i++) pubsub.subscribe('bench:metrics', () => void delivered++)
  const reading = (i) => ({ deviceId: 'device-42', seq: i, celsius: 21.5, ts: 1_700_000_000_000 + i })
  const pubBody = (on) => (n) => {
    if (on) metrics.enable()
    else metrics.disable()
    const before = delivered
    for (let i = 0; i < n; i++) pubsub.publish('bench:metrics', reading(i))
    return delivered - before
  }
  log('pub/sub local: 1,000 callback subscribers, metrics on vs off')
  const pubR = compareSync({ on: pubBody(true), off: pubBody(false) }, { ms: MS, passes: PASSES })

  // --- 3. send / receive between two local processes ------------------------------
  let onDone = null
  let want = 0
  let got = 0
  const sink = spawn(async (self) => {
    for (;;) {
      await self.receive()
      if (++got === want) onDone()
    }
  })
  const sendBody = (on) => async (n) => {
    if (on) metrics.enable()
    else metrics.disable()
    got = 0
    want = n
    const done = new Promise((r) => (onDone = r))
    for (let i = 0; i < n; i++) send(sink, i)
    await done
    return n
  }
  log('send/receive: metrics on vs off')
  const sendR = await compareAsync({ on: sendBody(true), off: sendBody(false) }, { ms: MS, passes: PASSES })
  await setMetrics(true)
  mode = true

  // --- 4. the dashboard's feed with 10,000 processes over 3 nodes -----------------
  log(`dashboard: spawning ${fmt(PROCESSES)} processes over 3 nodes`)
  class Idle extends GenServer {}
  const third = Math.floor(PROCESSES / 3)
  const sup = await DynamicSupervisor.start({ maxChildren: Infinity })
  const mine = PROCESSES - 2 * third
  for (let i = 0; i < mine; i++) await sup.startChild({ start: () => GenServer.start(Idle, null) })
  await Promise.all(peers.map((p) => rpc.call(p, 'bench', 'spawn', [third], { timeout: 120_000 })))
  const d = await dashboard({ interval: 1000 })
  const ws = new WebSocket(`ws://127.0.0.1:${d.port}/ws`)
  let bytes = 0
  let updates = 0
  let trees = 0
  let total = 0
  let arrivals = []
  const overviewNodes = new Set()
  ws.on('message', (data) => {
    const text = String(data)
    bytes += Buffer.byteLength(text)
    const m = JSON.parse(text)
    if (m.type === 'overview') {
      updates++
      arrivals.push(performance.now())
      total = 0
      for (const n of m.nodes) if (n.overview) (overviewNodes.add(n.node), (total += n.overview.processes.count))
    } else if (m.type === 'tree') trees++
  })
  await new Promise((r) => ws.once('open', r))
  await new Promise((r) => setTimeout(r, 2000)) // the first full tree and overviews
  bytes = 0
  updates = 0
  trees = 0
  arrivals = []
  const FEED_S = 10
  await new Promise((r) => setTimeout(r, FEED_S * 1000))
  const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]).sort((x, y) => x - y)
  const feed = {
    bytesPerSec: bytes / FEED_S,
    updatesPerSec: updates / FEED_S,
    medianGapMs: gaps[gaps.length >> 1] ?? NaN,
    maxGapMs: gaps.at(-1) ?? NaN,
    trees,
    processes: total,
    nodes: overviewNodes.size,
  }
  ws.close()
  await d.stop()
  await sup.stop()

  // --- report ----------------------------------------------------------------------
  const median = (xs) => {
    const v = [...xs].sort((a, b) => a - b)
    return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2
  }
  // Two views of the same passes: the best pass of each (the usual rule of
  // bench/lib/measure.mjs) and the median pass of each (less swayed by one
  // lucky pass when the machine is loaded).
  const line = (name, r, unit) => {
    const best = r.on.opsPerSec / r.off.opsPerSec
    const med = median(r.on.passes) / median(r.off.passes)
    console.log(
      `${name.padEnd(22)} on ${fmt(r.on.opsPerSec).padStart(12)} ${unit}   off ${fmt(r.off.opsPerSec).padStart(12)} ${unit}   ` +
        `on/off best ${best.toFixed(3)} (cost ${((1 - best) * 100).toFixed(1)}%)   median ${med.toFixed(3)} (cost ${((1 - med) * 100).toFixed(1)}%)`,
    )
  }
  console.log(`\nmetrics on vs off (best of ${PASSES} interleaved passes, ${MS} ms per workload; addon ${pinned.source ?? 'from dist'})`)
  line('rpc 64 in flight', rpcR, 'calls/s')
  line('pub/sub local 1→1000', pubR, 'deliv/s')
  line('send/receive', sendR, 'msgs/s')
  for (const [name, r] of [['rpc', rpcR], ['pub/sub', pubR], ['send', sendR]]) {
    console.log(`  ${name} passes  on: ${r.on.passes.map((x) => fmt(x)).join(', ')}   off: ${r.off.passes.map((x) => fmt(x)).join(', ')}`)
  }
  console.log(
    `\ndashboard feed: ${fmt(feed.processes)} processes on ${feed.nodes} nodes, one client: ${feed.updatesPerSec.toFixed(2)} updates/s ` +
      `(median gap ${fmt(feed.medianGapMs)} ms, max ${fmt(feed.maxGapMs)} ms), ` +
      `${fmt(feed.bytesPerSec / 1024, 1)} KB/s (target < 100 KB/s), ${feed.trees} tree messages in ${FEED_S} s`,
  )
  await cluster.stop()
  for (const c of children) c.kill('SIGKILL')
  pinned.remove()
  process.exit(0)
}
