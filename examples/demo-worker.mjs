// One "web worker" of the demo: handles synthetic requests using the shared table.
import { workerData } from 'node:worker_threads'
import { Table, state } from 'ironwood'

const { id, requests } = workerData
const sessions = Table.open('sessions')
const ratelimit = Table.open('ratelimit')

// A slow lookup the cache saves us from.
function loadProduct(productId) {
  let h = productId
  for (let i = 0; i < 2_000; i++) h = (h * 31 + i) % 1_000_003
  return { id: productId, price: (h % 10_000) / 100, stock: h % 50 }
}

function getProduct(productId) {
  const key = `cache:product:${productId}`
  const cached = state.get(key)
  if (cached !== undefined) {
    state.incr('metrics:cache_hits')
    return cached
  }
  state.incr('metrics:cache_misses')
  const product = loadProduct(productId)
  state.set(key, product, { ttl: 200 })
  return product
}

// Fixed-window limiter: the window's key is created with its TTL, then incr
// (which keeps the TTL) counts requests in it atomically across threads.
function allow(user, limit = 100, windowMs = 50) {
  const key = `rl:${user}:${Math.floor(Date.now() / windowMs)}`
  ratelimit.setNew(key, 0, { ttl: windowMs * 2 })
  return ratelimit.incr(key) <= limit
}

for (let i = 0; i < requests; i++) {
  state.incr('metrics:requests')
  state.incr(`metrics:worker:${id}`)
  const user = 1 + ((i * 7 + id * 13) % 60) // users 51..60 have no session
  const session = sessions.get(`sess:${user}`)
  if (session === undefined) {
    state.incr('metrics:bad_session')
    continue
  }
  if (!allow(user)) {
    state.incr('metrics:rate_limited')
    continue
  }
  getProduct((i * 31 + id) % 500)
  // Yield now and then so the demo runs long enough to watch.
  if (i % 2_000 === 0) await new Promise((r) => setTimeout(r, 1))
}
