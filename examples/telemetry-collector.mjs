// A supervised telemetry collector: three device servers validate readings
// and crash on bad ones; their supervisor restarts them; counters live in the
// shared table (`state.incr`), so worker threads could read them too.
//
//   collector (Supervisor, one_for_one)
//   ├── aggregator   GenServer: per-device count / min / max / mean
//   └── devices      Supervisor (one_for_one, at most 20 restarts in 5 s)
//       ├── device-1 GenServer: validates a reading, forwards it to the aggregator
//       ├── device-2
//       └── device-3
//
// A feed process sends 300 rounds of readings, 5 ms apart (a few of them bad), then the
// program prints what happened and stops the tree. Run: node examples/telemetry-collector.mjs
import { GenServer, Supervisor, processes, setLogger, spawn, state, whereis } from 'ironwood'

const DEVICES = ['device-1', 'device-2', 'device-3']
const ROUNDS = 300 // one reading per device per round
const TICK_MS = 5

// Crashes are expected here: print one line each instead of a stack trace.
setLogger(({ level, message, error }) => {
  if (level === 'error' && error instanceof Error) console.log(`  ! ${message}: ${error.message}`)
})

for (const key of state.keys('telemetry:')) state.delete(key)

/** Validates readings; a bad one is a bug in the device's world, so it crashes (and is restarted). */
class Device extends GenServer {
  init(name) {
    this.name = name
    this.seen = 0
    state.incr(`telemetry:starts:${name}`)
  }

  handleCast(reading) {
    if (typeof reading.celsius !== 'number' || Number.isNaN(reading.celsius) || reading.celsius < -40 || reading.celsius > 125) {
      state.incr('telemetry:bad')
      throw new RangeError(`${this.name} got a bad reading: ${reading.celsius}`)
    }
    this.seen++
    state.incr('telemetry:readings')
    GenServer.cast('aggregator', { device: this.name, celsius: reading.celsius })
  }
}

/** Keeps running statistics per device. */
class Aggregator extends GenServer {
  init() {
    this.stats = new Map()
  }

  handleCast({ device, celsius }) {
    let s = this.stats.get(device)
    if (s === undefined) this.stats.set(device, (s = { count: 0, sum: 0, min: Infinity, max: -Infinity }))
    s.count++
    s.sum += celsius
    s.min = Math.min(s.min, celsius)
    s.max = Math.max(s.max, celsius)
  }

  handleCall(request) {
    if (request !== 'report') throw new TypeError(`unknown request ${request}`)
    return [...this.stats].map(([device, s]) => ({ device, count: s.count, min: s.min, max: s.max, mean: s.sum / s.count }))
  }
}

const collector = await Supervisor.start({
  name: 'collector',
  strategy: 'one_for_one',
  children: [
    { id: 'aggregator', start: () => GenServer.start(Aggregator, null, { name: 'aggregator', mailboxLimit: 10_000 }) },
    {
      id: 'devices',
      type: 'supervisor',
      start: () =>
        Supervisor.start({
          strategy: 'one_for_one',
          maxRestarts: 20,
          maxSeconds: 5,
          children: DEVICES.map((name) => ({ id: name, start: () => GenServer.start(Device, name, { name }) })),
        }),
    },
  ],
})
console.log(`collector started: ${collector.countChildren().active} children, ${processes().length} processes\n`)

// A small seeded generator, so every run prints the same story.
let seed = 42
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)

// The feed: one process sending a reading to each device every few ms.
const feedDone = new Promise((resolve) => {
  spawn(async (self) => {
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of DEVICES) {
        const r = random()
        const celsius = r < 0.006 ? -273 : r < 0.012 ? Number.NaN : Math.round((20 + random() * 10) * 10) / 10
        const device = whereis(name) // undefined for a moment while a crashed device restarts
        if (device === undefined) state.incr('telemetry:lost')
        else GenServer.cast(device, { celsius })
      }
      await self.receive(null, { timeout: TICK_MS }) // a process's sleep
    }
    resolve()
  })
})
await feedDone

const report = await GenServer.call('aggregator', 'report')
const counters = Object.fromEntries(state.keys('telemetry:').map((k) => [k.slice('telemetry:'.length), state.get(k)]))
console.log('\nper device (valid readings):')
for (const r of report.sort((a, b) => a.device.localeCompare(b.device))) {
  const restarts = counters[`starts:${r.device}`] - 1
  console.log(
    `  ${r.device}  ${String(r.count).padStart(4)} readings  min ${r.min.toFixed(1)}  max ${r.max.toFixed(1)}  mean ${r.mean.toFixed(2)} °C  restarts ${restarts}`,
  )
}
console.log('\ncounters in state:')
console.log(`  readings ${counters.readings}  bad ${counters.bad ?? 0}  lost while restarting ${counters.lost ?? 0}`)

const tree = collector.tree()
console.log('\nsupervision tree:')
for (const child of tree.children) {
  console.log(`  ${child.id} ${child.status} ${child.pid}`)
  for (const leaf of child.tree?.children ?? []) console.log(`    ${leaf.id} ${leaf.status} ${leaf.pid}`)
}

await collector.stop()
console.log(`\nstopped: ${processes().length} processes left`)
