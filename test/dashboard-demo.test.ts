// The control-room demo (examples/control-room.mjs, what `npm start` runs),
// seen through its dashboard in headless Chromium: three nodes and 300 hub
// children; a node process killed for real is shown down and its children
// are back to 300 on the survivors; Ctrl-C (SIGINT) stops every process.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser } from 'playwright-core'
import { ensureChromium, launchChromium } from './chromium.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { track, waitFor } from './cluster-harness.js'

const DEMO = new URL('../examples/control-room.mjs', import.meta.url).pathname
const OUTPUT = process.env.IRONWOOD_TEST_OUTPUT ?? join(tmpdir(), 'ironwood-test-output')

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

let demo: ChildProcess
let out = ''
let browser: Browser
const pids = new Map<string, number>()

describe('control-room demo', () => {
  beforeAll(async () => {
    ensureChromium()
    demo = track(spawn(process.execPath, [DEMO, '--port', '0', '--no-rotate'], { stdio: ['ignore', 'pipe', 'pipe'] }))
    demo.stdout!.on('data', (d) => (out += String(d)))
    demo.stderr!.on('data', (d) => (out += String(d)))
    await waitFor('the demo to start 300 devices and its dashboard', () => /hub: 300 devices started/.test(out) && /dashboard: http/.test(out), 120_000)
    for (const m of out.matchAll(/\] (\S+)@\S+ up \(pid (\d+)\)/g)) pids.set(m[1]!, Number(m[2]))
    browser = await launchChromium()
  }, 600_000)

  afterAll(async () => {
    await browser?.close()
    if (demo.exitCode === null) demo.kill('SIGKILL')
    for (const pid of pids.values()) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })

  it('shows 3 nodes and 300 children; after a node is killed, it shows it down and 300 children on the survivors; Ctrl-C leaves no process', async () => {
    expect([...pids.keys()].sort()).toEqual(['control', 'plant-a', 'plant-b'])
    const url = /dashboard: (http\S+)/.exec(out)![1]!
    const tab = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
    await tab.goto(url)
    await waitFor('three nodes up', async () => (await tab.locator('.node[data-state="up"]').count()) === 3, 30_000)
    await waitFor('300 children in the hub', async () => (await tab.locator('#hubs tr[data-hub-total="300"]').count()) === 1, 60_000)
    await waitFor('the telemetry topic', async () => (await tab.locator('#topics tr[data-topic="telemetry"]').count()) === 1, 30_000)

    process.kill(pids.get('plant-a')!, 'SIGKILL')
    await waitFor('plant-a shown down', async () => (await tab.locator('.node[data-node^="plant-a@"][data-state="down"]').count()) === 1, 30_000)
    await waitFor('300 children on the two survivors', async () => {
      const total = await tab.locator('#hubs tr[data-hub-total]').getAttribute('data-hub-total')
      const onDead = await tab.locator('#hubs tr[data-hub-node^="plant-a@"]').getAttribute('data-children')
      return total === '300' && onDead === '0'
    }, 60_000)
    await new Promise((r) => setTimeout(r, 2000)) // a few more chart points for the picture
    mkdirSync(OUTPUT, { recursive: true })
    await tab.screenshot({ path: join(OUTPUT, 'control-room.png'), fullPage: true })
    await tab.close()

    const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)))
    demo.kill('SIGINT')
    expect(await exited).toBe(0)
    await waitFor('every node process to be gone', () => [...pids.values()].every((pid) => !alive(pid)), 10_000)
  }, 240_000)
})
