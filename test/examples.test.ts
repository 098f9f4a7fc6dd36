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
})
