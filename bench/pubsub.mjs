// Pub/sub benchmark (issue 5 item 6). Run with `npm run bench:pubsub`.
//
// Deliveries per second (one publication reaching one subscriber) for the
// same two workloads, on ironwood and on Redis pub/sub through ioredis, in
// the same run:
//
//   local    1 publisher → 1,000 subscribers in the same process
//            ironwood: callback members (called inside publish),
//            Subscriptions each read by its own `for await` loop (one promise
//            per message), and Subscriptions read with `sub.batches()`;
//            Redis: 1,000 ioredis subscriber connections in a forked process.
//   remote   1 publisher (this process) → 100 subscribers on each of 2
//            forked processes (bench/lib/pubsub-peer.mjs)
//            ironwood: this process and the two peers form a cluster; each
//            peer has 100 callback members (one frame per peer per publication);
//            Redis: each peer holds 100 ioredis subscriber connections.
//
// Every run publishes a telemetry reading (a small object; JSON for Redis),
// made fresh for each publication. A figure is taken when every subscriber
// has received every publication (the peers count and report over IPC). The
// publisher keeps at most WINDOW publications ahead of the slowest receiver,
// so nothing is dropped and no queue grows without bound; Redis subscribers
// do not JSON.parse what they get (which favours Redis).
//
// Each workload is measured in interleaved passes (ironwood, Redis, ironwood,
// Redis, …) and each variant keeps its best pass (bench/lib/measure.mjs
// explains why on a shared machine).
//
// Targets (not tests): local ≥ 5,000,000 deliveries/s, remote ≥ 1,500,000
// deliveries/s, both ≥ 2× Redis.
//
//   IRONWOOD_BENCH_NO_REDIS=1 / --no-redis    skip the Redis columns
//   IRONWOOD_BENCH_NO_INSTALL=1               never apt-get install redis-server
//   PUBSUB_BENCH_MS=2000                      time per pass
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { pinNativeAddon } from './lib/pin-addon.mjs'
import { startRedis } from './lib/redis-server.mjs'

const pinned = pinNativeAddon() // before ironwood loads; the forks inherit it
const { cluster, pubsub } = await import('ironwood')

const argv = process.argv.slice(2)
const NO_REDIS = argv.includes('--no-redis') || process.env.IRONWOOD_BENCH_NO_REDIS === '1'
const MS = Number(process.env.PUBSUB_BENCH_MS ?? 2000)
const PASSES = 3
const LOCAL_SUBSCRIBERS = 1000
const PEER_SUBSCRIBERS = 100
const PEERS = 2
const TOPIC = 'bench:telemetry'
const cookie = randomBytes(16).toString('hex')

const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
const log = (...a) => console.error(...a)
const now = () => performance.now()
const tick = () => new Promise((r) => setImmediate(r))
const reading = (i) => ({ deviceId: 'device-42', seq: i, celsius: 21.5, ts: 1_700_000_000_000 + i })

const started = now()
const R = {}
const best = (name, rate) => {
  R[name] ??= { best: 0, passes: [] }
  R[name].passes.push(rate)
  R[name].best = Math.max(R[name].best, rate)
}

// --- Redis --------------------------------------------------------------------
let redis = null
let redisNote = null
if (NO_REDIS) redisNote = 'Redis skipped: IRONWOOD_BENCH_NO_REDIS=1 / --no-redis'
else {
  log('redis: starting a private redis-server on 127.0.0.1')
  const s = await startRedis({ install: process.env.IRONWOOD_BENCH_NO_INSTALL !== '1', log })
  if (s.skipped) redisNote = `Redis skipped: ${s.skipped}`
  else {
    redis = s
    log(`redis: redis-server ${s.version} on 127.0.0.1:${s.port} (pid ${s.pid})`)
  }
}
const children = []
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  redis?.stopSync()
})
const Redis = redis === null ? null : (await import('ioredis')).default
const redisClient = () => new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true })

