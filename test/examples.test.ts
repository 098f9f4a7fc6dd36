// The examples are what users copy: each must run to completion by itself.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

describe('examples', () => {
  it('the demo (npm start) uses the table from 4 workers and counts exactly', async () => {
    const { stdout } = await run(process.execPath, ['examples/demo.mjs'], { cwd: root, timeout: 60_000 })
    expect(stdout).toMatch(/requests\s+80000 \(per worker: 0=20000, 1=20000, 2=20000, 3=20000\)/)
    expect(stdout).toMatch(/exact counting\s+yes/)
    expect(stdout).toMatch(/sessions\s+50 live/)
  })

  it('telemetry-cluster: supervised devices publish, an aggregator on a forked node gets every reading once, in order', async () => {
    const { stdout } = await run(process.execPath, ['examples/telemetry-cluster.mjs'], { cwd: root, timeout: 90_000 })
    for (const d of ['device-1', 'device-2', 'device-3']) {
      expect(stdout).toMatch(new RegExp(`${d}  200 readings  in order: yes  duplicates: 0`))
      expect(stdout).toMatch(new RegExp(`"deviceId":"${d}","seq":200`))
    }
    expect(stdout).toMatch(/device-2 .* restarts [1-9]/)
    expect(stdout).toMatch(/every reading arrived exactly once, in order/)
  }, 120_000)
})
