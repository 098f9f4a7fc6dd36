// A web tier on ironwood: serve() with hooks, the shared table, RPC to a
// "GPU" node, and a live WebSocket feed fed by cluster pub/sub.
//
//   web node (this process)                         gpu node (forked child)
//   ├── serve() on 127.0.0.1                         ├── rpc 'model'.predict(text)
//   │   hooks: request ids + counters in `state`,    └── publishes its load on 'events'
//   │          timing header, JSON errors                every 100 ms
//   │   GET  /         a page showing the live feed
//   │   POST /predict  rate-limited (state), calls the gpu node over RPC,
//   │                  publishes the result on 'events'
//   │   GET  /stats    counters from the shared table
//   └── WebSocket /live: subscribes to the cluster topic 'events'
//
// `node examples/web-app.mjs` runs a short scripted session against itself
// (HTTP requests and a WebSocket client), prints what happened and exits.
// `node examples/web-app.mjs --serve` keeps running on port 3000: open
// http://127.0.0.1:3000/ and POST to /predict to watch the feed.
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { cluster, node, nodes, pubsub, rpc, serve, state } from 'ironwood'

// ---------------------------------------------------------------- gpu node --
if (process.argv[2] === '--gpu') {
  const cookie = process.argv[3]
  let busy = 0
  rpc.register('model', {
    predict: async (text) => {
      busy++
      await new Promise((r) => setTimeout(r, 5)) // pretend to run a model
      busy--
      const words = String(text).split(/\s+/).filter(Boolean)
      return { label: words.length > 3 ? 'long' : 'short', words: words.length, by: node() }
    },
  })
  await cluster.start({ name: 'gpu', cookie })
  const ticker = setInterval(() => pubsub.publish('events', { type: 'load', node: node(), busy }), 100)
  process.send({ started: node() })
  process.on('disconnect', async () => {
    clearInterval(ticker)
    await cluster.stop()
  })
} else {
  await webNode()
}

// ---------------------------------------------------------------- web node --
async function webNode() {
  const keepRunning = process.argv.includes('--serve')
  const cookie = randomBytes(16).toString('hex')
  await cluster.start({ name: 'web', cookie })

  const gpuProcess = fork(fileURLToPath(import.meta.url), ['--gpu', cookie])
  const { started: gpu } = await new Promise((resolve) => gpuProcess.once('message', resolve))
  await cluster.connect(gpu)

  const page = `<!doctype html><meta charset="utf-8"><title>ironwood live</title>
<h1>Live events</h1><ul id="feed"></ul>
<script>
  const ws = new WebSocket('ws://' + location.host + '/live')
  ws.onmessage = (e) => {
    const li = document.createElement('li'); li.textContent = e.data
    const feed = document.getElementById('feed'); feed.prepend(li)
    while (feed.children.length > 20) feed.lastChild.remove()
  }
</script>`

  let nextId = 0
  const started = new WeakMap()
  const hooks = {
    // Every request gets an id and is counted in the shared table.
    onRequest: (req) => {
      state.incr('http:requests')
      const headers = new Headers(req.headers)
      headers.set('x-request-id', `r${++nextId}`)
      const next = new Request(req, { headers })
      started.set(next, performance.now())
      return next
    },
    onResponse: (res, req) => {
      state.incr(`http:status:${res.status}`)
      const headers = new Headers(res.headers)
      headers.set('x-request-id', req.headers.get('x-request-id') ?? '')
      headers.set('server-timing', `app;dur=${(performance.now() - (started.get(req) ?? 0)).toFixed(2)}`)
      return new Response(res.body, { status: res.status, headers })
    },
    // Errors become JSON; the message is only shown for errors we mean to show.
    onError: (err) => {
      if (err instanceof SyntaxError) return Response.json({ error: 'body must be JSON like {"text": "..."}' }, { status: 400 })
    },
  }

  const server = await serve(
    async (req) => {
      const { pathname } = new URL(req.url)
      if (req.method === 'GET' && pathname === '/') return new Response(page, { headers: { 'content-type': 'text/html;charset=utf-8' } })
      if (req.method === 'GET' && pathname === '/stats') {
        return Response.json(state.getMany(state.keys('http:')))
      }
      if (req.method === 'POST' && pathname === '/predict') {
        // A fixed-window rate limit, exact across worker threads: 20 a second per client.
        const client = req.headers.get('x-client') ?? 'anonymous'
        const window = `rl:${client}:${Math.floor(Date.now() / 1000)}`
        state.setNew(window, 0, { ttl: 2000 })
        if (state.incr(window) > 20) return new Response('slow down', { status: 429 })
        const { text } = await req.json()
        const result = await rpc.call(gpu, 'model', 'predict', [text], { timeout: 2000 })
        pubsub.publish('events', { type: 'prediction', client, ...result })
        return Response.json(result)
      }
      return new Response('not found', { status: 404 })
    },
    {
      port: keepRunning ? 3000 : 0,
      hooks,
      maxBodySize: 64 * 1024,
      requestTimeout: 5000,
      websocket: {
        open: (ws) => ws.subscribe('events'),
        slowClient: 'drop', // a live feed: a slow browser misses updates rather than being cut off
      },
    },
  )
  console.log(`web node ${node()} serving ${server.url} (cluster: ${nodes().join(', ')})`)

  if (keepRunning) return

  // ---- a scripted session: a WebSocket client watches while requests come in
  const WebSocketClient = globalThis.WebSocket ?? (await import('ws')).WebSocket
  const feed = []
  const ws = new WebSocketClient(`ws://127.0.0.1:${server.port}/live`)
  ws.onmessage = (e) => feed.push(JSON.parse(e.data))
  await new Promise((resolve) => (ws.onopen = resolve))
  // The socket's subscription reaches the gpu node through pub/sub membership; its load reports follow.
  for (let waited = 0; !feed.some((e) => e.type === 'load'); waited += 10) {
    if (waited > 5000) throw new Error('no load report from the gpu node within 5 s')
    await sleep(10)
  }

  const predict = (text, client = 'alice') =>
    fetch(new URL('/predict', server.url), { method: 'POST', headers: { 'x-client': client }, body: JSON.stringify({ text }) })
  const first = await predict('hello ironwood')
  console.log(`POST /predict            ${first.status} ${JSON.stringify(await first.json())} (${first.headers.get('x-request-id')}, ${first.headers.get('server-timing')})`)
  const second = await predict('serve state rpc and a live feed')
  console.log(`POST /predict            ${second.status} ${JSON.stringify(await second.json())}`)
  const bad = await fetch(new URL('/predict', server.url), { method: 'POST', body: 'not json' })
  console.log(`POST /predict (bad)      ${bad.status} ${await bad.text()}`)
  const statuses = await Promise.all(Array.from({ length: 25 }, () => predict('burst', 'bob').then((r) => r.status)))
  console.log(`25 requests from bob     ${statuses.filter((s) => s === 200).length} ok, ${statuses.filter((s) => s === 429).length} rate-limited`)
  await sleep(200)
  const stats = await (await fetch(new URL('/stats', server.url))).json()
  console.log(`GET /stats               ${JSON.stringify(stats)}`)
  const predictions = feed.filter((e) => e.type === 'prediction')
  const loads = feed.filter((e) => e.type === 'load')
  console.log(`live feed (WebSocket)    ${predictions.length} predictions, ${loads.length} load reports from ${[...new Set(loads.map((e) => e.node))].join(', ')}`)

  ws.close()
  await server.stop()
  gpuProcess.disconnect()
  await new Promise((resolve) => gpuProcess.once('exit', resolve))
  await cluster.stop()
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}
