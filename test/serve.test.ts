// serve(): the fetch handler, hooks, limits and WebSockets through the public entry.
// This file also runs under Bun (`bun test test/serve.test.ts`): the same
// assertions hold for the node:http adapter and the Bun.serve one.
import net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type Handler, type LogEvent, type ServeOptions, type Server, type ServerWebSocket, pubsub, serve, setLogger } from 'ironwood'

const isBun = typeof (globalThis as { Bun?: unknown }).Bun === 'object'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

let logs: LogEvent[] = []
beforeAll(() => {
  setLogger((e) => logs.push(e))
})
afterAll(() => {
  setLogger(null)
})

const servers: Server[] = []
async function start<D = undefined>(handler: Handler, options?: ServeOptions<D>): Promise<Server> {
  const s = await serve(handler, options)
  servers.push(s)
  return s
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop({ timeout: 1000 })))
  logs = []
})

/** Sends raw bytes and resolves with everything the server sent until it closed the connection. */
function raw(server: Server, chunks: (string | Buffer)[], { keepOpen = false } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1')
    let out = ''
    sock.on('data', (d) => {
      out += d.toString('latin1')
    })
    sock.on('error', (e: NodeJS.ErrnoException) => (out.length > 0 ? resolve(out) : reject(e)))
    sock.on('close', () => resolve(out))
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c)
      if (!keepOpen) sock.end()
    })
  })
}

/** Opens a ws client and collects its messages. */
async function client(url: string): Promise<{ ws: WebSocket; messages: (string | Buffer)[]; closed: Promise<number> }> {
  const ws = new WebSocket(url)
  const messages: (string | Buffer)[] = []
  ws.on('message', (data, isBinary) => messages.push(isBinary ? (data as Buffer) : data.toString()))
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return { ws, messages, closed }
}

const wsUrl = (server: Server, path = '/') => `ws://127.0.0.1:${server.port}${path}`

