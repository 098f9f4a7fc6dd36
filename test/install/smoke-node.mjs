// One cluster node of the install smoke program, in its own process.
// argv: name [seed]. Prints JSON lines: {started}, then {sees} once a peer is
// up (and, when a seed was given, {rpc} with the result of calls to the seed);
// on stdin end it stops the cluster and exits on its own.
import { cluster, node, nodes, rpc } from 'ironwood'

rpc.register('smoke', { add: (a, b) => a + b, whoami: () => node() })

const [name, seed] = process.argv.slice(2)
const say = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`)

await cluster.start({
  name,
  host: '127.0.0.1',
  cookie: 'install-smoke',
  seeds: seed ? [seed] : [],
  heartbeatInterval: 200,
  heartbeatTimeout: 1000,
})
say({ started: node() })
const poll = setInterval(() => {
  if (nodes().length > 0) {
    clearInterval(poll)
    say({ sees: nodes() })
    if (seed) {
      rpc.call(seed, 'smoke', 'add', [2, 3]).then(
        async (sum) => say({ rpc: { sum, whoami: await rpc.call(seed, 'smoke', 'whoami') } }),
        (error) => say({ rpc: { error: String(error) } }),
      )
    }
  }
}, 20)
process.stdin.resume()
process.stdin.on('end', async () => {
  clearInterval(poll)
  await cluster.stop()
  process.stdin.pause()
})
