// One node of the control-room demo (examples/control-room.mjs forks three).
//
// Every node defines the `device` behaviour and joins the hub `devices`;
// the hub places each of the 300 devices on one node (consistent hashing)
// and restarts them on the survivors when a node goes away. A device is a
// GenServer that takes a reading ten times a second and publishes it on the
// `telemetry` topic; now and then one fails (throws) and its supervisor
// restarts it. Each node runs an aggregator: a process member of `telemetry`
// that keeps rolling statistics in this node's shared table and publishes a
// summary on `control-room:summary` once a second. The first node serves
// the dashboard.
//
// Options come as JSON in argv[2]: { name, port, cookie, seeds, dashboardPort?, devices? }.
import { GenServer, Hub, cluster, dashboard, isAlive, metrics, node, pubsub, send, setLogger, spawn, state } from 'ironwood'

const opts = JSON.parse(process.argv[2])
const report = (msg) => process.send?.(msg)
// One line per event (a device fault, a restart, a lost node), without stacks: the faults are part of the show.
setLogger((e) => console.error(`[${opts.name}] ${e.level}: ${e.message}`))
const TICK_MS = 100
/** Chance that one reading fails the device (about one failure every 5 s over 300 devices). */
const FAIL_P = 1 / 15_000

class Device extends GenServer {
  init(arg) {
    this.id = arg.id
    this.base = 15 + (arg.n % 20)
    this.seq = 0
    const pid = this.pid
    const timer = setInterval(() => (isAlive(pid) ? send(pid, 'tick') : clearInterval(timer)), TICK_MS)
    this.self.signal.addEventListener('abort', () => clearInterval(timer))
  }
  handleInfo(msg) {
    if (msg !== 'tick') return
    if (Math.random() < FAIL_P) throw new Error(`device ${this.id}: sensor fault`)
    this.seq++
    const celsius = Math.round((this.base + 3 * Math.sin(Date.now() / 10_000 + this.base) + Math.random()) * 10) / 10
    pubsub.publish('telemetry', { id: this.id, seq: this.seq, celsius })
  }
  handleCall(req) {
    return req === 'seq' ? this.seq : null
  }
}
Hub.define('device', Device)

// The aggregator: rolling statistics over the last second, in the shared table.
const aggregator = spawn(async (self) => {
  pubsub.subscribe('telemetry', self.pid)
  let count = 0
  let sum = 0
  let max = -Infinity
  let windowStart = Date.now()
  for (;;) {
    const m = await self.receive(undefined, { timeout: 1000 - Math.min(999, Date.now() - windowStart) })
    if (m !== undefined && m.type === 'pubsub') {
      const r = m.message
      count++
      sum += r.celsius
      if (r.celsius > max) max = r.celsius
      state.set(`device:${r.id}`, r.celsius)
    }
    if (Date.now() - windowStart >= 1000) {
      state.incr('fleet:readings', count)
      const summary = { node: node(), readingsPerSec: count, meanCelsius: count ? Math.round((sum / count) * 10) / 10 : null, maxCelsius: count ? max : null }
      state.set('fleet:last-second', summary)
      pubsub.publish('control-room:summary', summary)
      count = 0
      sum = 0
      max = -Infinity
      windowStart = Date.now()
    }
  }
})

process.on('message', async (m) => {
  if (m === 'stop') {
    await hub?.stop().catch(() => {})
    await cluster.stop()
    process.exit(0)
  }
})
// The launcher went away (even by SIGKILL): no orphan stays behind.
process.on('disconnect', () => process.exit(0))

let hub
try {
  await cluster.start({ name: opts.name, host: '127.0.0.1', port: opts.port, cookie: opts.cookie, seeds: opts.seeds, heartbeatInterval: 300, heartbeatTimeout: 2000 })
  hub = await Hub.start({ id: 'devices' })
  metrics.watchHub(hub)
  let url = null
  if (opts.dashboardPort !== undefined) {
    url = (await dashboard({ port: opts.dashboardPort, control: true })).url.href
    // The dashboard's node listens to the summaries, so the topic shows up with a member.
    pubsub.subscribe('control-room:summary', () => {})
  }
  report({ type: 'started', name: node(), url, aggregator: String(aggregator) })
  if (opts.devices > 0) {
    // Wait for the other nodes to join the hub, so the devices spread at once.
    const until = Date.now() + 15_000
    while (hub.nodes().length < opts.expectNodes && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
    const specs = Array.from({ length: opts.devices }, (_, n) => ({ id: `device:${n}`, start: ['device', [{ id: `device:${n}`, n }]] }))
    const r = await hub.startChildren(specs, { await: true, timeout: 30_000 })
    report({ type: 'devices', started: r.started.length, errors: r.errors.length })
  }
} catch (error) {
  report({ type: 'start-error', error: String(error?.stack ?? error) })
  process.exit(1)
}
