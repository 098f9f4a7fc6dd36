// serve() benchmark (issue 6 item 6). Run with `npm run bench:serve`.
//
// Requests/s of one handler, `new Response('hello')`, behind each server
// variant of bench/lib/serve-server.mjs, each in its own process, loaded by
// Debian's wrk (1 thread, 64 keep-alive connections) on 127.0.0.1:
//
//   node:http raw          res.end('hello'): no Request/Response at all (floor)
//   node:http + fetch      the minimal conversion of the same fetch handler
//                          (a real Request in, the body read back): the baseline
//   serve                  ironwood serve(), no hooks
//   serve + 3 hooks        two onRequest and one onResponse no-op hook
//   @hono/node-server      reference: hands the handler a lazy Request-like object
//   srvx                   reference: the same idea
//   Bun.serve / serve(Bun) / serve(Bun) + 3 hooks   when Bun is installed (node_modules/.bin/bun)
//
// Variants are measured in turn, PASSES times over (A B C …, A B C …), and
// each keeps its best pass, as bench/lib/measure.mjs does: the machine is
// shared, and the best pass is the figure closest to an unloaded core.
//
// Targets (not tests): serve ≥ 90% of node:http + fetch; three no-op hooks
// cost ≤ 10% (serve + 3 hooks ≥ 90% of serve).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pinNativeAddon } from './lib/pin-addon.mjs'
import { ensureWrk, wrk } from './lib/wrk.mjs'

const pinned = pinNativeAddon() // children inherit NAPI_RS_NATIVE_LIBRARY_PATH
const PASSES = Number(process.env.SERVE_BENCH_PASSES ?? 3)
const SECONDS = Number(process.env.SERVE_BENCH_SECONDS ?? 3)
const CONNECTIONS = 64
const log = (...a) => console.error(...a)
const fmt = (n) => Math.round(n).toLocaleString('en-US')
const pct = (a, b) => `${((100 * a) / b).toFixed(0)}%`

const why = ensureWrk(log)
if (why !== null) {
  console.error(`bench:serve needs wrk: ${why}`)
  process.exit(1)
}

const serverScript = fileURLToPath(new URL('./lib/serve-server.mjs', import.meta.url))
const bunBin = fileURLToPath(new URL('../node_modules/.bin/bun', import.meta.url))
const hasBun = existsSync(bunBin)

const children = new Set()
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  pinned.remove()
})

/** Starts one variant's server process; resolves with its port. */
function start(runtime, variant) {
  const child = spawn(runtime === 'bun' ? bunBin : process.execPath, [serverScript, variant], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n')[0]
      if (out.includes('\n')) resolve({ child, port: JSON.parse(line).port })
    })
    child.once('exit', (code) => reject(new Error(`${runtime} ${variant} exited early (${code})`)))
  })
}

const variants = [
  { name: 'node:http raw', runtime: 'node', variant: 'raw' },
  { name: 'node:http + fetch', runtime: 'node', variant: 'fetch' },
  { name: 'serve', runtime: 'node', variant: 'serve' },
  { name: 'serve + 3 hooks', runtime: 'node', variant: 'hooks' },
  { name: '@hono/node-server', runtime: 'node', variant: 'hono' },
  { name: 'srvx', runtime: 'node', variant: 'srvx' },
]
if (hasBun) {
  variants.push(
    { name: 'Bun.serve', runtime: 'bun', variant: 'bun' },
    { name: 'serve (Bun)', runtime: 'bun', variant: 'serve' },
    { name: 'serve (Bun) + 3 hooks', runtime: 'bun', variant: 'hooks' },
  )
} else log('Bun not installed (node_modules/.bin/bun): Bun rows skipped')

for (const v of variants) {
  const { port } = await start(v.runtime, v.variant)
  v.url = `http://127.0.0.1:${port}/`
  v.passes = []
  wrk(v.url, { connections: CONNECTIONS, seconds: 1 }) // warm-up (JIT, connections)
}

log(`wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${PASSES} interleaved passes, best kept (Node ${process.version}${hasBun ? ', Bun' : ''})`)
for (let p = 0; p < PASSES; p++) {
  for (const v of variants) {
    const r = wrk(v.url, { connections: CONNECTIONS, seconds: SECONDS })
    if (r.non2xx > 0 || r.errors) log(`  ${v.name}: ${r.non2xx} non-2xx responses ${r.errors}`)
    v.passes.push(r.rps)
    log(`  pass ${p + 1} ${v.name.padEnd(24)} ${fmt(r.rps)} req/s`)
  }
}

const best = Object.fromEntries(variants.map((v) => [v.name, Math.max(...v.passes)]))
const rows = [
  ['node:http raw', null],
  ['node:http + fetch', null],
  ['serve', 'node:http + fetch'],
  ['serve + 3 hooks', 'serve'],
  ['@hono/node-server', 'node:http + fetch'],
  ['srvx', 'node:http + fetch'],
  ['Bun.serve', null],
  ['serve (Bun)', 'Bun.serve'],
  ['serve (Bun) + 3 hooks', 'serve (Bun)'],
]
console.log('')
console.log(`${'variant'.padEnd(24)} ${'req/s'.padStart(9)}   ratio`)
for (const [name, base] of rows) {
  if (best[name] === undefined) continue
  const ratio = base === null ? '' : `${pct(best[name], best[base])} of ${base}`
  console.log(`${name.padEnd(24)} ${fmt(best[name]).padStart(9)}   ${ratio}`)
}
console.log('')
console.log(`serve / node:http raw: ${pct(best.serve, best['node:http raw'])} (the cost of Request/Response objects at all)`)
console.log(
  `targets: serve ≥ 90% of node:http + fetch: ${pct(best.serve, best['node:http + fetch'])}; ` +
    `3 no-op hooks ≤ 10% cost: ${pct(best['serve + 3 hooks'], best.serve)} of serve`,
)
for (const c of children) c.kill('SIGKILL')
