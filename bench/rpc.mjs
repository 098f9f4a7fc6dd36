// Cluster RPC benchmark (issue 4 item 8). Run with `npm run bench:rpc`.
//
// Two real processes on 127.0.0.1: this one (the client) and a forked server
// (bench/lib/rpc-server.mjs) that serves the same work over ironwood RPC,
// @grpc/grpc-js unary calls, node:http keep-alive requests and a raw TCP echo:
//
//   p50 / p99        sequential round trips of add(1, 2), 20,000 calls each
//   64 in flight     calls/s of add with 64 calls outstanding at all times
//   1 KiB / 64 KiB   echo of a Uint8Array (gRPC: bytes field, http: raw body):
//                    sequential p50, and MB/s (payload both ways) at 64 in flight
//   tcp floor        one small message back and forth over a net.Socket
//   one-way          messages/s from this node to the server's: remote `send`
//                    to a pid if the cluster routes it, else rpc.cast (which
//                    the server counts); the figure is taken when the
//                    receiver has counted them all
//
// Targets (not tests): RPC p50 ≤ 0.5× gRPC's and ≤ node:http's; 64 in flight
// ≥ 100,000 calls/s and ≥ 10× gRPC; one-way sends ≥ 500,000/s.
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { pinNativeAddon } from './lib/pin-addon.mjs'
import { grpc, loadBenchService } from './lib/rpc-proto.mjs'

const pinned = pinNativeAddon() // before ironwood loads; the fork inherits it
const { cluster, rpc, send } = await import('ironwood')

const SEQ_CALLS = Number(process.env.RPC_BENCH_CALLS ?? 20_000)
const INFLIGHT = 64
const THROUGHPUT_MS = 1500
const PAYLOAD_MS = 1000
const cookie = randomBytes(16).toString('hex')

const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
const us = (ns) => ns / 1000
const log = (...a) => console.error(...a)

// --- the server process -------------------------------------------------------
const child = fork(new URL('./lib/rpc-server.mjs', import.meta.url), [], {
  env: { ...process.env, IRONWOOD_BENCH_COOKIE: cookie },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
let childExited = false
child.on('exit', () => (childExited = true))
const killChild = () => {
  if (!childExited) child.kill('SIGKILL')
}
process.on('exit', killChild)
const info = await new Promise((resolve, reject) => {
  child.once('message', resolve)
  child.once('exit', (code) => reject(new Error(`server exited early (${code})`)))
})

await cluster.start({ name: 'client', cookie })
if (!(await cluster.connect(info.node))) throw new Error(`could not connect to ${info.node}`)
const peer = info.node

// --- clients: each is { add(), echo(bytes) } returning promises ------------------
const ironwood = {
  add: () => rpc.call(peer, 'bench', 'add', [1, 2]),
  echo: (b) => rpc.call(peer, 'bench', 'echo', [b]),
}

const Bench = loadBenchService()
const grpcClient = new Bench(`127.0.0.1:${info.grpcPort}`, grpc.credentials.createInsecure())
const gRPC = {
  add: () => new Promise((res, rej) => grpcClient.Add({ a: 1, b: 2 }, (e, r) => (e ? rej(e) : res(r.sum)))),
  echo: (b) => new Promise((res, rej) => grpcClient.Echo({ data: b }, (e, r) => (e ? rej(e) : res(r.data)))),
}

const agent = new http.Agent({ keepAlive: true, maxSockets: INFLIGHT })
function httpRequest(path, body, type) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port: info.httpPort,
        method: 'POST',
        path,
        headers: { 'content-type': type, 'content-length': body.length },
      },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
const httpc = {
  add: () => httpRequest('/add', Buffer.from(JSON.stringify({ a: 1, b: 2 })), 'application/json').then((b) => JSON.parse(b).sum),
  echo: (b) => httpRequest('/echo', b, 'application/octet-stream'),
}

// raw TCP ping-pong: one 8-byte message, wait for all 8 bytes back
const sock = net.connect(info.tcpPort, '127.0.0.1')
sock.setNoDelay(true)
await new Promise((r) => sock.once('connect', r))
// Replies come back in order: each 8 bytes settle the oldest waiter.
const tcpWaiters = []
let tcpHead = 0
let tcpGot = 0
sock.on('data', (d) => {
  tcpGot += d.length
  while (tcpGot >= 8 && tcpHead < tcpWaiters.length) {
    tcpGot -= 8
    tcpWaiters[tcpHead++]()
  }
  if (tcpHead === tcpWaiters.length) tcpWaiters.length = tcpHead = 0
})
const ping = Buffer.alloc(8, 1)
const tcp = {
  add: () =>
    new Promise((r) => {
      tcpWaiters.push(r)
      sock.write(ping)
    }),
}

// --- measurements -------------------------------------------------------------
async function latency(fn, n) {
  const samples = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await fn()
    samples[i] = Number(process.hrtime.bigint() - t0)
  }
  samples.sort()
  return { p50: us(samples[Math.floor(n * 0.5)]), p99: us(samples[Math.floor(n * 0.99)]) }
}

