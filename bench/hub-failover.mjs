// Hub failover and hot-swap benchmark (issue 8 item 8). Run with `npm run bench:hub-failover`.
//
// Real node processes on 127.0.0.1: this one (node a, the driver) and forks
// of this same file (`--node`), each running the hubs the driver asks for.
//
//   replica restore    10,000 children with redundancy replication (factor 2)
//                      on 3 nodes; SIGKILL one: from the first survivor's
//                      nodedown until every survivor has finished restoring
//                      the lost replicas (postRedistribution), checked
//                      afterwards: every child has 2 replicas on live nodes.
//                      Baseline, same run: the same kill under singularity
//                      (10,000 children, the dead node's share restarted).
//   hot-swap join      12,000 children with state (hot_swap, handover) on 3
//                      nodes; a 4th joins and takes ≈ 3,000 of them: from the
//                      newcomer's Hub.start until every old node has handed
//                      its share over and stopped the old instances
//                      (postRedistribution) and the newcomer runs all of
//                      them (polled), checked afterwards: every child on the
//                      newcomer started from its handed-over state.
//                      Baseline, same run: the same join under cold_swap.
//
// Targets (not tests): replica count restored within 3 s of nodedown for
// 10,000 children; hot swap of ≈ 3,000 children with state within 3 s of
// the join.
import { fileURLToPath } from 'node:url'
import { fmt, killBenchNodes, serveBenchNode, startDriver } from './lib/bench-nodes.mjs'
import { pinNativeAddon } from './lib/pin-addon.mjs'

const SELF = fileURLToPath(import.meta.url)
const asNode = process.argv[2] === '--node'
if (!asNode) pinNativeAddon() // before ironwood loads; the forks inherit it
const { GenServer, Hub, HubRing, cluster, node, nodes } = await import('ironwood')

/** A device with state: its value travels on a hot swap (handoff → init's second argument). */
class Meter extends GenServer {
  init(arg, handedOver) {
    this.value = handedOver?.value ?? arg
    this.handed = handedOver !== undefined
  }
  handleCall() {
    return { value: this.value, handed: this.handed }
  }
  handoff() {
    return { value: this.value }
  }
}
Hub.define('meter', Meter)
const SYNC = { strategy: 'pubsub', interval: 15_000 }
const CONFIGS = {
  single: { id: 'single', sync: SYNC, discoverInterval: 1000 },
  replicated: { id: 'replicated', redundancy: { strategy: 'replication', factor: 2 }, sync: SYNC, discoverInterval: 1000 },
  cold: { id: 'cold', sync: SYNC, discoverInterval: 1000 },
  hot: { id: 'hot', migration: { strategy: 'hot_swap', retention: 10_000, handover: true }, sync: SYNC, discoverInterval: 1000 },
}
// Heartbeats tolerant of a saturated 2-core machine: the kill figures are
// taken from nodedown, so detection time is not in them.
const FAST = { heartbeatInterval: 250, heartbeatTimeout: 3000 }

/** Per hub: when its last postRedistribution ran, per event (`post_nodedown`, `post_nodeup`). */
function watch(hub, marks) {
  hub.on('postRedistribution', (p) => {
    marks[`post_${p.event}`] = Date.now()
  })
}
const clear = (o) => {
  for (const k of Object.keys(o)) delete o[k]
}

