// Process-model benchmarks: what a user feels, each beside a floor measured in
// the same run. Run with `npm run bench:processes` (node --expose-gc).
//
//   spawn+exit     100,000 processes that return at once, until all have exited
//   idle memory    heap bytes per process waiting in receive (100,000 of them)
//   ping-pong      round trips between two processes (send + receive, twice)
//   floor          the same ping-pong over two minimal promise-based queues
//   GenServer.call sequential calls to a counter server (default 5 s timeout
//                  armed per call), beside a request/reply over a promise queue
//
// Targets (not tests): spawn+exit ≥ 500k/s, idle ≤ 1 KiB, ping-pong ≥ 1.5M
// round trips/s and within 3× of the floor, GenServer.call ≥ 500k/s.
import { GenServer, isAlive, send, spawn } from 'ironwood'

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc (npm run bench:processes does)')
  process.exit(1)
}

const fmt = (n) => Math.round(n).toLocaleString('en-US')
const tick = () => new Promise((r) => setImmediate(r))

// Runs `fn` (returning a count of operations) `runs` times after one warm-up
// run and reports the median rate, so one GC pause cannot decide the figure.
async function rate(fn, runs = 5) {
  await fn()
  const rates = []
  for (let i = 0; i < runs; i++) {
    globalThis.gc()
    const t0 = performance.now()
    const ops = await fn()
    rates.push(ops / ((performance.now() - t0) / 1000))
  }
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)]
}

// --- spawn + exit -----------------------------------------------------------
const SPAWNS = 100_000
const noop = async () => {}
async function spawnExit() {
  let last
  for (let i = 0; i < SPAWNS; i++) last = spawn(noop)
  // Every process exits in spawn order within a few microtask turns.
  while (isAlive(last)) await tick()
  return SPAWNS
}

// Floor: the same number of async function calls whose completion is awaited.
async function asyncCalls() {
  const all = new Array(SPAWNS)
  for (let i = 0; i < SPAWNS; i++) all[i] = noop()
  await Promise.all(all)
  return SPAWNS
}

// --- idle memory --------------------------------------------------------------
const IDLE = 100_000
async function idleBytes() {
  globalThis.gc()
  globalThis.gc()
  const before = process.memoryUsage().heapUsed
  const pids = new Array(IDLE)
  for (let i = 0; i < IDLE; i++) pids[i] = spawn(async (self) => { await self.receive() })
  await tick()
  globalThis.gc()
  globalThis.gc()
  const after = process.memoryUsage().heapUsed
  for (const pid of pids) send(pid, 'stop')
  while (isAlive(pids[IDLE - 1])) await tick()
  return (after - before) / IDLE
}

// --- ping-pong ------------------------------------------------------------------
const ROUNDS = 500_000
function pingPong() {
  return new Promise((resolve) => {
    let pingPid = null
    const pong = spawn(async (self) => {
      for (;;) {
        const m = await self.receive()
        if (m === -1) return
        send(pingPid, m)
      }
    })
    pingPid = spawn(async (self) => {
      for (let i = 0; i < ROUNDS; i++) {
        send(pong, i)
        await self.receive()
      }
      send(pong, -1)
      resolve(ROUNDS)
    })
  })
}

// The floor: a minimal promise-based queue, the least an async mailbox can do.
class Queue {
  items = []
  waiter = null
  push(v) {
    const w = this.waiter
    if (w !== null) {
      this.waiter = null
      w(v)
    } else this.items.push(v)
  }
  pop() {
    if (this.items.length > 0) return Promise.resolve(this.items.shift())
    return new Promise((r) => {
      this.waiter = r
    })
  }
}
async function queuePingPong() {
  const a = new Queue()
  const b = new Queue()
  const pong = (async () => {
    for (;;) {
      const m = await b.pop()
      if (m === -1) return
      a.push(m)
    }
  })()
  for (let i = 0; i < ROUNDS; i++) {
    b.push(i)
    await a.pop()
  }
  b.push(-1)
  await pong
  return ROUNDS
}

// --- GenServer.call -------------------------------------------------------------
const CALLS = 300_000
class Counter extends GenServer {
  n = 0
  handleCall() {
    return ++this.n
  }
}
const counter = await GenServer.start(Counter)
async function calls() {
  for (let i = 0; i < CALLS; i++) await GenServer.call(counter, 'inc')
  return CALLS
}
// Floor: the least a call can be — a request carrying its resolve function
// through a promise queue to a serving loop, which resolves it.
async function queueCalls() {
  const requests = new Queue()
  let n = 0
  const server = (async () => {
    for (;;) {
      const req = await requests.pop()
      if (req === null) return
      req.resolve(++n)
    }
  })()
  for (let i = 0; i < CALLS; i++) await new Promise((resolve) => requests.push({ request: 'inc', resolve }))
  requests.push(null)
  await server
  return CALLS
}

// --- run --------------------------------------------------------------------------
console.log(`ironwood process benchmarks — node ${process.version}, ${process.platform}/${process.arch}\n`)
const row = (label, value, unit, floorLabel, floor, target) => {
  const ratio = floor === undefined ? '' : `   floor (${floorLabel}) ${fmt(floor)} ${unit}, ours/floor ${(value / floor).toFixed(2)}`
  console.log(`${label.padEnd(16)} ${fmt(value).padStart(11)} ${unit}${ratio}   [target ${target}]`)
}

const spawnRate = await rate(spawnExit)
const asyncRate = await rate(asyncCalls)
row('spawn+exit', spawnRate, '/s', 'async fn calls', asyncRate, '≥ 500,000/s')

const idle = []
for (let i = 0; i < 3; i++) idle.push(await idleBytes())
idle.sort((a, b) => a - b)
console.log(`${'idle process'.padEnd(16)} ${fmt(idle[1]).padStart(11)} bytes of heap each (median of 3)   [target ≤ 1,024]`)

const ppRate = await rate(pingPong)
const floorRate = await rate(queuePingPong)
row('ping-pong', ppRate, 'rt/s', 'two promise queues', floorRate, '≥ 1,500,000 rt/s, floor/ours ≤ 3')
console.log(`${''.padEnd(16)} floor/ours = ${(floorRate / ppRate).toFixed(2)}×`)

const callRate = await rate(calls)
const queueCallRate = await rate(queueCalls)
row('GenServer.call', callRate, '/s', 'request/reply over a promise queue', queueCallRate, '≥ 500,000/s')
await GenServer.stop(counter)
