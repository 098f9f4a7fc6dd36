// The dashboard of a real 3-node cluster (this process and two forked
// nodes): a headless Chromium (Debian's package, driven by playwright-core)
// sees the three nodes, their links, topics and a supervision tree, then
// sees a node shown down after its process is killed. WebSocket clients
// check that a read-only dashboard refuses control requests and a control
// dashboard kills a process on another node.
import { existsSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser } from 'playwright-core'
import { ensureChromium, launchChromium } from './chromium.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type Dashboard, dashboard, node } from 'ironwood'
import { type TestNode, clusterSuite, forkPeer, waitFor } from './cluster-harness.js'

const FIXTURE = new URL('./fixtures/dashboard-node.mjs', import.meta.url).pathname
const COOKIE = 'dashboard-test-cookie'
/** Where the screenshot goes (IRONWOOD_TEST_OUTPUT, or a folder in the system's temp dir). */
const OUTPUT = process.env.IRONWOOD_TEST_OUTPUT ?? join(tmpdir(), 'ironwood-test-output')

/** A WebSocket client of a dashboard that keeps every message it received. */
async function client(d: Dashboard): Promise<{ ws: WebSocket; got: any[]; next: (pred: (m: any) => boolean) => Promise<any> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${d.port}/ws`)
  const got: any[] = []
  ws.on('message', (data) => got.push(JSON.parse(String(data))))
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const next = async (pred: (m: any) => boolean) => {
    let found: any
    await waitFor('a matching dashboard message', () => (found = got.find(pred)) !== undefined, 15_000)
    return found
  }
  return { ws, got, next }
}

let a: TestNode
let b: TestNode
let readOnly: Dashboard
let control: Dashboard
let browser: Browser

describe('dashboard', () => {
  clusterSuite('dash-main', COOKIE)

  beforeAll(async () => {
    ensureChromium()
    a = await forkPeer(FIXTURE, COOKIE, 'dash-a')
    b = await forkPeer(FIXTURE, COOKIE, 'dash-b')
    readOnly = await dashboard({ interval: 500 })
    control = await dashboard({ interval: 500, control: true })
    browser = await launchChromium()
  }, 600_000)

  afterAll(async () => {
    await browser?.close()
    await readOnly?.stop()
    await control?.stop()
  })

  it('refuses bad options', async () => {
    await expect(dashboard({ interval: 5 })).rejects.toThrow(RangeError)
    await expect(dashboard({ control: 'yes' as unknown as boolean })).rejects.toThrow(TypeError)
    await expect(dashboard('fast' as unknown as object)).rejects.toThrow(TypeError)
  })

  it('pushes every node\u2019s overview over the WebSocket, and the chosen node\u2019s tree', async () => {
    const c = await client(readOnly)
    const overview = await c.next((m) => m.type === 'overview' && m.nodes.filter((n: any) => n.state === 'up' && n.overview).length === 3)
    expect(overview.self).toBe(node())
    expect(overview.control).toBe(false)
    expect(overview.nodes.map((n: any) => n.node).sort()).toEqual([node(), a.name, b.name].sort())
    const remote = overview.nodes.find((n: any) => n.node === a.name).overview
    expect(remote.processes.count).toBeGreaterThanOrEqual(4)
    expect(remote.topics.map((t: any) => t.name)).toContain('dash:telemetry')
    expect(remote.table.prefixes).toContainEqual(['device:', 20])
    expect(remote.peers.map((p: any) => p.node).sort()).toEqual([node(), b.name].sort())

    c.ws.send(JSON.stringify({ type: 'select', node: a.name }))
    const t = await c.next((m) => m.type === 'tree' && m.node === a.name)
    expect(t.tree.supervisors).toHaveLength(1)
    expect(t.tree.supervisors[0].children.map((x: any) => x.name)).toContain('dash-worker')
    expect(t.tree.supervisors[0].restarts).toBe(0)
    c.ws.close()
  })

  it('a read-only dashboard refuses to kill or stop, and says why', async () => {
    const c = await client(readOnly)
    const id = await a.call('workerId')
    c.ws.send(JSON.stringify({ type: 'kill', node: a.name, id }))
    c.ws.send(JSON.stringify({ type: 'stop', node: b.name }))
    c.ws.send('{not json')
    await waitFor('three errors', () => c.got.filter((m) => m.type === 'error').length === 3, 15_000)
    const errors = c.got.filter((m) => m.type === 'error').map((m) => m.message)
    expect(errors[0]).toMatch(/read-only/)
    expect(errors[1]).toMatch(/read-only/)
    expect(errors[2]).toMatch(/JSON/)
    expect(await a.call('workerId')).toBe(id)
    c.ws.close()
  })

  it('a control dashboard kills a process on another node (its supervisor restarts it)', async () => {
    const c = await client(control)
    await c.next((m) => m.type === 'overview')
    const id = await a.call('workerId')
    c.ws.send(JSON.stringify({ type: 'kill', node: a.name, id }))
    const done = await c.next((m) => m.type === 'done')
    expect(done).toMatchObject({ action: 'kill', node: a.name, ok: true })
    await waitFor('the worker to be restarted', async () => {
      const now = await a.call('workerId')
      return now !== null && now !== id
    })
    c.ws.send(JSON.stringify({ type: 'select', node: a.name }))
    const t = await c.next((m) => m.type === 'tree' && m.node === a.name && m.tree.supervisors[0].restarts === 1)
    expect(t.tree.supervisors[0].restarts).toBe(1)
    const children = t.tree.supervisors[0].children
    expect(children.find((x: any) => x.name === 'dash-worker').restarts).toBe(1)
    expect(children.filter((x: any) => x.name !== 'dash-worker').every((x: any) => x.restarts === undefined)).toBe(true)
    c.ws.close()
  })

  it('a browser shows the three nodes, then a killed node down', async () => {
    const tab = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    const pageErrors: string[] = []
    tab.on('pageerror', (e) => pageErrors.push(e.message))
    await tab.goto(readOnly.url.href)
    await waitFor('three nodes up on the page', async () => (await tab.locator('.node[data-state="up"]').count()) === 3, 20_000)
    for (const n of [node(), a.name, b.name]) expect(await tab.locator(`.node[data-node="${n}"]`).count()).toBe(1)
    expect(await tab.locator('#mode').textContent()).toBe('read-only')
    expect(await tab.locator('[data-action="kill"], [data-action="stop"]').count()).toBe(0)
    await waitFor('the topic on the page', async () => (await tab.locator('#topics tr[data-topic="dash:telemetry"]').count()) === 1, 15_000)
    await waitFor('the links on the page', async () => (await tab.locator('#links tbody tr').count()) === 6, 15_000)
    await tab.locator('#tree-node').selectOption(a.name)
    await waitFor('the chosen node\u2019s tree on the page', async () => (await tab.locator('#tree li > span', { hasText: 'dash-worker' }).count()) === 1, 15_000)
    expect(await tab.locator('#tree-summary').textContent()).toContain(a.name)
    await waitFor('the charts drawn', async () => (await tab.locator('.uplot canvas').count()) === 3, 15_000)

    b.child.kill('SIGKILL')
    await waitFor('the killed node shown down', async () => (await tab.locator(`.node[data-node="${b.name}"][data-state="down"]`).count()) === 1, 20_000)
    expect(await tab.locator('.node[data-state="up"]').count()).toBe(2)
    await new Promise((r) => setTimeout(r, 1500)) // let the charts gather a few more points for the picture
    mkdirSync(OUTPUT, { recursive: true })
    const file = join(OUTPUT, 'dashboard.png')
    await tab.screenshot({ path: file, fullPage: true })
    expect(existsSync(file)).toBe(true)
    expect(pageErrors).toEqual([])

    // The control dashboard's page offers the buttons.
    const tab2 = await browser.newPage()
    await tab2.goto(control.url.href)
    await waitFor('stop buttons on a control page', async () => (await tab2.locator('[data-action="stop"]').count()) === 2, 20_000)
    await tab2.close()
    await tab.close()
  }, 90_000)
})
