// The install smoke program (issue 10): run from a fresh project that installed
// the packed tarballs, under Node or Bun. Uses the table from two workers, a
// supervised GenServer, and two cluster nodes; exits on its own (no
// process.exit) and prints one line per check.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Worker } from 'node:worker_threads'
import { GenServer, Supervisor, Table, isAlive, setLogger } from 'ironwood'

const runtime = typeof Bun === 'undefined' ? `node ${process.version}` : `bun ${Bun.version}`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function until(check, what, ms = 10_000) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

// 1. The table, from two worker threads: every increment counted once.
const table = `install-smoke-${process.pid}`
const times = 20_000
await Promise.all(
  [0, 1].map(
    () =>
      new Promise((resolve, reject) => {
        const w = new Worker(new URL('./smoke-worker.mjs', import.meta.url), { workerData: { table, key: 'n', times } })
        w.on('error', reject)
        w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))))
      }),
  ),
)
assert.equal(Table.open(table).get('n'), 2 * times)
console.log(`ok table: 2 workers x ${times} incr = ${2 * times}`)

// 2. A supervised GenServer: crash it, see the supervisor restart it fresh.
const logged = []
setLogger((e) => logged.push(e))
class Counter extends GenServer {
  n = 0
  handleCall() {
    return ++this.n
  }
  handleCast(msg) {
    if (msg === 'crash') throw new Error('smoke crash')
  }
}
const sup = await Supervisor.start({
  strategy: 'one_for_one',
  children: [{ id: 'counter', start: () => GenServer.start(Counter) }],
})
const first = sup.whichChildren()[0].pid
assert.equal(await GenServer.call(first, 'incr'), 1)
assert.equal(await GenServer.call(first, 'incr'), 2)
GenServer.cast(first, 'crash')
await until(() => !isAlive(first), 'the crash')
await until(() => {
  const pid = sup.whichChildren()[0].pid
  return pid !== null && pid !== first && isAlive(pid)
}, 'the restart')
const second = sup.whichChildren()[0].pid
assert.equal(await GenServer.call(second, 'incr'), 1, 'restarted with fresh state')
await sup.stop()
console.log(`ok supervisor: ${first} crashed, restarted as ${second}`)

// 3. Two nodes on 127.0.0.1, each in its own process, see each other, and b
// calls functions a exposed with rpc.register.
function startNode(args) {
  const child = spawn(process.execPath, [new URL('./smoke-node.mjs', import.meta.url).pathname, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = []
  const waiters = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line))
    for (const w of waiters.splice(0)) w()
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const next = async (key) => {
    const end = Date.now() + 10_000
    for (;;) {
      const hit = lines.find((l) => key in l)
      if (hit) return hit[key]
      if (Date.now() > end) throw new Error(`node ${args[0]}: no ${key} line`)
      await new Promise((r) => {
        waiters.push(r)
        setTimeout(r, 100)
      })
    }
  }
  return { child, next, exited }
}
const a = startNode(['a'])
try {
  const aName = await a.next('started')
  const b = startNode(['b', aName])
  try {
    const bName = await b.next('started')
    assert.deepEqual(await a.next('sees'), [bName])
    assert.deepEqual(await b.next('sees'), [aName])
    console.log(`ok cluster: ${aName} <-> ${bName}`)
    assert.deepEqual(await b.next('rpc'), { sum: 5, whoami: aName })
    console.log(`ok rpc: ${bName} called smoke.add and smoke.whoami on ${aName}`)
  } finally {
    b.child.stdin.end()
    assert.deepEqual(await b.exited, { code: 0, signal: null }, 'node b exits on its own')
  }
} finally {
  a.child.stdin.end()
  assert.deepEqual(await a.exited, { code: 0, signal: null }, 'node a exits on its own')
}
console.log(`smoke passed on ${runtime}`)