describe('serve: the handler', () => {
  it('listens on a free port and hands the handler a real Request', async () => {
    let seen: Request | undefined
    const server = await start((req) => {
      seen = req
      const url = new URL(req.url)
      return new Response(`hello ${url.pathname} ${url.searchParams.get('q')}`, { headers: { 'x-method': req.method } })
    })
    expect(server.port).toBeGreaterThan(0)
    expect(server.url.href).toBe(`http://127.0.0.1:${server.port}/`)
    expect(server.runtime).toBe(isBun ? 'bun' : 'node')
    const res = await fetch(new URL('/greet?q=1', server.url), { headers: { 'x-custom': 'yes' } })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('hello /greet 1')
    expect(res.headers.get('x-method')).toBe('GET')
    expect(res.headers.get('content-type')?.toLowerCase()).toBe('text/plain;charset=utf-8')
    expect(seen).toBeInstanceOf(Request)
    expect(seen!.headers.get('x-custom')).toBe('yes')
    // A real Request: it can be cloned and rebuilt like any other.
    expect(new Request(seen!).url).toBe(`http://127.0.0.1:${server.port}/greet?q=1`)
  })

  it('passes request bodies (text, JSON, bytes) and returns status, headers and several cookies', async () => {
    const server = await start(async (req) => {
      const type = req.headers.get('content-type') ?? ''
      if (type === 'application/json') return Response.json({ got: await req.json() }, { status: 201 })
      if (type === 'application/octet-stream') {
        const bytes = new Uint8Array(await req.arrayBuffer())
        return new Response(bytes.reverse(), { headers: { 'content-type': 'application/octet-stream' } })
      }
      const headers = new Headers({ 'x-len': String((await req.text()).length) })
      headers.append('set-cookie', 'a=1')
      headers.append('set-cookie', 'b=2')
      return new Response(null, { status: 204, headers })
    })
    const json = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":[1,2]}' })
    expect(json.status).toBe(201)
    expect(await json.json()).toEqual({ got: { n: [1, 2] } })
    const bin = await fetch(server.url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([1, 2, 3]) })
    expect([...new Uint8Array(await bin.arrayBuffer())]).toEqual([3, 2, 1])
    const text = await fetch(server.url, { method: 'POST', body: 'x'.repeat(1000) })
    expect(text.status).toBe(204)
    expect(text.headers.get('x-len')).toBe('1000')
    expect(text.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
  })

  it('streams a ReadableStream body and answers HEAD without a body', async () => {
    const server = await start(
      () =>
        new Response(
          new ReadableStream({
            async start(controller) {
              for (let i = 0; i < 5; i++) {
                controller.enqueue(new TextEncoder().encode(`chunk${i};`))
                await sleep(5)
              }
              controller.close()
            },
          }),
        ),
    )
    expect(await (await fetch(server.url)).text()).toBe('chunk0;chunk1;chunk2;chunk3;chunk4;')
    const head = await fetch(server.url, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
  })

  it('a handler can forward its Request with fetch (a proxy)', async () => {
    const backend = await start((req) => new Response(`backend saw ${new URL(req.url).pathname} ${req.headers.get('x-trace')}`))
    const proxy = await start((req) => fetch(new Request(new URL(new URL(req.url).pathname, backend.url), req)))
    const res = await fetch(new URL('/api/items', proxy.url), { headers: { 'x-trace': 't1' } })
    expect(await res.text()).toBe('backend saw /api/items t1')
  })

  it('writes standard status lines, and no Content-Length on a 204', async () => {
    const server = await start((req) =>
      new URL(req.url).pathname === '/none' ? new Response(null, { status: 204 }) : new Response('made', { status: 201 }),
    )
    const none = await raw(server, ['GET /none HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'])
    expect(none).toMatch(/^HTTP\/1\.1 204 No Content\r\n/)
    expect(none).not.toMatch(/content-length/i)
    const made = await raw(server, ['GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'])
    expect(made).toMatch(/^HTTP\/1\.1 201 Created\r\n/)
    expect(made).toMatch(/content-length: 4\r\n/i)
    expect(made.endsWith('\r\n\r\nmade')).toBe(true)
  })
})

describe('serve: hooks', () => {
  it('runs onRequest, the handler and onResponse in order; arrays compose', async () => {
    const order: string[] = []
    const server = await start(
      (req) => {
        order.push(`handler:${req.headers.get('x-user')}`)
        return new Response('ok')
      },
      {
        hooks: {
          onRequest: [
            (req) => {
              order.push('req1')
              const headers = new Headers(req.headers)
              headers.set('x-user', 'ada')
              return new Request(req, { headers })
            },
            async (req) => {
              await sleep(1)
              order.push(`req2:${req.headers.get('x-user')}`)
            },
          ],
          onResponse: [
            (res) => {
              order.push(`res1:${res.status}`)
              const headers = new Headers(res.headers)
              headers.set('x-timing', 'measured')
              return new Response(res.body, { status: res.status, headers })
            },
            async (res, req) => {
              order.push(`res2:${res.headers.get('x-timing')}:${req.headers.get('x-user')}`)
            },
          ],
        },
      },
    )
    const res = await fetch(server.url)
    expect(await res.text()).toBe('ok')
    expect(res.headers.get('x-timing')).toBe('measured')
    expect(order).toEqual(['req1', 'req2:ada', 'handler:ada', 'res1:200', 'res2:measured:ada'])
  })

  it('a Response from onRequest short-circuits the handler and later onRequest hooks, onResponse still runs', async () => {
    const order: string[] = []
    const server = await start(
      () => {
        order.push('handler')
        return new Response('secret')
      },
      {
        hooks: {
          onRequest: [
            (req) => {
              order.push('auth')
              if (req.headers.get('authorization') !== 'Bearer t') return new Response('unauthorized', { status: 401 })
            },
            () => {
              order.push('after-auth')
            },
          ],
          onResponse: (res) => {
            order.push(`log:${res.status}`)
          },
        },
      },
    )
    const denied = await fetch(server.url)
    expect(denied.status).toBe(401)
    expect(await denied.text()).toBe('unauthorized')
    expect(order).toEqual(['auth', 'log:401'])
    order.length = 0
    const ok = await fetch(server.url, { headers: { authorization: 'Bearer t' } })
    expect(await ok.text()).toBe('secret')
    expect(order).toEqual(['auth', 'after-auth', 'handler', 'log:200'])
  })
})

describe('serve: errors', () => {
  it('a throwing handler gets a bare 500 by default: no message or stack reaches the client, the error is logged', async () => {
    const server = await start(() => {
      throw new Error('database password is hunter2')
    })
    const res = await fetch(new URL('/boom', server.url))
    expect(res.status).toBe(500)
    const body = await res.text()
    expect(body).toBe('Internal Server Error')
    expect(body).not.toContain('hunter2')
    const entry = logs.find((e) => e.message.includes('GET /boom failed'))
    expect(entry?.level).toBe('error')
    expect((entry?.error as Error).message).toBe('database password is hunter2')
  })

  it('onError hooks map errors from the handler and from hooks, in order; a throwing onError falls back to 500', async () => {
    class NotFound extends Error {}
    const seen: string[] = []
    const server = await start(
      async (req) => {
        const path = new URL(req.url).pathname
        if (path === '/missing') throw new NotFound(path)
        if (path === '/not-a-response') return 'text' as unknown as Response
        if (path === '/unmapped') throw new Error('unmapped')
        return new Response('fine')
      },
      {
        hooks: {
          onRequest: (req) => {
            if (new URL(req.url).pathname === '/hook-throws') throw new RangeError('bad hook')
          },
          onResponse: (_res, req) => {
            if (new URL(req.url).pathname === '/response-throws') throw new NotFound('from onResponse')
          },
          onError: [
            (err) => {
              seen.push(`first:${(err as Error).constructor.name}`)
              if (err instanceof RangeError) throw new Error('onError itself failed')
            },
            (err) => {
              if (err instanceof NotFound) return new Response(`not found: ${err.message}`, { status: 404 })
              if (err instanceof TypeError) return new Response('bad handler', { status: 502 })
            },
          ],
        },
      },
    )
    const missing = await fetch(new URL('/missing', server.url))
    expect([missing.status, await missing.text()]).toEqual([404, 'not found: /missing'])
    const notResponse = await fetch(new URL('/not-a-response', server.url))
    expect([notResponse.status, await notResponse.text()]).toEqual([502, 'bad handler'])
    const hookThrows = await fetch(new URL('/hook-throws', server.url))
    expect([hookThrows.status, await hookThrows.text()]).toEqual([500, 'Internal Server Error'])
    const responseThrows = await fetch(new URL('/response-throws', server.url))
    expect([responseThrows.status, await responseThrows.text()]).toEqual([404, 'not found: from onResponse'])
    const unmapped = await fetch(new URL('/unmapped', server.url))
    expect(unmapped.status).toBe(500)
    expect(seen).toEqual(['first:NotFound', 'first:TypeError', 'first:RangeError', 'first:NotFound', 'first:Error'])
    expect(logs.some((e) => e.message.includes('onError hook threw'))).toBe(true)
    expect((await fetch(server.url)).status).toBe(200)
  })

  it('refuses bad arguments with TypeError / RangeError naming the option', async () => {
    const h = () => new Response('x')
    await expect(serve(42 as unknown as () => Response)).rejects.toThrow(TypeError)
    await expect(serve(h, { port: 70000 })).rejects.toThrow(/port/)
    await expect(serve(h, { port: 70000 })).rejects.toThrow(RangeError)
    await expect(serve(h, { hooks: { onRequest: ['nope' as unknown as () => undefined] } })).rejects.toThrow(/hooks.onRequest\[0\]/)
    await expect(serve(h, { maxBodySize: -1 })).rejects.toThrow(RangeError)
    await expect(serve(h, { requestTimeout: 0 })).rejects.toThrow(/requestTimeout/)
    await expect(serve(h, { websocket: { slowClient: 'block' as 'drop' } })).rejects.toThrow(/slowClient/)
  })
})

describe('serve: bad input', () => {
  it('answers 413 to a body over maxBodySize, declared or chunked, and keeps serving', async () => {
    const server = await start(async (req) => new Response(`got ${(await req.arrayBuffer()).byteLength}`), { maxBodySize: 1000 })
    const fits = await fetch(server.url, { method: 'POST', body: 'x'.repeat(1000) })
    expect(await fits.text()).toBe('got 1000')
    const declared = await raw(server, [`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n`, 'y'.repeat(5000)])
    expect(declared).toMatch(/^HTTP\/1\.1 413 /)
    const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`
    const chunked = await raw(server, [
      `POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`,
      chunk('z'.repeat(600)),
      chunk('z'.repeat(600)),
      '0\r\n\r\n',
    ])
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /)
    const smallChunked = await raw(server, [
      `POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`,
      chunk('z'.repeat(300)),
      chunk('z'.repeat(300)),
      '0\r\n\r\n',
    ])
    expect(smallChunked).toMatch(/^HTTP\/1\.1 200 [^]*got 600$/)
    expect(await (await fetch(server.url, { method: 'POST', body: 'ok' })).text()).toBe('got 2')
  })

  it('answers 503 when the handler does not answer within requestTimeout, and keeps serving', async () => {
    const server = await start(
      (req) => (new URL(req.url).pathname === '/hang' ? new Promise<Response>(() => {}) : new Response('quick')),
      { requestTimeout: 300 },
    )
    const hung = await fetch(new URL('/hang', server.url))
    expect(hung.status).toBe(503)
    expect(await hung.text()).toBe('Service Unavailable')
    expect(await (await fetch(server.url)).text()).toBe('quick')
    expect(logs.some((e) => e.level === 'warn' && e.message.includes('/hang'))).toBe(true)
  })

  it('a request that times out also aborts request.signal: the downstream fetch it started is cancelled', async () => {
    let backendStarted = false
    let backendSawAbort = false
    const backend = await start(
      (req) =>
        new Promise<Response>((resolve) => {
          backendStarted = true
          // The backend's request.signal aborts when its client (the front's fetch) goes away.
          req.signal.addEventListener('abort', () => {
            backendSawAbort = true
            resolve(new Response('too late'))
          })
        }),
      { requestTimeout: 60_000 },
    )
    let downstream: unknown
    let lateSignal: { aborted: boolean; reason: unknown } | undefined
    const front = await start(
      async (req) => {
        if (new URL(req.url).pathname === '/late') {
          // The signal read only after the timeout: already aborted.
          await sleep(700)
          lateSignal = { aborted: req.signal.aborted, reason: req.signal.reason }
          return new Response('late')
        }
        try {
          return await fetch(backend.url, { signal: req.signal })
        } catch (error) {
          downstream = error
          throw error
        }
      },
      { requestTimeout: 300 },
    )
    const res = await fetch(front.url)
    expect(res.status).toBe(503)
    await waitFor('the downstream fetch to be cancelled', () => downstream !== undefined)
    expect((downstream as Error).name).toBe('TimeoutError')
    expect(backendStarted).toBe(true)
    await waitFor('the backend to see its request aborted', () => backendSawAbort)
    expect((await fetch(new URL('/late', front.url))).status).toBe(503)
    await waitFor('the late handler to read its signal', () => lateSignal !== undefined)
    expect(lateSignal!.aborted).toBe(true)
    expect((lateSignal!.reason as Error).name).toBe('TimeoutError')
  })

  it('answers 431 to request headers over 16 KiB and keeps serving', async () => {
    let calls = 0
    const server = await start(() => {
      calls++
      return new Response('fine')
    })
    const big = await raw(server, [`GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\nconnection: close\r\n\r\n`])
    expect(big).toMatch(/^HTTP\/1\.1 431 /)
    expect(calls).toBe(0)
    const fits = await raw(server, [`GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(8 * 1024)}\r\nconnection: close\r\n\r\n`])
    expect(fits).toMatch(/^HTTP\/1\.1 200 [^]*fine$/)
    expect(await (await fetch(server.url)).text()).toBe('fine')
  })

  it('answers 400 to malformed requests and keeps serving', async () => {
    const server = await start(() => new Response('fine'))
    const garbage = await raw(server, ['THIS IS NOT HTTP\r\n\r\n'])
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /)
    const badHeader = await raw(server, ['GET / HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n'])
    expect(badHeader).toMatch(/^HTTP\/1\.1 400 /)
    expect(await (await fetch(server.url)).text()).toBe('fine')
  })

  it('a client that disconnects mid-request aborts request.signal; the server stays up and stop() does not wait for it', async () => {
    let aborted = false
    let started = false
    const server = await serve(
      (req) =>
        new URL(req.url).pathname !== '/slow'
          ? new Response('fine')
          : new Promise<Response>((resolve) => {
              started = true
              req.signal.addEventListener('abort', () => {
                aborted = true
                resolve(new Response('too late'))
              })
            }),
      { requestTimeout: 60_000 },
    )
    const sock = net.connect(server.port, '127.0.0.1')
    sock.on('error', () => {})
    sock.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n')
    await waitFor('the handler to start', () => started)
    sock.destroy()
    await waitFor('request.signal to abort', () => aborted)
    expect(await (await fetch(server.url)).text()).toBe('fine')
    // Nothing is left in flight: a drain that waited for the lost request would take 60 s.
    await server.stop({ timeout: 60_000 })
    await expect(fetch(server.url)).rejects.toThrow()
  })

  it('stop() closes WebSockets with 1001, lets a request in flight finish, then refuses new connections', async () => {
    let release: () => void = () => {}
    const server = await serve(
      async () => {
        await new Promise<void>((r) => (release = r))
        return new Response('finished')
      },
      { websocket: {} },
    )
    const socket = await client(wsUrl(server))
    const inFlight = fetch(server.url)
    await waitFor('the request to arrive', () => release.toString() !== '() => {}')
    const stopped = server.stop({ timeout: 10_000 })
    expect(await socket.closed).toBe(1001)
    release()
    expect(await (await inFlight).text()).toBe('finished')
    await stopped
    await expect(fetch(server.url)).rejects.toThrow()
  })
})

describe('serve: WebSockets', () => {
  it('opens, echoes text and binary, closes, and passes what upgrade() returned as ws.data', async () => {
    const events: string[] = []
    const server = await start(() => new Response('http'), {
      websocket: {
        upgrade: (req) => ({ user: new URL(req.url).searchParams.get('user') }),
        open: (ws) => {
          events.push(`open:${ws.data.user}`)
        },
        message: (ws, data) => {
          if (typeof data === 'string') ws.send(`echo:${data}`)
          else ws.send(new Uint8Array([...data].map((b) => b * 2)))
        },
        close: (ws, code) => {
          events.push(`close:${ws.data.user}:${code}:${ws.readyState}`)
        },
      },
    })
    const c = await client(wsUrl(server, '/live?user=ada'))
    c.ws.send('hi')
    c.ws.send(new Uint8Array([1, 2, 3]))
    await waitFor('two replies', () => c.messages.length === 2)
    expect(c.messages[0]).toBe('echo:hi')
    expect([...(c.messages[1] as Buffer)]).toEqual([2, 4, 6])
    c.ws.close(4000)
    await waitFor('the close handler', () => events.length === 2)
    expect(events).toEqual(['open:ada', 'close:ada:4000:closed'])
    expect(await (await fetch(server.url)).text()).toBe('http')
  })

  it('onRequest hooks guard upgrades; upgrade() can refuse with false (403) or a Response', async () => {
    const server = await start(() => new Response('http'), {
      hooks: { onRequest: (req) => (new URL(req.url).searchParams.has('token') ? undefined : new Response('no token', { status: 401 })) },
      websocket: {
        upgrade: (req) => {
          const token = new URL(req.url).searchParams.get('token')
          if (token === 'bad') return false
          if (token === 'teapot') return new Response('short and stout', { status: 418 })
          return token
        },
        open: (ws) => {
          ws.send(`welcome ${ws.data}`)
        },
      },
    })
    const statusOf = (path: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(wsUrl(server, path))
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
        ws.on('open', () => resolve(101))
        ws.on('error', () => {})
      })
    expect(await statusOf('/')).toBe(401)
    expect(await statusOf('/?token=bad')).toBe(403)
    expect(await statusOf('/?token=teapot')).toBe(418)
    const ok = await client(wsUrl(server, '/?token=good'))
    await waitFor('the welcome', () => ok.messages.length === 1)
    expect(ok.messages[0]).toBe('welcome good')
    ok.ws.close()
  })

  it('subscribe / unsubscribe: a published message reaches exactly the subscribed sockets; closing leaves every topic', async () => {
    const sockets: ServerWebSocket<string>[] = []
    const server = await start(() => new Response('http'), {
      websocket: {
        upgrade: (req) => new URL(req.url).pathname.slice(1),
        open: (ws) => {
          sockets.push(ws)
          ws.subscribe('news')
          if (ws.data === 'both') ws.subscribe('sport')
        },
        message: (ws, data) => {
          if (data === 'leave news') ws.send(String(ws.unsubscribe('news')))
        },
      },
    })
    const a = await client(wsUrl(server, '/one'))
    const b = await client(wsUrl(server, '/both'))
    await waitFor('both sockets', () => sockets.length === 2)
    // Each socket is one cluster pub/sub member: pubsub.publish reaches it too.
    expect(pubsub.members('news')).toBe(2)
    expect(server.publish('news', 'headline')).toBe(2)
    expect(server.publish('sport', { score: [2, 1], at: new Date(0), big: 10n, tags: new Set(['x']) })).toBe(1)
    expect(server.publish('weather', 'rain')).toBe(0)
    await waitFor('messages', () => a.messages.length === 1 && b.messages.length === 2)
    expect(a.messages).toEqual(['headline'])
    expect(b.messages[0]).toBe('headline')
    expect(JSON.parse(b.messages[1] as string)).toEqual({ score: [2, 1], at: '1970-01-01T00:00:00.000Z', big: '10', tags: ['x'] })
    expect(server.publish('bytes', new Uint8Array([9]))).toBe(0)
    b.ws.send('leave news')
    await waitFor('the unsubscribe reply', () => b.messages.length === 3)
    expect(b.messages[2]).toBe('true')
    expect(sockets.find((s) => s.data === 'both')!.topics).toEqual(['sport'])
    expect(pubsub.publish('news', 'second')).toBe(1)
    await waitFor('the second headline', () => a.messages.length === 2)
    expect(a.messages[1]).toBe('second')
    a.ws.close()
    await waitFor('socket one to close', () => sockets[0]!.readyState === 'closed')
    expect(server.publish('news', 'third')).toBe(0)
    expect(pubsub.members('news')).toBe(0)
    expect(() => server.publish('news', () => 1)).toThrow(TypeError)
    expect(() => sockets[1]!.subscribe('')).toThrow(TypeError)
    b.ws.close()
  })
})

describe('serve: bad WebSocket input', () => {
  it('a client that vanishes, sends garbage frames or an oversized message is closed and leaves its topics; the server stays up', async () => {
    const closes: { who: string; code: number }[] = []
    const server = await start(() => new Response('still here'), {
      websocket: {
        maxPayload: 1024,
        upgrade: (req) => new URL(req.url).pathname.slice(1),
        open: (ws) => ws.subscribe('room'),
        message: (ws, data) => {
          ws.send(typeof data === 'string' ? data : 'bytes')
        },
        close: (ws, code) => {
          closes.push({ who: ws.data, code })
        },
      },
    })
    // Vanishes: the TCP connection is destroyed without a close frame.
    const vanishing = await stuckClient(server, '/vanishing')
    await waitFor('one member', () => pubsub.members('room') === 1)
    vanishing.destroy()
    await waitFor('the vanished socket to close', () => closes.some((c) => c.who === 'vanishing'))
    // Garbage: bytes that are not a valid (masked) frame.
    const garbage = await stuckClient(server, '/garbage')
    garbage.resume()
    garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02]))
    await waitFor('the garbage socket to close', () => closes.length === 2)
    // Oversized: a message over maxPayload closes with 1009.
    const big = await client(wsUrl(server, '/big'))
    big.ws.send('x'.repeat(2048))
    expect(await big.closed).toBe(1009)
    await waitFor('the oversized socket to close', () => closes.length === 3)
    expect(pubsub.members('room')).toBe(0)
    const ok = await client(wsUrl(server, '/fine'))
    ok.ws.send('ping')
    await waitFor('an echo', () => ok.messages.length === 1)
    expect(ok.messages[0]).toBe('ping')
    ok.ws.close()
    expect(await (await fetch(server.url)).text()).toBe('still here')
  })
})

/**
 * Opens a WebSocket by hand over a raw TCP socket, then never reads from it:
 * the server's send buffer for it can only grow.
 */
async function stuckClient(server: Server, path = '/stuck'): Promise<net.Socket> {
  const sock = net.connect(server.port, '127.0.0.1')
  sock.on('error', () => {})
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
  sock.write(
    `GET ${path} HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
      'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n',
  )
  await new Promise<void>((resolve) => sock.once('data', () => resolve()))
  sock.pause()
  return sock
}

describe('serve: slow WebSocket clients', () => {
  for (const policy of ['close', 'drop'] as const) {
    it(`policy '${policy}': a client that stops reading is ${policy === 'close' ? 'closed' : 'skipped'}, a fast one gets every message`, async () => {
      const sockets = new Map<string, ServerWebSocket<string>>()
      const closes: string[] = []
      const server = await start(() => new Response('http'), {
        websocket: {
          maxBufferedBytes: 256 * 1024,
          slowClient: policy,
          upgrade: (req) => new URL(req.url).pathname.slice(1),
          open: (ws) => {
            sockets.set(ws.data, ws)
            ws.subscribe('firehose')
          },
          close: (ws) => {
            closes.push(ws.data)
          },
        },
      })
      const fast = await client(wsUrl(server, '/fast'))
      const stuck = await stuckClient(server)
      await waitFor('both sockets', () => sockets.size === 2)
      const slow = sockets.get('stuck')!
      const chunk = new Uint8Array(64 * 1024).fill(7)
      let published = 0
      // Bounded: loopback buffers take a few MiB before the server's queue grows.
      while (published < 1500 && (policy === 'close' ? slow.readyState === 'open' : slow.dropped === 0)) {
        server.publish('firehose', chunk)
        published++
        if (published % 8 === 0) await sleep(1)
      }
      expect(published).toBeLessThan(1500)
      if (policy === 'close') {
        await waitFor('the close handler', () => closes.includes('stuck'))
        expect(slow.isSubscribed('firehose')).toBe(false)
      } else {
        expect(slow.readyState).toBe('open')
        expect(slow.dropped).toBeGreaterThan(0)
        expect(slow.bufferedAmount).toBeLessThan(256 * 1024 + 2 * chunk.byteLength + 64 * 1024)
      }
      await waitFor('the fast client to get everything', () => fast.messages.length === published, 20_000)
      expect(fast.messages.every((m) => (m as Buffer).byteLength === chunk.byteLength)).toBe(true)
      fast.ws.close()
      stuck.destroy()
    }, 30_000)
  }
})