if (asNode) {
  // --- a forked hub node, driven over IPC ---------------------------------------
  const { name, cookie, seeds } = JSON.parse(process.argv[3])
  await cluster.start({ name, cookie, seeds, ...FAST })
  const hubs = new Map()
  const marks = { down: 0 }
  cluster.on('nodedown', () => (marks.down ||= Date.now()))
  const commands = {
    start: async ({ hub }) => {
      const h = await Hub.start(CONFIGS[hub])
      hubs.set(hub, { h, marks: {} })
      watch(h, hubs.get(hub).marks)
      return Date.now()
    },
    stop: async ({ hub }) => {
      await hubs.get(hub)?.h.stop()
      hubs.delete(hub)
      return true
    },
    members: ({ hub }) => hubs.get(hub)?.h.nodes().length ?? 0,
    local: ({ hub }) => hubs.get(hub)?.h.processList('local').length ?? 0,
    marks: ({ hub }) => ({ down: marks.down, ...hubs.get(hub)?.marks }),
    reset: () => {
      marks.down = 0
      for (const x of hubs.values()) clear(x.marks)
      return true
    },
    // This node's children of `hub` that started from a handed-over state, and their values' sum.
    handed: async ({ hub }) => {
      let count = 0
      let sum = 0
      for (const c of hubs.get(hub).h.processList('local')) {
        const s = await GenServer.call(c.nodes[0].pid, 'get')
        if (s.handed) count++
        sum += s.value
      }
      return { count, sum }
    },
  }
  serveBenchNode(commands, node())
} else {
  // --- the driver ---------------------------------------------------------------
  const started = performance.now()
  const log = (...a) => console.error(...a)
  const { forkNode, until } = await startDriver(cluster, node, SELF, FAST, { ms: 120_000, every: 10 })

  const ids = (n, p) => Array.from({ length: n }, (_, i) => `${p}:${i}`)
  const specs = (list) => list.map((id, i) => ({ id, start: ['meter', [i]] }))

  // The driver's own hubs, with the same marks as the forks.
  const mine = new Map()
  const startHere = async (which) => {
    const h = await Hub.start(CONFIGS[which])
    const marks = {}
    watch(h, marks)
    mine.set(which, { h, marks })
    return h
  }
  let downHere = 0
  cluster.on('nodedown', () => (downHere ||= Date.now()))

  /** Starts hub `which` on the driver and `peers`, and waits until each sees all. */
  async function hubOn(which, peers) {
    const h = await startHere(which)
    await Promise.all(peers.map((p) => p.call('start', { hub: which })))
    const n = peers.length + 1
    await until(`${which}: ${n} members`, async () => h.nodes().length === n && (await Promise.all(peers.map((p) => p.call('members', { hub: which })))).every((m) => m === n))
    return h
  }

  async function stopEverywhere(which, peers) {
    await Promise.all(peers.map((p) => p.call('stop', { hub: which })))
    await mine.get(which).h.stop()
    mine.delete(which)
  }

  /** SIGKILLs `victim` and times nodedown → every survivor's postRedistribution of hub `which`. */
  async function killAndTime(which, victim, survivors, done) {
    downHere = 0
    clear(mine.get(which).marks)
    await Promise.all(survivors.map((s) => s.call('reset')))
    victim.child.kill('SIGKILL')
    await until(`${victim.name} to be gone`, () => !nodes().includes(victim.name))
    await until(`${which}: survivors redistributed`, async () => {
      const m = await Promise.all(survivors.map((s) => s.call('marks', { hub: which })))
      return mine.get(which).marks.post_nodedown > 0 && m.every((x) => x.post_nodedown > 0)
    })
    await until(`${which}: the children restored`, done)
    const m = await Promise.all(survivors.map((s) => s.call('marks', { hub: which })))
    const t0 = Math.min(downHere, ...m.map((x) => x.down))
    const t1 = Math.max(mine.get(which).marks.post_nodedown, ...m.map((x) => x.post_nodedown))
    return t1 - t0
  }

  const N = 10_000
  // ---- replica restore, beside singularity -----------------------------------------
  let [b, c] = await Promise.all([forkNode('b'), forkNode('c')])
  const single = await hubOn('single', [b, c])
  const sList = ids(N, 's')
  let r = await single.startChildren(specs(sList), { timeout: 120_000 })
  if (r.status !== 'ok') throw new Error(`single: ${r.errors.length} errors`)
  await until('single: 10,000 registered', () => single.processList().length === N)
  const lostSingle = single.processList().filter((e) => e.nodes[0].node === c.name).length
  const singleMs = await killAndTime('single', c, [b], () => {
    const reg = single.processList()
    return reg.length === N && !reg.some((e) => e.nodes[0].node === c.name)
  })
  log(`singularity: SIGKILL of c, ${lostSingle} children restarted ${singleMs} ms after nodedown`)
  await stopEverywhere('single', [b])

  c = await forkNode('c2')
  const rep = await hubOn('replicated', [b, c])
  const rList = ids(N, 'r')
  r = await rep.startChildren(specs(rList), { timeout: 120_000 })
  if (r.status !== 'ok') throw new Error(`replicated: ${r.errors.length} errors`)
  await until('replicated: 10,000 × 2 registered', () => {
    const reg = rep.processList()
    return reg.length === N && reg.every((e) => e.nodes.length === 2)
  })
  const lostReplicas = rep.processList().filter((e) => e.nodes.some((x) => x.node === c.name)).length
  const repMs = await killAndTime('replicated', c, [b], () => {
    const reg = rep.processList()
    return reg.length === N && reg.every((e) => e.nodes.length === 2 && e.nodes.every((x) => x.node !== c.name))
  })
  log(`replication: SIGKILL of c2, ${lostReplicas} replicas restored ${repMs} ms after nodedown`)
  await stopEverywhere('replicated', [b])

  // ---- hot-swap join, beside cold swap ---------------------------------------------
  const M = 12_000
  c = await forkNode('c3')
  const joins = []
  for (const which of ['cold', 'hot']) {
    const h = await hubOn(which, [b, c])
    const list = ids(M, which)
    r = await h.startChildren(specs(list), { timeout: 120_000 })
    if (r.status !== 'ok') throw new Error(`${which}: ${r.errors.length} errors`)
    await until(`${which}: ${M} registered`, () => h.processList().length === M)
    const d = await forkNode(`d-${which}`)
    const old = [b, c]
    await Promise.all(old.map((s) => s.call('reset')))
    clear(mine.get(which).marks)
    const ring = new HubRing([node(), b.name, c.name, d.name])
    const moving = list.filter((id) => ring.owner(id) === d.name).length
    const joinedAt = await d.call('start', { hub: which })
    // Done when every old node has finished its part (postRedistribution:
    // under hot swap, after the old instances stopped) and the newcomer runs
    // every child it owns (under cold swap the old nodes finish first).
    let running = 0
    await until(`${which}: the join handled and ${moving} children on ${d.name}`, async () => {
      if (running === 0 && (await d.call('local', { hub: which })) === moving) running = Date.now()
      const m = await Promise.all(old.map((s) => s.call('marks', { hub: which })))
      return running > 0 && mine.get(which).marks.post_nodeup > 0 && m.every((x) => x.post_nodeup > 0)
    })
    const m = await Promise.all(old.map((s) => s.call('marks', { hub: which })))
    const ms = Math.max(running, mine.get(which).marks.post_nodeup, ...m.map((x) => x.post_nodeup)) - joinedAt
    const handed = await d.call('handed', { hub: which })
    joins.push({ which, ms, moving, handed })
    log(`${which} swap: ${moving} children moved to the newcomer ${ms} ms after its Hub.start (${handed.count} started from handed-over state)`)
    await stopEverywhere(which, [b, c, d])
    d.child.kill('SIGKILL')
  }

  // --- the table -------------------------------------------------------------------
  const rows = []
  const row = (...x) => rows.push(x)
  const yes = (x) => (x ? 'yes' : 'NO')
  row(`replication ×2, SIGKILL 3 → 2 nodes: nodedown → ${fmt(lostReplicas)} replicas restored (ms)`, fmt(repMs), `singularity, same kill: ${fmt(lostSingle)} children restarted`, fmt(singleMs), `${fmt(repMs / singleMs, 2)}×`, '≤ 3,000 ms', yes(repMs <= 3000))
  const [cold, hot] = joins
  row(`hot swap with handover, join 3 → 4: ${fmt(hot.moving)} children moved, ${fmt(hot.handed.count)} with state (ms)`, fmt(hot.ms), `cold swap, same join: ${fmt(cold.moving)} moved, state lost`, fmt(cold.ms), `${fmt(hot.ms / cold.ms, 2)}×`, '≤ 3,000 ms', yes(hot.ms <= 3000 && hot.handed.count === hot.moving))
  const head = ['metric', 'ironwood', 'baseline', 'baseline value', 'ratio', 'target', 'met?']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => String(x[i]).length)))
  const line = (x) => `| ${x.map((v, i) => String(v).padEnd(widths[i])).join(' | ')} |`
  console.log(`\nHub failover and hot swap, real processes on 127.0.0.1 (node ${process.version}, ${((performance.now() - started) / 1000) | 0} s)`)
  console.log(line(head))
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`)
  for (const x of rows) console.log(line(x))
  killBenchNodes()
  await cluster.stop()
  process.exit(0)
}