// --- receivers in other processes (both workloads use them for Redis) ------------
/** Forks `count` receivers in `mode` with `perPeer` subscribers each; their state ({ child, deliveries, node }). */
async function forkPeers(mode, { count = PEERS, perPeer = PEER_SUBSCRIBERS, topic = TOPIC } = {}) {
  const peers = []
  for (let i = 0; i < count; i++) {
    const child = fork(new URL('./lib/pubsub-peer.mjs', import.meta.url), [mode], {
      env: {
        ...process.env,
        IRONWOOD_BENCH_COOKIE: cookie,
        IRONWOOD_BENCH_REDIS_PORT: String(redis?.port ?? ''),
        PUBSUB_BENCH_PEER_SUBSCRIBERS: String(perPeer),
        PUBSUB_BENCH_TOPIC: topic,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    children.push(child)
    const peer = { child, deliveries: 0, node: null, onReset: null }
    child.on('message', (m) => {
      if (m.deliveries !== undefined) {
        peer.deliveries = m.deliveries
        checkWaiters()
      } else if (m.reset) peer.onReset?.()
    })
    const ready = await new Promise((resolve, reject) => {
      child.once('message', resolve)
      child.once('exit', (code) => reject(new Error(`a ${mode} peer exited early (${code})`)))
    })
    peer.node = ready.node ?? null
    peers.push(peer)
  }
  return peers
}

const waiters = []
function checkWaiters() {
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i].cond()) {
      waiters[i].resolve()
      waiters.splice(i, 1)
    }
  }
}
const until = (cond) => (cond() ? Promise.resolve() : new Promise((resolve) => waiters.push({ cond, resolve })))

async function stopPeers(peers) {
  for (const p of peers) p.child.send('stop')
  await Promise.all(peers.map((p) => new Promise((r) => (p.child.exitCode !== null ? r() : p.child.once('exit', r)))))
}

/**
 * Publishes for `ms` in batches, at most `window` publications ahead of the
 * slowest peer (each has `perPeer` subscribers); deliveries/s.
 */
async function remoteRun(peers, publishOne, ms, { perPeer = PEER_SUBSCRIBERS, batch: BATCH = 500, window: WINDOW = 5000 } = {}) {
  // Every earlier publication has been counted: the peers count from 0 again.
  await Promise.all(peers.map((p) => new Promise((r) => ((p.onReset = r), p.child.send({ cmd: 'reset' })))))
  for (const p of peers) p.deliveries = 0
  const behind = (k) => peers[k].deliveries / perPeer
  const end = now() + ms
  let published = 0
  const t0 = now()
  while (now() < end) {
    for (let i = 0; i < BATCH; i++) publishOne(published + i)
    published += BATCH
    const limit = published - WINDOW
    await until(() => peers.every((_, k) => behind(k) >= limit))
  }
  await until(() => peers.every((_, k) => behind(k) >= published))
  return (published * perPeer * peers.length * 1000) / (now() - t0)
}

// --- 1. local: 1 publisher → 1,000 subscribers ---------------------------------
log(`local: ${fmt(LOCAL_SUBSCRIBERS)} subscribers`)

// ironwood, callbacks
let cbCount = 0
const callbacks = []
for (let i = 0; i < LOCAL_SUBSCRIBERS; i++) {
  const h = pubsub.subscribe('bench:cb', () => {
    cbCount++
  })
  callbacks.push(h)
}
function iwCallbacks(ms) {
  const end = now() + ms
  let published = 0
  cbCount = 0
  const t0 = now()
  while (now() < end) {
    for (let i = 0; i < 1000; i++) pubsub.publish('bench:cb', reading(published + i))
    published += 1000
  }
  const rate = (cbCount * 1000) / (now() - t0)
  if (cbCount !== published * LOCAL_SUBSCRIBERS) throw new Error(`callbacks: ${cbCount} deliveries for ${published} publications`)
  return rate
}

// ironwood, Subscriptions read by `for await`
const subs = []
let consumed = 0
let wantConsumed = 0
let onConsumed = null
for (let i = 0; i < LOCAL_SUBSCRIBERS; i++) {
  const sub = pubsub.subscribe('bench:sub')
  subs.push(sub)
  void (async () => {
    for await (const _ of sub) {
      if (++consumed === wantConsumed) onConsumed()
    }
  })()
}
async function iwSubscriptions(ms) {
  const CHUNK = 512 // half the default buffer: nothing is dropped
  const end = now() + ms
  let published = 0
  consumed = 0
  const t0 = now()
  while (now() < end) {
    wantConsumed = (published + CHUNK) * LOCAL_SUBSCRIBERS
    const done = new Promise((r) => (onConsumed = r))
    for (let i = 0; i < CHUNK; i++) pubsub.publish('bench:sub', reading(published + i))
    published += CHUNK
    await done
  }
  const rate = (consumed * 1000) / (now() - t0)
  const dropped = subs.reduce((n, s) => n + s.dropped, 0)
  if (dropped !== 0 || consumed !== published * LOCAL_SUBSCRIBERS) throw new Error(`subscriptions: ${consumed} consumed, ${dropped} dropped`)
  return rate
}