/** The server process's CPU time so far (µs, user + system), over IPC so it is the same for every system measured. */
function serverCpu() {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m?.cpu === undefined) return
      child.off('message', on)
      resolve(m.cpu.user + m.cpu.system)
    }
    child.on('message', on)
    child.send('cpu')
  })
}

/** Calls/s with 64 outstanding, and the CPU time both processes spent per call. */
async function inflightCpu(fn, ms) {
  const s0 = await serverCpu()
  const c0 = process.cpuUsage()
  let calls = 0
  const rate = await inflight(fn, ms, (n) => (calls = n))
  const c1 = process.cpuUsage(c0)
  const s1 = await serverCpu()
  return { rate, cpu: (c1.user + c1.system + s1 - s0) / calls }
}

async function inflight(fn, ms, count = () => {}) {
  let done = 0
  const end = performance.now() + ms
  const worker = async () => {
    while (performance.now() < end) {
      await fn()
      done++
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: INFLIGHT }, worker))
  count(done)
  return done / ((performance.now() - t0) / 1000)
}

async function warm(fn) {
  await latency(fn, 2000)
  await inflight(fn, 300)
}

const kib1 = new Uint8Array(randomBytes(1024))
const kib64 = new Uint8Array(randomBytes(64 * 1024))

async function suite(name, c) {
  log(`  ${name}: warm-up`)
  await warm(c.add)
  const res = {}
  log(`  ${name}: ${fmt(SEQ_CALLS)} sequential calls`)
  res.lat = await latency(c.add, SEQ_CALLS)
  log(`  ${name}: ${INFLIGHT} in flight`)
  // Best of 3 passes (for every system alike): one pass is at the mercy of
  // whatever else the machine does for those 1.5 s.
  res.passes = []
  for (let i = 0; i < 3; i++) res.passes.push(await inflightCpu(c.add, THROUGHPUT_MS))
  ;({ rate: res.tput, cpu: res.cpu } = res.passes.reduce((a, b) => (b.rate > a.rate ? b : a)))
  if (c.echo) {
    const e1 = () => c.echo(kib1)
    const e64 = () => c.echo(kib64)
    const check = await c.echo(kib64)
    if (check.length !== kib64.length) throw new Error(`${name}: echo returned ${check.length} bytes`)
    await warm(e1)
    res.p1 = (await latency(e1, 3000)).p50
    res.t1 = (await inflight(e1, PAYLOAD_MS)) * 2 * kib1.length / 1e6
    await latency(e64, 300)
    res.p64 = (await latency(e64, 1000)).p50
    res.t64 = (await inflight(e64, PAYLOAD_MS)) * 2 * kib64.length / 1e6
  }
  return res
}

const started = performance.now()
log(`bench/rpc: server ${peer} (pid ${child.pid}), addon ${pinned.source ?? 'unpinned'}`)
if ((await ironwood.add()) !== 3 || (await gRPC.add()) !== 3 || (await httpc.add()) !== 3) throw new Error('add is wrong somewhere')
const R = {}
R.tcp = await suite('tcp', tcp)
R.iw = await suite('ironwood', ironwood)
R.grpc = await suite('grpc', gRPC)
R.http = await suite('http', httpc)

