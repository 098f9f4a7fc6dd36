// The server process of bench/rpc.mjs (forked with an IPC channel). It serves
// the same two functions over every transport being compared:
//   add(a, b) -> a + b      echo(bytes) -> bytes
// as an ironwood node (rpc module 'bench'), a gRPC server, a node:http server
// (POST /add with a JSON body, POST /echo with raw bytes) and a raw TCP echo
// server (the ping-pong floor). It also counts one-way traffic: rpc casts to
// bench.tick, and messages sent to a registered process 'sink' (remote send).
// It reports its addresses over IPC and exits when the parent says 'stop' or
// disconnects.
import http from 'node:http'
import net from 'node:net'
import { cluster, node, register, rpc, spawn } from 'ironwood'
import { grpc, loadBenchService } from './rpc-proto.mjs'

let ticks = 0
let sunk = 0

// The one-way sink: a process that counts what it receives.
const sink = spawn(async (ctx) => {
  for (;;) {
    await ctx.receive()
    sunk++
  }
})
register('sink', sink)

rpc.register('bench', {
  add: (a, b) => a + b,
  echo: (x) => x,
  tick: () => {
    ticks++
    return null // a result must be a term, even for a cast
  },
  ticks: () => ticks,
  sinkPid: () => sink,
  sunk: () => sunk,
  // Never answers: the calls the failure-detection phase leaves pending.
  hang: () => new Promise(() => {}),
  reset: () => {
    ticks = 0
    sunk = 0
    return true
  },
})

await cluster.start({ name: 'server', cookie: process.env.IRONWOOD_BENCH_COOKIE })

// gRPC
const Bench = loadBenchService()
const grpcServer = new grpc.Server()
grpcServer.addService(Bench.service, {
  Add: (call, cb) => cb(null, { sum: call.request.a + call.request.b }),
  Echo: (call, cb) => cb(null, { data: call.request.data }),
})
const grpcPort = await new Promise((resolve, reject) =>
  grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
)

// node:http
const httpServer = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    if (req.url === '/add') {
      const { a, b } = JSON.parse(body)
      const out = JSON.stringify({ sum: a + b })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
      res.end(out)
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
      res.end(body)
    }
  })
})
httpServer.keepAliveTimeout = 60_000
await new Promise((r) => httpServer.listen(0, '127.0.0.1', r))

// raw TCP: echo whatever arrives
const tcpServer = net.createServer((s) => {
  s.setNoDelay(true)
  s.on('data', (d) => s.write(d))
  s.on('error', () => {})
})
await new Promise((r) => tcpServer.listen(0, '127.0.0.1', r))

process.send({
  node: node(),
  grpcPort,
  httpPort: httpServer.address().port,
  tcpPort: tcpServer.address().port,
})

async function stop() {
  grpcServer.forceShutdown()
  httpServer.closeAllConnections?.()
  httpServer.close()
  tcpServer.close()
  await cluster.stop()
  process.exit(0)
}
process.on('message', (m) => {
  if (m === 'stop') void stop()
  // The client's CPU-per-call figures add this process's CPU time.
  else if (m === 'cpu') process.send({ cpu: process.cpuUsage() })
})
process.on('disconnect', () => void stop())
