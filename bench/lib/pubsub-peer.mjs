// A receiving node of bench/pubsub.mjs (forked with an IPC channel). It makes
// SUBSCRIBERS members of one topic, counts every delivery, and reports the
// count over IPC every ACK_EVERY deliveries (the publisher's flow control).
//
//   node bench/lib/pubsub-peer.mjs ironwood   an ironwood node; callback members
//   node bench/lib/pubsub-peer.mjs redis      ioredis connections, one per subscriber
//
// Parent → child: { cmd: 'reset' } (count from 0), 'stop'. Child → parent:
// { ready, node? } once subscribed, { deliveries } as they arrive.
const mode = process.argv[2]
const SUBSCRIBERS = Number(process.env.PUBSUB_BENCH_PEER_SUBSCRIBERS ?? 100)
const ACK_EVERY = Number(process.env.PUBSUB_BENCH_ACK_EVERY ?? 10_000)
const TOPIC = process.env.PUBSUB_BENCH_TOPIC ?? 'bench:telemetry'

let deliveries = 0
let nextAck = ACK_EVERY
function delivered() {
  if (++deliveries >= nextAck) {
    nextAck += ACK_EVERY
    process.send({ deliveries })
  }
}

let stop = async () => {}
if (mode === 'ironwood') {
  const { cluster, node, pubsub } = await import('ironwood')
  for (let i = 0; i < SUBSCRIBERS; i++) pubsub.subscribe(TOPIC, () => delivered())
  await cluster.start({ name: `peer${process.pid}`, cookie: process.env.IRONWOOD_BENCH_COOKIE })
  stop = () => cluster.stop()
  process.send({ ready: true, node: node() })
} else if (mode === 'redis') {
  const { default: Redis } = await import('ioredis')
  const port = Number(process.env.IRONWOOD_BENCH_REDIS_PORT)
  const clients = []
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableAutoPipelining: false })
    await r.connect()
    // Strings as they come: no JSON.parse per delivery (which favours Redis).
    r.on('message', delivered)
    await r.subscribe(TOPIC)
    clients.push(r)
  }
  stop = async () => {
    for (const r of clients) r.disconnect()
  }
  process.send({ ready: true })
} else {
  console.error(`usage: pubsub-peer.mjs ironwood|redis (got ${mode})`)
  process.exit(2)
}

process.on('message', async (m) => {
  if (m === 'stop') {
    await stop()
    process.exit(0)
  }
  if (m?.cmd === 'reset') {
    deliveries = 0
    nextAck = ACK_EVERY
    process.send({ reset: true })
  }
})
process.on('disconnect', () => process.exit(0))
