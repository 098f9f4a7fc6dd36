// serve(): the Request the handler gets and the Response it returns behave as
// the standard objects, whatever serve does to make them cheap. On Node the
// Request is a lazy stand-in over node:http's request and `Response` is
// replaced by a lazy class (ts/serve-node-request.ts, ts/serve-node-response.ts);
// on Bun both are Bun's own. Every assertion here is the standard behaviour,
// so this file also runs under `bun test`.
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type Handler, type ServeOptions, type Server, serve } from 'ironwood'

const isBun = typeof (globalThis as { Bun?: unknown }).Bun === 'object'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
// The runtime's own classes, before serve() may replace the global Response.
const OriginalResponse = globalThis.Response
const OriginalRequest = globalThis.Request

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

const servers: Server[] = []
async function start(handler: Handler, options?: ServeOptions): Promise<Server> {
  const s = await serve(handler, options)
  servers.push(s)
  return s
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop({ timeout: 1000 })))
})

/** Runs `inspect` on the request the handler gets (its result or error returned as JSON), for one client request. */
async function inspect(init: RequestInit & { path?: string }, look: (req: Request) => unknown): Promise<unknown> {
  let result: unknown
  let failure: unknown
  const server = await start(async (req) => {
    try {
      result = await look(req)
    } catch (error) {
      failure = error
    }
    return new Response('ok')
  })
  const res = await fetch(new URL(init.path ?? '/', server.url), init)
  expect(res.status).toBe(200)
  if (failure !== undefined) throw failure
  return result
}

