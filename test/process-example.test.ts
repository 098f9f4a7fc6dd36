// The telemetry example is what users copy: it must run to completion by
// itself and tell a consistent story.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

describe('examples/telemetry-collector.mjs', () => {
  it('restarts crashed devices, counts in state, and stops everything', async () => {
    const { stdout } = await run(process.execPath, ['examples/telemetry-collector.mjs'], { cwd: root, timeout: 30_000 })
    const crashes = stdout.match(/crashed: device-\d got a bad reading/g) ?? []
    expect(crashes.length).toBeGreaterThan(0)
    const devices = [...stdout.matchAll(/(device-\d)\s+(\d+) readings .* restarts (\d+)/g)]
    expect(devices.map((m) => m[1])).toEqual(['device-1', 'device-2', 'device-3'])
    const restarts = devices.reduce((n, m) => n + Number(m[3]), 0)
    const valid = devices.reduce((n, m) => n + Number(m[2]), 0)
    const counters = stdout.match(/readings (\d+)\s+bad (\d+)\s+lost while restarting (\d+)/)!
    // Every bad reading crashed its device exactly once, and every crash was restarted.
    expect(Number(counters[2])).toBe(crashes.length)
    expect(restarts).toBe(crashes.length)
    // Every reading was either valid (and aggregated), bad, or sent while its device restarted.
    expect(valid).toBe(Number(counters[1]))
    expect(valid + Number(counters[2]) + Number(counters[3])).toBe(3 * 300)
    expect(stdout).toMatch(/device-3 running #PID<nonode@nohost\.\d+>/)
    expect(stdout).toMatch(/stopped: 0 processes left/)
  })
})