// --- one-way sends ------------------------------------------------------------
const ONEWAY = 1_000_000
const CHUNK = 10_000
async function waitFor(fnName, total, deadlineMs) {
  const until = performance.now() + deadlineMs
  for (;;) {
    const n = await rpc.call(peer, 'bench', fnName, [], { timeout: 60_000 })
    if (n >= total || performance.now() > until) return n
    await new Promise((r) => setTimeout(r, 2))
  }
}
async function oneway(fnName, sendOne, total) {
  await rpc.call(peer, 'bench', 'reset', [])
  const t0 = performance.now()
  for (let i = 0; i < total; i += CHUNK) {
    for (let j = 0; j < CHUNK; j++) sendOne(i + j)
    await new Promise((r) => setImmediate(r)) // let the batch go out
  }
  const got = await waitFor(fnName, total, 30_000)
  const s = (performance.now() - t0) / 1000
  return { rate: got / s, got, total }
}

// Does remote send work? Send a few to the sink's pid and see whether it counts them.
let sendMode = 'rpc.cast'
const sinkPid = await rpc.call(peer, 'bench', 'sinkPid', [])
await rpc.call(peer, 'bench', 'reset', [])
try {
  for (let i = 0; i < 100; i++) send(sinkPid, i)
  if ((await waitFor('sunk', 100, 500)) >= 100) sendMode = 'send'
} catch {}
log(`  one-way: ${sendMode === 'send' ? 'remote send to a pid' : 'remote send not routed yet; rpc.cast'}`)
const cast = () => rpc.cast(peer, 'bench', 'tick', [])
await oneway('ticks', cast, 100_000) // warm-up
R.cast = await oneway('ticks', cast, ONEWAY)
if (sendMode === 'send') {
  const sendIt = (i) => send(sinkPid, i)
  await oneway('sunk', sendIt, 100_000)
  R.send = await oneway('sunk', sendIt, ONEWAY)
}

// --- a lost node ---------------------------------------------------------------
// A second server with the default heartbeats (1 s interval, 3 s timeout):
// 1,000 calls wait on it, it is SIGKILLed, and we time the nodedown after the
// kill and the last ConnectionError after the nodedown.
log('  failure detection: 1,000 pending calls, SIGKILL')
const victim = fork(new URL('./lib/rpc-server.mjs', import.meta.url), [], {
  env: { ...process.env, IRONWOOD_BENCH_COOKIE: cookie },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const vinfo = await new Promise((resolve) => victim.once('message', resolve))
if (!(await cluster.connect(vinfo.node))) throw new Error(`could not connect to ${vinfo.node}`)
const lost = {}
const downAt = new Promise((resolve) =>
  cluster.on('nodedown', (n) => {
    if (n === vinfo.node) resolve(performance.now())
  }),
)
let rejected = 0
let lastRejectAt = 0
const hung = Array.from({ length: 1000 }, () =>
  rpc.call(vinfo.node, 'bench', 'hang', [], { timeout: 30_000 }).catch((e) => {
    if (e?.code === 'ENOCONNECTION') rejected++
    lastRejectAt = performance.now()
  }),
)
await new Promise((r) => setTimeout(r, 200)) // the calls are on the server
const killedAt = performance.now()
victim.kill('SIGKILL')
lost.down = (await downAt) - killedAt
await Promise.all(hung)
lost.reject = lastRejectAt - (killedAt + lost.down)
lost.rejected = rejected

// --- stop ---------------------------------------------------------------------
sock.destroy()
grpcClient.close()
agent.destroy()
child.send('stop')
await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 2000))])
killChild()
await cluster.stop()
pinned.remove()

// --- table --------------------------------------------------------------------
const rows = []
const row = (metric, iw, g, h, ratio, target, met) => rows.push([metric, iw, g, h, ratio, target, met])
const f1 = (x) => (x === undefined ? '-' : fmt(x, 1))
const yes = (b) => (b ? 'yes' : 'NO')
const { iw, grpc: gr, http: ht } = R
row('p50 round trip (µs)', f1(iw.lat.p50), f1(gr.lat.p50), f1(ht.lat.p50),
  `${fmt(iw.lat.p50 / gr.lat.p50, 2)}× gRPC, ${fmt(iw.lat.p50 / ht.lat.p50, 2)}× http`,
  '≤ 0.5× gRPC, ≤ 1× http', yes(iw.lat.p50 <= 0.5 * gr.lat.p50 && iw.lat.p50 <= ht.lat.p50))
