// Device telemetry across two nodes with cluster pub/sub.
//
//   this process: node "devices"            forked: node "aggregator"
//   devices (Supervisor, one_for_one)        subscribes to 'telemetry':
//   ├── device-1 GenServer ─┐                 - every reading, in batches → stats
//   ├── device-2 GenServer ─┼─ publish ──▶    - a live view (latestBy: 'deviceId')
//   └── device-3 GenServer ─┘  'telemetry'   publishes its summary on 'telemetry:summary'
//
// Each device publishes a reading every few milliseconds; device-2 crashes
// now and then (a sensor glitch) and its supervisor restarts it, carrying on
// from the last sequence number it kept in the shared table. The publisher
// never knows who listens: the aggregator is just a member of the topic on
// another node, and gets one copy of each reading per node. When every
// device is done, the program checks that every reading arrived exactly
// once, in order, and prints the aggregator's live view.
//
// Run: node examples/telemetry-cluster.mjs
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { GenServer, Supervisor, cluster, isAlive, node, nodes, pubsub, send, setLogger, state } from 'ironwood'

const DEVICES = ['device-1', 'device-2', 'device-3']
const READINGS = 200 // per device
const TICK_MS = 2
const cookie = randomBytes(16).toString('hex')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// Crashes are part of the story: print one line each instead of a stack trace.
setLogger(({ level, message, error }) => {
  if (level === 'error' && error instanceof Error) console.log(`  ! ${message}: ${error.message}`)
})
for (const key of state.keys('pubsub-demo:')) state.delete(key)

/** A device: reads its sensor on a timer and publishes each reading to 'telemetry'. */
class Device extends GenServer {
  init(name) {
    this.name = name
    // The sequence number survives a restart in the shared table.
    this.seq = state.get(`pubsub-demo:seq:${name}`) ?? 0
    state.incr(`pubsub-demo:starts:${name}`)
    const pid = this.pid
    this.timer = setInterval(() => (isAlive(pid) ? send(pid, 'tick') : clearInterval(this.timer)), TICK_MS)
  }

  handleInfo(message) {
    if (message !== 'tick' || this.seq >= READINGS) return
    const seq = this.seq + 1
    if (this.name === 'device-2' && seq % 60 === 0 && state.get(`pubsub-demo:glitch:${seq}`) === undefined) {
      state.set(`pubsub-demo:glitch:${seq}`, true) // glitch once per reading, then read again after the restart
      throw new Error(`sensor glitch at reading ${seq}`)
    }
    const celsius = Math.round((18 + DEVICES.indexOf(this.name) * 2 + 3 * Math.sin(seq / 10)) * 10) / 10
    pubsub.publish('telemetry', { deviceId: this.name, seq, celsius })
    this.seq = seq
    state.set(`pubsub-demo:seq:${this.name}`, seq)
    state.incr('pubsub-demo:published')
  }

  terminate() {
    clearInterval(this.timer)
  }
}

await cluster.start({ name: 'devices', cookie })
const summary = pubsub.subscribe('telemetry:summary')

// The aggregator is another node: a forked process that joins through us.
const aggregator = fork(new URL('./telemetry-aggregator.mjs', import.meta.url), [], {
  env: { ...process.env, TELEMETRY_SEED: node(), TELEMETRY_COOKIE: cookie },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const deadline = Date.now() + 20_000
while (pubsub.members('telemetry') < 2) {
  if (Date.now() > deadline || aggregator.exitCode !== null) throw new Error('the aggregator did not join')
  await sleep(20)
}
console.log(`${node()}: connected to ${nodes().join(', ')}; 'telemetry' has ${pubsub.members('telemetry')} members there`)

const devices = await Supervisor.start({
  strategy: 'one_for_one',
  maxRestarts: 10,
  maxSeconds: 5,
  children: DEVICES.map((name) => ({ id: name, start: () => GenServer.start(Device, name, { name }) })),
})
while ((state.get('pubsub-demo:published') ?? 0) < DEVICES.length * READINGS) await sleep(10)
await devices.stop()

// Same topic, same publisher node: the end marker arrives after every reading.
pubsub.publish('telemetry', { end: true, expected: DEVICES.length * READINGS })
const result = await summary.receive({ timeout: 20_000 })
if (result === undefined) throw new Error('no summary from the aggregator')

console.log(`\nsummary from ${result.node}:`)
let ok = true
for (const d of result.devices) {
  const restarts = state.get(`pubsub-demo:starts:${d.deviceId}`) - 1
  const good = d.count === READINGS && d.inOrder && d.duplicates === 0
  ok &&= good
  console.log(
    `  ${d.deviceId}  ${d.count} readings  in order: ${d.inOrder ? 'yes' : 'NO'}  duplicates: ${d.duplicates}` +
      `  mean ${d.mean.toFixed(2)} °C  restarts ${restarts}`,
  )
}
console.log(`\nlive view (latestBy: 'deviceId', read once at the end; ${result.replaced} older readings were replaced while it waited):`)
for (const r of result.live) console.log(`  ${JSON.stringify(r)}`)
console.log(ok ? '\nevery reading arrived exactly once, in order' : '\nSOME READINGS WERE LOST OR DUPLICATED')

await new Promise((r) => (aggregator.exitCode !== null ? r() : aggregator.once('exit', r)))
await cluster.stop()
process.exitCode = ok ? 0 : 1
