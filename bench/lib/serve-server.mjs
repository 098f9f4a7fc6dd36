// One HTTP server for bench/serve.mjs, in its own process (Node or Bun), all
// answering the same handler: `new Response('hello')` (text/plain). Prints
// `{"port":N}` on stdout once listening, `{"cpu":µs}` on SIGUSR2; killed by
// the benchmark.
//
//   raw        node:http, setHeader + res.end('hello'): no Request/Response at all; the
//              baseline for serve's ≥ 90% target (issue 6)
//   fetch      node:http with the minimal conversion to real undici objects
//              (a real Request in, the Response's body read back): what the
//              standard objects alone cost
//   serve      ironwood serve(), no hooks
//   hooks      serve() with three no-op hooks that all run (two onRequest, one onResponse)
//   hono       @hono/node-server's listener (a lazy Request-like object)
//   srvx       srvx's toNodeHandler (a lazy Request-like object), the same handler
//   srvx-fast  srvx's toNodeHandler with a handler that returns srvx's own
//              FastResponse (srvx does not replace the global Response; its
//              users import FastResponse): srvx at its fastest
//   bun        Bun.serve with the handler as its fetch (Bun only)
import http from 'node:http'

const variant = process.argv[2]
const handler = () => new Response('hello')
const noop = () => {}
const ready = (port) => process.stdout.write(`${JSON.stringify({ port })}\n`)
// On SIGUSR2, prints the CPU time this process has used so far (µs, user + system):
// the benchmark turns it into CPU per request, which other load on the machine hardly changes.
process.on('SIGUSR2', () => {
  const { user, system } = process.cpuUsage()
  process.stdout.write(`${JSON.stringify({ cpu: user + system })}\n`)
})

function listen(listener) {
  const server = http.createServer(listener)
  server.listen(0, '127.0.0.1', () => ready(server.address().port))
}

if (variant === 'raw') {
  // setHeader, not writeHead: node:http then sends a Content-Length, as serve does
  // (writeHead before end() would make it chunked, a slower baseline).
  listen((req, res) => {
    res.setHeader('content-type', 'text/plain;charset=UTF-8')
    res.end('hello')
  })
} else if (variant === 'fetch') {
  listen(async (req, res) => {
    const headers = []
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]])
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers })
    const response = await handler(request)
    const body = Buffer.from(await response.arrayBuffer())
    const out = []
    response.headers.forEach((v, k) => out.push(k, v))
    res.writeHead(response.status, out)
    res.end(body)
  })
} else if (variant === 'serve' || variant === 'hooks') {
  const { serve } = await import('ironwood')
  const hooks = variant === 'hooks' ? { onRequest: [noop, noop], onResponse: noop } : undefined
  const server = await serve(handler, { hooks })
  ready(server.port)
} else if (variant === 'hono') {
  const { getRequestListener } = await import('@hono/node-server')
  listen(getRequestListener(handler))
} else if (variant === 'srvx') {
  const { toNodeHandler } = await import('srvx/node')
  listen(toNodeHandler(handler))
} else if (variant === 'srvx-fast') {
  const { toNodeHandler, FastResponse } = await import('srvx/node')
  listen(toNodeHandler(() => new FastResponse('hello')))
} else if (variant === 'bun') {
  const server = globalThis.Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handler })
  ready(server.port)
} else {
  console.error(`unknown variant ${variant}`)
  process.exit(2)
}
