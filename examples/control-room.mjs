// The control-room demo (`npm start`): a distributed control system in
// miniature. Three real node processes on 127.0.0.1 form a cluster; a
// process hub spreads 300 simulated devices over them (GenServers sending
// telemetry ten times a second, a few failing at random and restarted);
// aggregators keep rolling statistics in each node's shared table; pub/sub
// carries the readings; the first node serves the dashboard. Every minute
// one of the other two nodes is stopped and brought back 15 s later, so
// failover and redistribution show on the page. Ctrl-C stops everything.
//
//   node examples/control-room.mjs [--port 4000] [--no-rotate] [--devices 300]
//
// This process only launches and supervises the three nodes; it is not a
// node itself. Each node exits when this process goes away (even by
// SIGKILL), so no orphan is left behind.
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'

const argv = process.argv.slice(2)
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback
}
const DASHBOARD_PORT = Number(arg('port', 4000))
const DEVICES = Number(arg('devices', 300))
const ROTATE = !argv.includes('--no-rotate')
const ROTATE_EVERY_MS = Number(arg('rotate-every', 60_000))
const DOWN_FOR_MS = 15_000
const NODE_FILE = new URL('./control-room-node.mjs', import.meta.url)
const cookie = randomBytes(16).toString('hex')
const log = (m) => console.log(`[control-room] ${m}`)

/** A free UDP port, so a node brought back keeps its name (name@host:port). */
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4')
    s.once('error', reject)
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

const specs = []
for (const [i, name] of ['control', 'plant-a', 'plant-b'].entries()) specs.push({ i, name, port: await freeUdpPort() })
const nodeName = (s) => `${s.name}@127.0.0.1:${s.port}`
const running = new Map()
let stopping = false

function start(s) {
  const options = {
    name: s.name,
    port: s.port,
    cookie,
    // The control node starts first; the plants join through it (and learn each other from it).
    seeds: s.i === 0 ? [] : [nodeName(specs[0])],
    ...(s.i === 0 && { dashboardPort: DASHBOARD_PORT, devices: DEVICES, expectNodes: specs.length }),
  }
  const child = fork(NODE_FILE, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  running.set(s.name, child)
  child.on('exit', (code, signal) => {
    if (running.get(s.name) === child) running.delete(s.name)
    if (!stopping && s.i === 0) {
      log(`the dashboard node exited (${code ?? signal}); stopping`)
      void shutdown(1)
    }
  })
  return new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.type === 'started') {
        log(`${m.name} up (pid ${child.pid})`)
        if (m.url) log(`dashboard: ${m.url}`)
        resolve(child)
      } else if (m.type === 'devices') log(`hub: ${m.started} devices started${m.errors ? `, ${m.errors} errors` : ''}`)
      else if (m.type === 'start-error') reject(new Error(`${s.name}: ${m.error}`))
    })
    child.once('exit', (code) => reject(new Error(`${s.name} exited (${code}) before starting`)))
  })
}

async function shutdown(code = 0) {
  if (stopping) return
  stopping = true
  log('stopping the nodes')
  const exits = [...running.values()].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', r))))
  for (const c of running.values()) if (c.connected) c.send('stop')
  const kill = setTimeout(() => {
    for (const c of running.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  }, 3000)
  await Promise.all(exits)
  clearTimeout(kill)
  process.exit(code)
}
process.on('SIGINT', () => void shutdown(0))
process.on('SIGTERM', () => void shutdown(0))

try {
  // The control node first (it serves the dashboard and starts the devices
  // once all three nodes are in the hub), then the two plants.
  await start(specs[0])
  await Promise.all([start(specs[1]), start(specs[2])])
} catch (error) {
  console.error(error)
  await shutdown(1)
}

if (ROTATE) {
  log(`every ${ROTATE_EVERY_MS / 1000} s one plant node is stopped (SIGKILL) and brought back ${DOWN_FOR_MS / 1000} s later`)
  let turn = 0
  const rotate = setInterval(() => {
    const s = specs[1 + (turn++ % 2)]
    const child = running.get(s.name)
    if (child === undefined || stopping) return
    log(`stopping ${nodeName(s)}: its devices restart on the other nodes`)
    child.kill('SIGKILL')
    setTimeout(() => {
      if (stopping) return
      log(`bringing ${nodeName(s)} back: devices move back to it`)
      start(s).catch((e) => log(String(e)))
    }, DOWN_FOR_MS)
  }, ROTATE_EVERY_MS)
  rotate.unref()
}
log('Ctrl-C to stop')
