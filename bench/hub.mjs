// Process hub benchmark (issue 7 item 10). Run with `npm run bench:hub`.
//
// Real node processes on 127.0.0.1: this one (node a, the driver) and forks
// of this same file (`--node`) for b, c and later d, each running hub
// 'bench' with a trivial GenServer as the child behaviour.
//
//   start N            hub.startChildren of N specs from a, awaited (each child
//                      placed on its ring owner, one frame per node per 5,000)
//                      beside the baseline: N GenServers started under one
//                      local DynamicSupervisor in this process (no placement,
//                      no registry, no network)
//   join               children moved when d joins a 3-node hub of 10,000,
//                      beside the ideal 1/N of a perfect consistent hash
//   SIGKILL            from the first survivor's nodedown until every survivor
//                      has restarted its share of the dead node's children
//                      (postRedistribution), beside starting that many
//                      children locally (the floor of any restart)
//   stop N             hub.stopChildren of the same N, beside the local
//                      DynamicSupervisor's stop() of its N
//   queued stops       N terminateChild requests queued at once in one
//                      DynamicSupervisor, per child at 100,000 beside 10,000
//                      (equal means linear; each used to scan the mailbox)
//   whereIs            lookups/s of random ids on a (native registry table)
//                      beside Map.get of a JS Map id -> pid
//
// Targets (not tests): 100,000 children across 3 nodes in ≤ 5 s; a killed
// node's ≈ 3,300 of 10,000 running elsewhere within 2 s of nodedown; a join
// moves ≤ 1.2 × 1/N; whereIs ≥ 1,000,000 lookups/s.
import { fileURLToPath } from 'node:url'
import { measureSync } from './lib/measure.mjs'
import { fmt, killBenchNodes, serveBenchNode, startDriver } from './lib/bench-nodes.mjs'
import { pinNativeAddon } from './lib/pin-addon.mjs'

const SELF = fileURLToPath(import.meta.url)
const asNode = process.argv[2] === '--node'
if (!asNode) pinNativeAddon() // before ironwood loads; the forks inherit it
const { DynamicSupervisor, GenServer, Hub, cluster, node, nodes } = await import('ironwood')

class Device extends GenServer {
  init(arg) {
    this.arg = arg
  }
  handleCall() {
    return this.arg
  }
}
Hub.define('device', Device)
const HUB = { id: 'bench', sync: { strategy: 'pubsub', interval: 15_000 }, discoverInterval: 1000 }
// Heartbeats tolerant of a saturated 2-core machine (4 busy processes): the
// kill figures are taken from nodedown, so detection time is not in them.
const FAST = { heartbeatInterval: 250, heartbeatTimeout: 3000 }