describe('serve: the fetch objects', () => {
  // First in the file: no serve() has run yet in this process.
  it('fastResponse: false leaves globalThis.Response alone', async () => {
    const server = await start(() => new Response('plain'), { fastResponse: false })
    expect(globalThis.Response).toBe(OriginalResponse)
    expect(await (await fetch(server.url)).text()).toBe('plain')
    await expect(serve(() => new Response(''), { fastResponse: 'yes' as unknown as boolean })).rejects.toThrow(TypeError)
  })

  it('serve() on Node puts the lazy Response in place of the global one (the default)', async () => {
    const server = await start(() => new Response('lazy'))
    expect(globalThis.Response !== OriginalResponse).toBe(!isBun)
    expect(new Response('x') instanceof OriginalResponse).toBe(true)
    expect(await (await fetch(server.url)).text()).toBe('lazy')
  })

  it('the request is instanceof Request, with url, method and headers as sent', async () => {
    const seen = (await inspect(
      { path: '/a/b?x=1&y=%20z', method: 'PUT', headers: { 'X-Custom': 'one', 'content-type': 'text/plain' }, body: 'b' },
      (req) => ({
        isRequest: req instanceof Request && req instanceof OriginalRequest,
        tag: Object.prototype.toString.call(req),
        url: req.url,
        method: req.method,
        custom: [req.headers.get('x-custom'), req.headers.get('X-CUSTOM'), req.headers.has('x-Custom')],
        missing: [req.headers.get('x-missing'), req.headers.has('x-missing')],
        headersAreHeaders: req.headers instanceof Headers,
      }),
    )) as Record<string, unknown>
    expect(seen.isRequest).toBe(true)
    expect(seen.tag).toBe('[object Request]')
    expect(seen.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/a\/b\?x=1&y=%20z$/)
    expect(seen.method).toBe('PUT')
    expect(seen.custom).toEqual(['one', 'one', true])
    expect(seen.missing).toEqual([null, false])
    expect(seen.headersAreHeaders).toBe(true)
  })

  it('URLs are normalised as the URL parser does (dot segments, default port, odd characters)', async () => {
    const server = await start((req) => new Response(req.url))
    const get = (target: string, host: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = net.connect(server.port, '127.0.0.1')
        let out = ''
        sock.on('data', (d) => (out += d.toString('latin1')))
        sock.on('error', reject)
        sock.on('close', () => resolve(out.slice(out.indexOf('\r\n\r\n') + 4)))
        sock.write(`GET ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`)
      })
    expect(await get('/a/./b/../c', 'example.com')).toBe('http://example.com/a/c')
    expect(await get('/x', 'EXAMPLE.com:80')).toBe('http://example.com/x')
    expect(await get('/q?a=<b>', '127.1:3000')).toBe('http://127.0.0.1:3000/q?a=%3Cb%3E')
    expect(await get('/plain/path?q=1', 'localhost:8080')).toBe('http://localhost:8080/plain/path?q=1')
  })

  it('repeated headers join as Headers does; iterating gives what a real Request gives', async () => {
    const server = await start((req) => {
      const entries = [...req.headers].filter(([k]) => k.startsWith('x-'))
      const each: string[] = []
      req.headers.forEach((v, k, parent) => {
        if (k.startsWith('x-') && parent === req.headers) each.push(`${k}=${v}`)
      })
      return Response.json({ joined: req.headers.get('x-dup'), entries, each, keys: [...req.headers.keys()].filter((k) => k.startsWith('x-')) })
    })
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(server.port, '127.0.0.1')
      let out = ''
      sock.on('data', (d) => (out += d.toString()))
      sock.on('error', reject)
      sock.on('close', () => resolve(out.slice(out.indexOf('\r\n\r\n') + 4)))
      sock.write('GET / HTTP/1.1\r\nhost: x\r\nX-Dup: a\r\nx-zed: z\r\nx-dup: b\r\nconnection: close\r\n\r\n')
    })
    // What undici / Bun make of the same header list.
    const reference = new OriginalRequest('http://x/', {
      headers: [
        ['X-Dup', 'a'],
        ['x-zed', 'z'],
        ['x-dup', 'b'],
      ],
    })
    expect(JSON.parse(reply)).toEqual({
      joined: 'a, b',
      entries: [...reference.headers],
      each: [...reference.headers].map(([k, v]) => `${k}=${v}`),
      keys: [...reference.headers.keys()],
    })
  })

  it('bodies read as text, JSON, bytes, Blob and FormData; a second read fails as on a real Request', async () => {
    const json = (await inspect({ method: 'POST', body: '{"a":[1,"é"]}' }, async (req) => {
      const before = req.bodyUsed
      const value = await req.json()
      const again = await req.text().then(
        () => 'read twice',
        (e: Error) => e.name,
      )
      return { before, value, after: req.bodyUsed, again }
    })) as Record<string, unknown>
    expect(json).toEqual({ before: false, value: { a: [1, 'é'] }, after: true, again: 'TypeError' })

    const bom = await inspect({ method: 'POST', body: new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]) }, (req) => req.text())
    expect(bom).toBe('hi')
    const bytes = await inspect({ method: 'POST', body: new Uint8Array([1, 2, 3]) }, async (req) => [...new Uint8Array(await req.arrayBuffer())])
    expect(bytes).toEqual([1, 2, 3])
    const blob = await inspect({ method: 'POST', body: 'blobby' }, async (req) => (await req.blob()).text())
    expect(blob).toBe('blobby')
    const form = new URLSearchParams({ name: 'ada', lang: 'en' })
    const fields = await inspect({ method: 'POST', body: form }, async (req) => Object.fromEntries(await req.formData()))
    expect(fields).toEqual({ name: 'ada', lang: 'en' })
    const stream = await inspect({ method: 'POST', body: 'streamed' }, async (req) => {
      const body = req.body!
      return new Response(body).text()
    })
    expect(stream).toBe('streamed')
    const bad = await inspect({ method: 'POST', body: '{nope' }, (req) => req.json().then(() => 'parsed', (e: Error) => e.name))
    expect(bad).toBe('SyntaxError')
    const empty = await inspect({}, async (req) => ({ body: req.body, text: await req.text(), used: req.bodyUsed }))
    expect(empty).toEqual({ body: null, text: '', used: false })
  })

  it('new Request(req), new Request(req, init) and req.clone() carry url, method, headers and body', async () => {
    const out = (await inspect({ path: '/p?q=1', method: 'POST', headers: { 'x-a': '1' }, body: 'payload' }, async (req) => {
      const clone = req.clone()
      const copy = new Request(req, { headers: { 'x-b': '2' } })
      return {
        clone: [clone instanceof Request, clone.url === req.url, clone.method, clone.headers.get('x-a'), await clone.text()],
        copy: [copy.url === req.url, copy.method, copy.headers.get('x-a'), copy.headers.get('x-b'), await copy.text()],
        // Constructing from it used its body, as with any Request.
        used: req.bodyUsed,
        reuse: (() => {
          try {
            new Request(req)
            return 'no error'
          } catch (e) {
            return (e as Error).name
          }
        })(),
      }
    })) as Record<string, unknown>
    expect(out.clone).toEqual([true, true, 'POST', '1', 'payload'])
    expect(out.copy).toEqual([true, 'POST', null, '2', 'payload'])
    expect(out.used).toBe(true)
    expect(out.reuse).toBe('TypeError')
  })

  it('a body read through the fast path cannot be read again through a copy', async () => {
    const out = await inspect({ method: 'POST', body: 'once' }, async (req) => {
      const text = await req.text()
      let copy = 'no error'
      try {
        new Request(req)
      } catch (e) {
        copy = (e as Error).name
      }
      return [text, req.bodyUsed, copy]
    })
    expect(out).toEqual(['once', true, 'TypeError'])
  })

  it('an onRequest hook can return new Request(req, init); the handler sees it, headers set on req stick', async () => {
    const server = await start(
      async (req) => new Response(`${req.method} ${new URL(req.url).pathname} ${req.headers.get('x-user')} ${req.headers.get('x-set')} ${await req.text()}`),
      {
        hooks: {
          onRequest: [
            (req) => {
              req.headers.set('x-set', 'yes')
            },
            (req) => new Request(new URL('/rewritten', req.url), new Request(req, { headers: { 'x-user': 'ada', 'x-set': req.headers.get('x-set')! } })),
          ],
        },
      },
    )
    const res = await fetch(new URL('/orig', server.url), { method: 'POST', body: 'data' })
    expect(await res.text()).toBe('POST /rewritten ada yes data')
  })

  it('fetch(req) forwards the request, body included (a proxy)', async () => {
    const backend = await start(async (req) => new Response(`${req.method} ${req.headers.get('x-t')} ${await req.text()}`))
    const proxy = await start((req) => fetch(new Request(new URL('/', backend.url), req)))
    const res = await fetch(proxy.url, { method: 'POST', headers: { 'x-t': 't1' }, body: 'forwarded' })
    expect(await res.text()).toBe('POST t1 forwarded')
  })

  it('req.signal aborts when the client disconnects, with or without the signal being read first', async () => {
    const events: string[] = []
    const server = await start(
      async (req) => {
        const early = new URL(req.url).pathname === '/early'
        const signal = early ? req.signal : undefined
        events.push('started')
        await waitFor('the client to leave', () => (signal ?? req.signal).aborted, 10_000)
        events.push(early ? 'early aborted' : 'late aborted')
        return new Response('gone')
      },
      { requestTimeout: 60_000 },
    )
    for (const path of ['/early', '/late']) {
      const sock = net.connect(server.port, '127.0.0.1')
      sock.on('error', () => {})
      sock.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`)
      await waitFor('the handler to start', () => events.filter((e) => e === 'started').length === (path === '/early' ? 1 : 2))
      sock.destroy()
    }
    await waitFor('both signals to abort', () => events.includes('early aborted') && events.includes('late aborted'))
  })

  it('Response: instanceof, status, headers, bodies and statics behave as the standard ones', async () => {
    const r = new Response('héllo', { status: 201, statusText: 'Made', headers: { 'x-a': '1' } })
    expect(r instanceof Response && r instanceof OriginalResponse).toBe(true)
    expect(new OriginalResponse('x') instanceof Response).toBe(true)
    expect(Object.prototype.toString.call(r)).toBe('[object Response]')
    expect([r.status, r.statusText, r.ok, r.type, r.url, r.redirected]).toEqual([201, 'Made', true, 'default', '', false])
    // The fetch standard sets the content type at construction; Bun 1.4.5 only when it sends the response.
    expect(r.headers.get('content-type')).toBe(isBun ? null : 'text/plain;charset=UTF-8')
    expect(r.headers.get('x-a')).toBe('1')
    const c = r.clone()
    expect(await c.text()).toBe('héllo')
    expect(await r.text()).toBe('héllo')
    expect(r.bodyUsed).toBe(true)
    await expect(r.text()).rejects.toThrow(TypeError)
    expect(await new Response(new Uint8Array([104, 105])).text()).toBe('hi')
    expect(new Response(new Uint8Array([1])).headers.get('content-type')).toBe(null)
    expect([...new Uint8Array(await new Response('ab').arrayBuffer())]).toEqual([97, 98])
    expect(await (await new Response('blob').blob()).text()).toBe('blob')
    expect(await new Response(new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('s')), c.close()) })).text()).toBe('s')
    const body = new Response('streamed').body!
    expect(await new Response(body).text()).toBe('streamed')
    const j = Response.json({ a: 1 }, { status: 202 })
    expect([j.status, j.headers.get('content-type')]).toEqual([202, expect.stringMatching(/^application\/json/)])
    expect(await j.json()).toEqual({ a: 1 })
    expect(Response.json('x', { headers: { 'content-type': 'text/x' } }).headers.get('content-type')).toBe('text/x')
    expect(Response.error().type).toBe('error')
    expect(Response.redirect('http://x/y', 301).headers.get('location')).toBe('http://x/y')
    expect(new Response(null).body).toBe(null)
    // Bad inits throw what the real constructor throws.
    expect(() => new Response('x', { status: 600 })).toThrow(RangeError)
    // A body on a null-body status: the standard throws; Bun 1.4.5 accepts it.
    if (!isBun) expect(() => new Response('x', { status: 204 })).toThrow(TypeError)
    expect(() => new Response('x', { headers: { 'bad name': 'v' } })).toThrow(TypeError)
    expect(() => Response.json(undefined)).toThrow(TypeError)
    class Mine extends Response {}
    const mine = new Mine('m')
    expect(mine instanceof Mine && mine instanceof Response).toBe(true)
    expect(new Response('x') instanceof Mine).toBe(false)
    expect(await mine.text()).toBe('m')
  })

  it('what hooks and the handler do to a Response reaches the client', async () => {
    const server = await start(
      (req) => {
        const path = new URL(req.url).pathname
        if (path === '/bytes') return new Response(new Uint8Array([0, 1, 255]), { headers: { 'content-type': 'application/octet-stream' } })
        if (path === '/reason') return new Response('x', { status: 418, statusText: 'Short And Stout' })
        if (path === '/json') return Response.json({ ok: true })
        return new Response('body')
      },
      {
        hooks: {
          onResponse: async (res, req) => {
            res.headers.set('x-hooked', '1')
            if (new URL(req.url).pathname === '/read') return new Response(`${(await res.text()).toUpperCase()} read`, res)
          },
        },
      },
    )
    const plain = await fetch(server.url)
    expect([plain.status, plain.headers.get('x-hooked'), plain.headers.get('content-length'), await plain.text()]).toEqual([200, '1', '4', 'body'])
    const read = await fetch(new URL('/read', server.url))
    expect([read.headers.get('x-hooked'), await read.text()]).toEqual(['1', 'BODY read'])
    const bytes = await fetch(new URL('/bytes', server.url))
    expect([bytes.headers.get('content-type'), [...new Uint8Array(await bytes.arrayBuffer())]]).toEqual(['application/octet-stream', [0, 1, 255]])
    const reason = await fetch(new URL('/reason', server.url))
    // Bun 1.4.5 always writes the standard reason phrase; node:http writes the one given.
    expect([reason.status, reason.statusText]).toEqual([418, isBun ? "I'm a Teapot" : 'Short And Stout'])
    const json = await fetch(new URL('/json', server.url))
    expect([json.headers.get('content-type'), await json.json()]).toEqual([expect.stringMatching(/^application\/json/), { ok: true }])
  })
})
