// ironwood demo: one shared native table used by four worker threads at once
// for a cache, sessions, a rate limiter and live metrics counters.
// Run it with `npm start` (builds first) or `node examples/demo.mjs`.
import { Worker } from 'node:worker_threads'
import { Table, state } from 'ironwood'

const WORKERS = 4
const REQUESTS_PER_WORKER = 20_000

state.clear()
Table.open('sessions').clear()
Table.open('ratelimit').clear()

// Sessions created here are validated by the workers: same table, any thread.
const sessions = Table.open('sessions')
for (let user = 1; user <= 50; user++) {
  sessions.set(`sess:${user}`, { user, name: `user-${user}`, roles: user % 10 === 0 ? ['admin'] : ['viewer'] }, { ttl: 60_000 })
}

console.log(`ironwood demo: ${WORKERS} worker threads × ${REQUESTS_PER_WORKER.toLocaleString()} requests, one shared table\n`)
const started = performance.now()
const workers = Array.from({ length: WORKERS }, (_, id) =>
  new Promise((resolve, reject) => {
    const w = new Worker(new URL('./demo-worker.mjs', import.meta.url), {
      workerData: { id, requests: REQUESTS_PER_WORKER },
    })
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${id} exited with ${code}`))))
  }),
)

// The main thread watches the counters the workers bump, live.
const ticker = setInterval(() => {
  console.log(`  live: ${String(state.get('metrics:requests') ?? 0).padStart(6)} requests handled`)
}, 100)
await Promise.all(workers)
clearInterval(ticker)
const seconds = (performance.now() - started) / 1000

const m = state.getMany([
  'metrics:requests',
  'metrics:cache_hits',
  'metrics:cache_misses',
  'metrics:rate_limited',
  'metrics:bad_session',
])
const perWorker = state.keys('metrics:worker:').map((k) => `${k.slice('metrics:worker:'.length)}=${state.get(k)}`)
console.log(`
done in ${seconds.toFixed(2)} s
  requests         ${m['metrics:requests']} (per worker: ${perWorker.join(', ')})
  cache            ${m['metrics:cache_hits']} hits, ${m['metrics:cache_misses']} misses (${state.keys('cache:').length} entries cached, 200 ms TTL)
  rate limiter     ${m['metrics:rate_limited']} requests refused (100 per user per 50 ms window)
  sessions         ${sessions.size()} live, ${m['metrics:bad_session']} requests with an unknown session refused
  exact counting   ${
    m['metrics:requests'] === WORKERS * REQUESTS_PER_WORKER ? 'yes' : 'NO'
  }: ${WORKERS} threads incremented one counter with no lost update`)
