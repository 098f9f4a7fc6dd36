// A real browser against serve(): headless Chromium (Debian's package, driven
// by playwright-core; never a downloaded browser) loads a page that opens a
// WebSocket, subscribes to a topic and lists what is published on it.
import { type Browser } from 'playwright-core'
import { ensureChromium, launchChromium } from './chromium.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Server, pubsub, serve } from 'ironwood'
import { waitFor } from './cluster-harness.js'


const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>live feed</title></head>
<body>
<p id="status">connecting</p>
<ul id="feed"></ul>
<script>
  const ws = new WebSocket('ws://' + location.host + '/live?topic=ticker')
  ws.onopen = () => { document.getElementById('status').textContent = 'open' }
  ws.onclose = () => { document.getElementById('status').textContent = 'closed' }
  ws.onmessage = (e) => {
    const item = document.createElement('li')
    const m = JSON.parse(e.data)
    item.textContent = m.symbol + ' ' + m.price
    document.getElementById('feed').appendChild(item)
  }
</script>
</body></html>`

let server: Server
let browser: Browser

beforeAll(async () => {
  ensureChromium()
  server = await serve(() => new Response(page, { headers: { 'content-type': 'text/html;charset=utf-8' } }), {
    websocket: {
      upgrade: (req) => new URL(req.url).searchParams.get('topic') ?? false,
      open: (ws) => ws.subscribe(ws.data),
    },
  })
  browser = await launchChromium()
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop({ timeout: 1000 })
})

describe('serve: a browser', () => {
  it('a page opens a WebSocket and shows what is published on its topic', async () => {
    const tab = await browser.newPage()
    await tab.goto(server.url.href)
    await tab.locator('#status', { hasText: 'open' }).waitFor({ timeout: 15_000 })
    await waitFor('the socket to join the topic', () => pubsub.members('ticker') === 1)
    expect(pubsub.publish('ticker', { symbol: 'ACME', price: 101.5 })).toBe(1)
    pubsub.publish('ticker', { symbol: 'INIT', price: 7 })
    pubsub.publish('other-topic', { symbol: 'NOPE', price: 0 })
    const items = tab.locator('#feed li')
    await waitFor('two items on the page', async () => (await items.count()) === 2)
    expect(await items.allTextContents()).toEqual(['ACME 101.5', 'INIT 7'])
    await tab.close()
    await waitFor('the closed page to leave the topic', () => pubsub.members('ticker') === 0)
  })
})