row('p99 round trip (µs)', f1(iw.lat.p99), f1(gr.lat.p99), f1(ht.lat.p99), `${fmt(iw.lat.p99 / gr.lat.p99, 2)}× gRPC`, '', '')
row(`${INFLIGHT} in flight (calls/s)`, fmt(iw.tput), fmt(gr.tput), fmt(ht.tput), `${fmt(iw.tput / gr.tput, 1)}× gRPC`,
  '≥ 100,000/s, ≥ 10× gRPC', yes(iw.tput >= 100_000 && iw.tput >= 10 * gr.tput))
row(`CPU per call at ${INFLIGHT} in flight (µs, both processes)`, f1(iw.cpu), f1(gr.cpu), f1(ht.cpu),
  `${fmt(iw.cpu / gr.cpu, 2)}× gRPC, ${fmt(iw.cpu / ht.cpu, 2)}× http`, '', '')
row('1 KiB echo p50 (µs)', f1(iw.p1), f1(gr.p1), f1(ht.p1), `${fmt(iw.p1 / gr.p1, 2)}× gRPC`, '', '')
row('1 KiB echo, 64 in flight (MB/s)', f1(iw.t1), f1(gr.t1), f1(ht.t1), `${fmt(iw.t1 / gr.t1, 1)}× gRPC`, '', '')
row('64 KiB echo p50 (µs)', f1(iw.p64), f1(gr.p64), f1(ht.p64), `${fmt(iw.p64 / gr.p64, 2)}× gRPC`, '', '')
row('64 KiB echo, 64 in flight (MB/s)', f1(iw.t64), f1(gr.t64), f1(ht.t64), `${fmt(iw.t64 / gr.t64, 1)}× gRPC`, '', '')
row('tcp ping-pong floor p50 / p99 (µs)', `${f1(R.tcp.lat.p50)} / ${f1(R.tcp.lat.p99)}`, '', '', `rpc p50 = ${fmt(iw.lat.p50 / R.tcp.lat.p50, 2)}× floor`, '', '')
row('SIGKILL → nodedown (ms, default heartbeats)', fmt(lost.down), '', '', '', '≤ 3,000 (the heartbeat timeout)', yes(lost.down <= 3000))
row('nodedown → last of 1,000 pending calls rejected (ms)', fmt(lost.reject, 1), '', '', `${fmt(lost.rejected)} ConnectionError`, '≤ 100', yes(lost.reject <= 100 && lost.rejected === 1000))
row('rpc.cast one-way (msgs/s)', fmt(R.cast.rate), '', '', '', sendMode === 'send' ? '' : '≥ 500,000/s (send pending)',
  sendMode === 'send' ? '' : `${yes(R.cast.rate >= 500_000)} (send pending)`)
if (R.send) row('remote send one-way (msgs/s)', fmt(R.send.rate), '', '', '', '≥ 500,000/s', yes(R.send.rate >= 500_000))
else row('remote send one-way (msgs/s)', 'pending', '', '', '', '≥ 500,000/s', 'n/a')

const head = ['metric', 'ironwood', 'gRPC', 'http', 'ratio', 'target', 'met?']
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`
console.log(`\nCluster RPC, two processes on 127.0.0.1 (node ${process.version}, ${(performance.now() - started) / 1000 | 0} s)`)
console.log(line(head))
console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`)
for (const r of rows) console.log(line(r))
for (const [what, r] of [['casts', R.cast], ['sends', R.send]]) {
  if (r && r.got < r.total) console.log(`note: the server counted ${fmt(r.got)} of ${fmt(r.total)} ${what} (the rest were dropped or late)`)
}
process.exit(0)
console.log(`64 in flight, each pass (calls/s): ironwood ${R.iw.passes.map((p) => fmt(p.rate)).join(' / ')}; gRPC ${R.grpc.passes.map((p) => fmt(p.rate)).join(' / ')}; http ${R.http.passes.map((p) => fmt(p.rate)).join(' / ')}`)
