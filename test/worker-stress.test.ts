// Worker termination during native work (issue 10): a child program
// terminates worker threads in the middle of table traffic, cluster
// start/send/RPC and timers, round after round, and must neither crash nor
// hang on exit. The child runs on the runtime running this suite: Node under
// `vitest run`, Bun under `bun test` (npm test runs both).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/worker-stress.mjs', import.meta.url))
const runtime = process.versions.bun ? 'bun' : 'node'
// Generous: a run takes about 10 s on a busy 2-core machine.
const EXIT_BOUND_MS = 90_000

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  hung: boolean
  lines: any[]
  stderr: string
}

/** Runs the stress program; kills it (and reports `hung`) if it has not exited within the bound. */
function runStress(options: { rounds: number; perRound: number; seed: number; mainCluster: boolean }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    let hung = false
    const timer = setTimeout(() => {
      hung = true
      child.kill('SIGKILL')
    }, EXIT_BOUND_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l))
      resolve({ code, signal, hung, lines, stderr })
    })
  })
}

function expectCleanExit(run: Run, rounds: number, perRound: number) {
  const context = `stdout lines: ${JSON.stringify(run.lines)}\nstderr (tail): ${run.stderr.slice(-4000)}`
  expect(run.hung, `did not exit within ${EXIT_BOUND_MS} ms\n${context}`).toBe(false)
  expect(run.signal, `killed by a signal (a crash)\n${context}`).toBe(null)
  expect(run.code, context).toBe(0)
  // The child ran on this runtime (under Bun, fork/spawn of execPath is Bun too).
  expect(run.lines[0], context).toMatchObject({ runtime })
  const summary = run.lines.at(-1)?.summary
  expect(summary, context).toBeDefined()
  expect(summary.errors, context).toEqual([])
  expect(summary.terminated, context).toBe(rounds * perRound)
  // The process still counts exactly, on its main thread and in a new worker.
  expect(summary.check, context).toBe(1000)
  expect(summary.finalExit, context).toBe(0)
  expect(summary.final, context).toBe(5000)
  // The table was in use when workers were terminated.
  expect(summary.ops, context).toBeGreaterThan(0)
  return { summary, context }
}

describe(`terminating workers during native work (${runtime})`, () => {
  it(
    'workers with table traffic, cluster nodes dialing this node, and timers: no crash, the process exits by itself',
    async () => {
      const rounds = 3
      const perRound = 8
      const run = await runStress({ rounds, perRound, seed: 1, mainCluster: true })
      const { summary, context } = expectCleanExit(run, rounds, perRound)
      // Every terminated worker's node was seen going down, messages and casts
      // from them arrived, and a fresh worker node can still call this node.
      expect(summary.leftConnected, context).toEqual([])
      expect(summary.upsDown, context).toBe(true)
      expect(summary.received, context).toBe(true)
      expect(summary.counted, context).toBe(true)
      expect(summary.onceReply, context).toEqual({ from: expect.stringMatching(/^w\d+@127\.0\.0\.1:\d+$/) })
      expect(summary.onceExit, context).toBe(0)
    },
    EXIT_BOUND_MS + 10_000,
  )

  it(
    'workers that run their own cluster nodes while the main thread never starts one: the process exits by itself',
    async () => {
      const rounds = 3
      const perRound = 8
      const run = await runStress({ rounds, perRound, seed: 2, mainCluster: false })
      expectCleanExit(run, rounds, perRound)
    },
    EXIT_BOUND_MS + 10_000,
  )
})