if (asNode) {
  // --- a forked hub node, driven over IPC ---------------------------------------
  const { name, cookie, seeds } = JSON.parse(process.argv[3])
  await cluster.start({ name, cookie, seeds, ...FAST })
  const hub = await Hub.start(HUB)
  const marks = { nodedown: 0, redistributed: 0 }
  cluster.on('nodedown', () => (marks.nodedown ||= Date.now()))
  hub.on('postRedistribution', (p) => {
    if (p.event === 'nodedown') marks.redistributed = Date.now()
  })
  const commands = {
    members: () => hub.nodes().length,
    local: () => hub.processList('local').length,
    marks: () => marks,
    reset: () => Object.assign(marks, { nodedown: 0, redistributed: 0 }),
  }
  serveBenchNode(commands, node())
} else {
  // --- the driver ---------------------------------------------------------------
  const started = performance.now()
  const log = (...a) => console.error(...a)
  const { forkNode, until } = await startDriver(cluster, node, SELF, FAST, { ms: 60_000, every: 5 })

  const ids = (n, p) => Array.from({ length: n }, (_, i) => `${p}:${i}`)
  const specs = (list) => list.map((id) => ({ id, start: ['device', [id]] }))

  // Baseline: N GenServers under one local DynamicSupervisor, one
  // startChild each (as a user would write it); `stopMs` is its stop().
  let lastLocalStopMs = 0
  async function localStart(n) {
    const sup = await DynamicSupervisor.start({ maxRestarts: 100, maxSeconds: 4 })
    const t0 = performance.now()
    await Promise.all(Array.from({ length: n }, (_, i) => sup.startChild({ start: () => GenServer.start(Device, i) })))
    const ms = performance.now() - t0
    const s0 = performance.now()
    await sup.stop()
    lastLocalStopMs = performance.now() - s0
    return ms
  }

  // terminateChild of every child at once (n requests queued in the
  // supervisor's mailbox): the cost per child at 10,000 and at 100,000. Each
  // stop used to scan the whole mailbox (quadratic); equal costs per child
  // mean linear.
  async function queuedStops(n) {
    const sup = await DynamicSupervisor.start({ maxRestarts: 100, maxSeconds: 4 })
    const started = await sup.startChildren(Array.from({ length: n }, (_, i) => ({ start: () => GenServer.start(Device, i) })))
    const t0 = performance.now()
    await Promise.all(started.map((r) => sup.terminateChild(r.pid)))
    const ms = performance.now() - t0
    await sup.stop()
    return ms
  }

  const hub = await Hub.start(HUB)
  const [b, c] = await Promise.all([forkNode('b'), forkNode('c')])
  await until('three members', async () => hub.nodes().length === 3 && (await b.call('members')) === 3 && (await c.call('members')) === 3)
  log('3 hub members up')

  const startFigures = []
  for (const n of [10_000, 100_000]) {
    const base = await localStart(n)
    const list = ids(n, `s${n}`)
    const t0 = performance.now()
    const r = await hub.startChildren(specs(list), { timeout: 120_000 })
    const ms = performance.now() - t0
    if (r.status !== 'ok') throw new Error(`start ${n}: ${r.errors.length} errors, first ${JSON.stringify(r.errors[0])}`)
    const baseStop = lastLocalStopMs
    log(`start ${fmt(n)}: ${fmt(ms)} ms (local DynamicSupervisor ${fmt(base)} ms)`)
    const s0 = performance.now()
    await hub.stopChildren(list, { timeout: 120_000 })
    const stopMs = performance.now() - s0
    startFigures.push({ n, ms, base, stopMs, baseStop })
    log(`stop ${fmt(n)}: ${fmt(stopMs)} ms (local DynamicSupervisor.stop ${fmt(baseStop)} ms)`)
    await until('registry empty', () => hub.processList().length === 0)
  }

  const stops10k = await queuedStops(10_000)
  const stops100k = await queuedStops(100_000)
  log(`terminateChild × 10,000 queued: ${fmt(stops10k)} ms; × 100,000: ${fmt(stops100k)} ms`)

  // 10,000 children for the lookups, the join and the kill.
  const N = 10_000
  const list = ids(N, 'dev')
  await hub.startChildren(specs(list), { timeout: 60_000 })
  await until('10,000 registered', () => hub.processList().length === N)

  const pids = new Map(list.map((id) => [id, hub.whereIs(id)]))
  const keys = Array.from({ length: 4096 }, (_, i) => list[(i * 7919) % N])
  const lookup = measureSync((n) => {
    let hit = 0
    for (let i = 0; i < n; i++) if (hub.whereIs(keys[i & 4095]) !== undefined) hit++
    return hit
  })
  const mapGet = measureSync((n) => {
    let hit = 0
    for (let i = 0; i < n; i++) if (pids.get(keys[i & 4095]) !== undefined) hit++
    return hit
  })
  log(`whereIs ${fmt(lookup.opsPerSec)}/s, Map.get ${fmt(mapGet.opsPerSec)}/s`)

  // Join: d comes, takes what it now owns.
  const before = new Map(hub.processList().map((e) => [e.id, e.nodes[0].node]))
  const d = await forkNode('d')
  await until('four members', async () => hub.nodes().length === 4 && (await d.call('members')) === 4)
  await until('the join to settle', async () => {
    const reg = hub.processList()
    const onD = reg.filter((e) => e.nodes[0].node === d.name).length
    return reg.length === N && onD > 0 && (await d.call('local')) === onD
  })
  const after = hub.processList()
  const moved = after.filter((e) => e.nodes[0].node !== before.get(e.id)).length
  const movedToD = after.filter((e) => e.nodes[0].node === d.name).length
  log(`join moved ${moved} (${movedToD} to d)`)

  // SIGKILL: first d (≈ 1/4 of 10,000), then c (≈ 1/3 of 10,000 on three nodes).
  const kills = []
  for (const [victim, survivors] of [[d, [b, c]], [c, [b]]]) {
    const lost = hub.processList().filter((e) => e.nodes[0].node === victim.name).length
    let down = 0
    let redistributed = 0
    const onDown = (n) => {
      if (n === victim.name) down ||= Date.now()
    }
    const onPost = (p) => {
      if (p.event === 'nodedown' && p.node === victim.name) redistributed = Date.now()
    }
    cluster.on('nodedown', onDown)
    const hookId = hub.on('postRedistribution', onPost)
    for (const s of survivors) await s.call('reset')
    victim.child.kill('SIGKILL')
    await until('the victim to be gone', () => !nodes().includes(victim.name))
    await until('the children to run elsewhere', async () => {
      const reg = hub.processList()
      if (reg.length !== N || reg.some((e) => e.nodes[0].node === victim.name)) return false
      const marks = await Promise.all(survivors.map((s) => s.call('marks')))
      return redistributed > 0 && marks.every((m) => m.redistributed > 0)
    })
    const marks = await Promise.all(survivors.map((s) => s.call('marks')))
    const t0 = Math.min(down, ...marks.map((m) => m.nodedown))
    const t1 = Math.max(redistributed, ...marks.map((m) => m.redistributed))
    cluster.off('nodedown', onDown)
    hub.off('postRedistribution', hookId)
    const base = await localStart(lost)
    kills.push({ lost, of: N, nodesBefore: survivors.length + 2, ms: t1 - t0, base })
    log(`SIGKILL of ${victim.name}: ${lost} children running elsewhere ${t1 - t0} ms after nodedown (local start of as many: ${fmt(base)} ms)`)
  }

  // --- the table -------------------------------------------------------------------
  const rows = []
  const row = (...r) => rows.push(r)
  const yes = (x) => (x ? 'yes' : 'NO')
  for (const s of startFigures) {
    row(`startChildren ${fmt(s.n)}, 3 nodes (ms)`, fmt(s.ms), `local DynamicSupervisor, ${fmt(s.n)} GenServers`, fmt(s.base), `${fmt(s.ms / s.base, 2)}×`,
      s.n === 100_000 ? '≤ 5,000 ms' : '', s.n === 100_000 ? yes(s.ms <= 5000) : '')
  }
  for (const s of startFigures) {
    row(`stopChildren ${fmt(s.n)}, 3 nodes (ms)`, fmt(s.stopMs), `local DynamicSupervisor.stop, ${fmt(s.n)} children`, fmt(s.baseStop), `${fmt(s.stopMs / s.baseStop, 2)}×`, '', '')
  }
  row('terminateChild × 100,000 queued at once (µs per child)', fmt((stops100k * 1000) / 100_000, 1), 'the same × 10,000 (µs per child)', fmt((stops10k * 1000) / 10_000, 1),
    `${fmt(stops100k / 10 / stops10k, 2)}×`, 'linear (≈ 1×)', '')
  const ideal = N / 4
  row('children moved on a join, 3 → 4 nodes', `${fmt(moved)} of ${fmt(N)}`, 'ideal 1/N', fmt(ideal), `${fmt(moved / ideal, 2)}× 1/N`, '≤ 1.2× 1/N', yes(moved <= 1.2 * ideal))
  for (const k of kills) {
    row(`SIGKILL, ${k.nodesBefore} → ${k.nodesBefore - 1} nodes: nodedown → ${fmt(k.lost)} children running (ms)`, fmt(k.ms), `local start of ${fmt(k.lost)}`, fmt(k.base), `${fmt(k.ms / k.base, 2)}×`,
      '≤ 2,000 ms', yes(k.ms <= 2000))
  }
  row('whereIs (lookups/s)', fmt(lookup.opsPerSec), 'Map.get id -> pid', fmt(mapGet.opsPerSec), `${fmt(lookup.opsPerSec / mapGet.opsPerSec, 3)}×`, '≥ 1,000,000/s', yes(lookup.opsPerSec >= 1_000_000))

  const head = ['metric', 'ironwood', 'baseline', 'baseline value', 'ratio', 'target', 'met?']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (r) => `| ${r.map((x, i) => String(x).padEnd(widths[i])).join(' | ')} |`
  console.log(`\nProcess hub, real processes on 127.0.0.1 (node ${process.version}, ${((performance.now() - started) / 1000) | 0} s)`)
  console.log(line(head))
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`)
  for (const r of rows) console.log(line(r))
  killBenchNodes()
  await hub.stop().catch(() => {})
  await cluster.stop()
  process.exit(0)
}
