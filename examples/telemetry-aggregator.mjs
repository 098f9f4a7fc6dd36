// The aggregator node of examples/telemetry-cluster.mjs (forked by it; not
// meant to be run alone). It joins the cluster through the devices node,
// subscribes to 'telemetry' twice — every reading for statistics, and a
// latest-value view per device like a live dashboard's — and when the end
// marker arrives publishes a summary on 'telemetry:summary'.
import { cluster, node, pubsub, setLogger } from 'ironwood'

setLogger(({ message }) => console.log(`  [aggregator] ${message}`))

// Subscribing before cluster.start is fine: the devices node learns about
// these members when the nodes connect.
const readings = pubsub.subscribe('telemetry', { buffer: 10_000 })
const live = pubsub.subscribe('telemetry', { latestBy: 'deviceId', buffer: 100 })
await cluster.start({ name: 'aggregator', cookie: process.env.TELEMETRY_COOKIE, seeds: [process.env.TELEMETRY_SEED] })

const stats = new Map()
for await (const batch of readings.batches()) {
  let end = false
  for (const r of batch) {
    if (r.end) {
      end = true
      break
    }
    let s = stats.get(r.deviceId)
    if (s === undefined) stats.set(r.deviceId, (s = { deviceId: r.deviceId, count: 0, sum: 0, last: 0, inOrder: true, duplicates: 0 }))
    if (r.seq === s.last) s.duplicates++
    else if (r.seq !== s.last + 1) s.inOrder = false
    s.last = r.seq
    s.count++
    s.sum += r.celsius
  }
  if (end) break // leaving the loop unsubscribes
}

const devices = [...stats.values()]
  .sort((a, b) => a.deviceId.localeCompare(b.deviceId))
  .map(({ sum, last, ...s }) => ({ ...s, mean: sum / s.count }))
// The live view was never read while readings flowed: it holds one reading per device (and the end marker).
const view = live.drain().filter((r) => !r.end)
live.unsubscribe()
pubsub.publish('telemetry:summary', { node: node(), devices, live: view, replaced: live.replaced })
// Give the summary time to leave before this node goes away.
await new Promise((r) => setTimeout(r, 200))
await cluster.stop()