// ironwood, Subscriptions read in batches (`for await (const batch of sub.batches())`)
const batchSubs = []
let batchConsumed = 0
let wantBatch = 0
let onBatch = null
for (let i = 0; i < LOCAL_SUBSCRIBERS; i++) {
  const sub = pubsub.subscribe('bench:batch')
  batchSubs.push(sub)
  void (async () => {
    for await (const batch of sub.batches()) {
      for (const _ of batch) batchConsumed++
      if (batchConsumed === wantBatch) onBatch()
    }
  })()
}
async function iwBatches(ms) {
  const CHUNK = 512
  const end = now() + ms
  let published = 0
  batchConsumed = 0
  const t0 = now()
  while (now() < end) {
    wantBatch = (published + CHUNK) * LOCAL_SUBSCRIBERS
    const done = new Promise((r) => (onBatch = r))
    for (let i = 0; i < CHUNK; i++) pubsub.publish('bench:batch', reading(published + i))
    published += CHUNK
    await done
  }
  const rate = (batchConsumed * 1000) / (now() - t0)
  const dropped = batchSubs.reduce((n, s) => n + s.dropped, 0)
  if (dropped !== 0 || batchConsumed !== published * LOCAL_SUBSCRIBERS) throw new Error(`batches: ${batchConsumed} consumed, ${dropped} dropped`)
  return rate
}

// Redis: 1,000 subscriber connections in a forked process (bench/lib/pubsub-peer.mjs).
// Their parsing then runs beside this process rather than in it, which
// favours Redis on a 2-core machine, and keeps 1,000 connections' objects out
// of the heap the ironwood variants are measured in.
let redisLocal = null
if (redis !== null) {
  log(`redis: forking ${fmt(LOCAL_SUBSCRIBERS)} subscriber connections`)
  const peers = await forkPeers('redis', { count: 1, perPeer: LOCAL_SUBSCRIBERS, topic: 'bench:local' })
  const pub = redisClient()
  await pub.connect()
  if ((await pub.publish('bench:local', 'hello')) !== LOCAL_SUBSCRIBERS) throw new Error('redis: not every subscriber is subscribed')
  await new Promise((r) => setTimeout(r, 200)) // let the 'hello' arrive before the first reset
  const publishOne = (i) => void pub.publish('bench:local', JSON.stringify(reading(i)))
  redisLocal = {
    // 100 publications per batch, at most 200 ahead: Redis's per-client output buffers stay small.
    run: (ms) => remoteRun(peers, publishOne, ms, { perPeer: LOCAL_SUBSCRIBERS, batch: 100, window: 200 }),
    close: async () => {
      pub.disconnect()
      await stopPeers(peers)
    },
  }
}

for (let p = 0; p < PASSES; p++) {
  log(`local: pass ${p + 1}/${PASSES}`)
  if (p === 0) {
    // Warm-up: long enough for V8 to optimize the consumers' loops too.
    iwCallbacks(500)
    await iwSubscriptions(1000)
    await iwBatches(1000)
    if (redisLocal) await redisLocal.run(500)
  }
  best('local callbacks', iwCallbacks(MS))
  best('local subscriptions', await iwSubscriptions(MS))
  best('local batches', await iwBatches(MS))
  if (redisLocal) best('local redis', await redisLocal.run(MS))
}
for (const h of callbacks) h.unsubscribe()
for (const s of subs) s.unsubscribe()
for (const s of batchSubs) s.unsubscribe()
await redisLocal?.close()

// --- 2. remote: 1 publisher → 100 subscribers on each of 2 nodes -------------------
log(`remote: ${PEERS} peers × ${PEER_SUBSCRIBERS} subscribers`)
await cluster.start({ name: 'publisher', cookie })
const iwPeers = await forkPeers('ironwood')
for (const p of iwPeers) if (!(await cluster.connect(p.node))) throw new Error(`could not connect to ${p.node}`)
{
  const t = now()
  while (pubsub.members(TOPIC) !== PEERS * PEER_SUBSCRIBERS) {
    if (now() - t > 10_000) throw new Error(`only ${pubsub.members(TOPIC)} members of ${TOPIC} known`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
const iwRemote = (ms) =>
  remoteRun(iwPeers, (i) => {
    if (pubsub.publish(TOPIC, reading(i)) !== PEERS * PEER_SUBSCRIBERS) throw new Error('a publication missed a peer')
  }, ms)

let redisPeers = null
let redisRemote = null
if (redis !== null) {
  redisPeers = await forkPeers('redis')
  const pub = redisClient()
  await pub.connect()
  if ((await pub.publish(TOPIC, 'hello')) !== PEERS * PEER_SUBSCRIBERS) throw new Error('redis: not every peer subscriber is subscribed')
  const publishOne = (i) => void pub.publish(TOPIC, JSON.stringify(reading(i)))
  // Let the 'hello' arrive before the first reset.
  await new Promise((r) => setTimeout(r, 200))
  redisRemote = (ms) => remoteRun(redisPeers, publishOne, ms)
  redisRemote.close = () => pub.disconnect()
}

for (let p = 0; p < PASSES; p++) {
  log(`remote: pass ${p + 1}/${PASSES}`)
  if (p === 0) {
    await iwRemote(300)
    if (redisRemote) await redisRemote(300)
  }
  best('remote ironwood', await iwRemote(MS))
  if (redisRemote) best('remote redis', await redisRemote(MS))
}

// --- stop ---------------------------------------------------------------------
await stopPeers(iwPeers)
if (redisPeers) await stopPeers(redisPeers)
redisRemote?.close()
await cluster.stop()
await redis?.stop()
pinned.remove()

// --- table --------------------------------------------------------------------
const rows = []
const yes = (b) => (b ? 'yes' : 'NO')
const figure = (name) => (R[name] ? fmt(R[name].best) : '-')
const ratio = (a, b) => (R[a] && R[b] ? `${fmt(R[a].best / R[b].best, 1)}×` : '-')
const met = (name, floor, base) =>
  R[name] ? yes(R[name].best >= floor && (R[base] === undefined || R[name].best >= 2 * R[base].best)) + (R[base] ? '' : ' (no Redis)') : '-'
rows.push(['local, callbacks', figure('local callbacks'), figure('local redis'), ratio('local callbacks', 'local redis'), '≥ 5,000,000/s, ≥ 2× Redis', met('local callbacks', 5e6, 'local redis')])
rows.push(['local, Subscriptions (for await)', figure('local subscriptions'), figure('local redis'), ratio('local subscriptions', 'local redis'), '≥ 5,000,000/s, ≥ 2× Redis', met('local subscriptions', 5e6, 'local redis')])
rows.push(['local, Subscriptions (batches())', figure('local batches'), figure('local redis'), ratio('local batches', 'local redis'), '≥ 5,000,000/s, ≥ 2× Redis', met('local batches', 5e6, 'local redis')])
rows.push(['remote, 2 nodes × 100 callbacks', figure('remote ironwood'), figure('remote redis'), ratio('remote ironwood', 'remote redis'), '≥ 1,500,000/s, ≥ 2× Redis', met('remote ironwood', 1.5e6, 'remote redis')])

const head = ['deliveries/s (best of 3 passes)', 'ironwood', 'Redis', 'ratio', 'target', 'met?']
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`
console.log(`\nPub/sub, 1 publisher (node ${process.version}, redis-server ${redis?.version ?? '-'}, ${((now() - started) / 1000) | 0} s)`)
console.log(line(head))
console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`)
for (const r of rows) console.log(line(r))
console.log('\npasses (deliveries/s):')
for (const [name, r] of Object.entries(R)) console.log(`  ${name.padEnd(20)} ${r.passes.map((x) => fmt(x)).join('  ')}`)
if (redisNote) console.log(`note: ${redisNote}`)
process.exit(0)
