// Both sides of the multi-node benchmarks (bench/hub.mjs,
// bench/hub-failover.mjs): the driver forks the same script as `--node`
// peers seeded with itself, talks to them over IPC ({ ...args, id, cmd } →
// { id, value }), SIGKILLs every one at exit, and polls for conditions; a
// peer serves those commands.
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'

const children = new Set()
process.on('exit', killBenchNodes)

/** SIGKILLs every node forked so far (also done at exit). */
export function killBenchNodes() {
  for (const c of children) c.kill('SIGKILL')
}

/**
 * Forks `script --node <options>` as node `name`, seeded with node `seed`
 * (ironwood is not imported here: the benchmarks pin the addon before it loads);
 * resolves once it reports `started` with `{ child, name, call(cmd, args) }`.
 */
export function forkBenchNode(script, name, cookie, seed) {
  return new Promise((resolve, reject) => {
    const child = fork(script, ['--node', JSON.stringify({ name, cookie, seeds: [seed] })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.add(child)
    const pending = new Map()
    let next = 1
    const call = (cmd, args = {}) =>
      new Promise((res) => {
        const id = next++
        pending.set(id, res)
        child.send({ ...args, id, cmd })
      })
    child.on('message', (m) => {
      if (m.type === 'started') resolve({ child, name: m.name, call })
      else pending.get(m.id)?.(m.value)
    })
    child.once('exit', (code) => reject(new Error(`${name} exited early (${code})`)))
  })
}

/** Polls `cond` every `every` ms until it holds; throws after `ms`. */
export async function until(what, cond, ms = 60_000, every = 10) {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, every))
  }
}

/**
 * The fork side: answers the driver's `{ id, cmd, ...args }` with
 * `commands[cmd](message)`, exits with the driver, and reports `started`.
 */
export function serveBenchNode(commands, name) {
  process.on('disconnect', () => process.exit(0))
  process.on('message', async (m) => process.send({ id: m.id, value: await commands[m.cmd](m) }))
  process.send({ type: 'started', name })
}

/** Numbers with thousands separators and `d` decimals, for the tables. */
export const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })

/**
 * The driver side: starts node `a` (with `transport` options) under a fresh
 * cookie and returns `forkNode(name)` (a peer running `script --node`,
 * seeded with `a`) and `until(what, cond)` polling every `every` ms for at
 * most `ms`.
 */
export async function startDriver(cluster, node, script, transport, { ms, every }) {
  const cookie = randomBytes(16).toString('hex')
  await cluster.start({ name: 'a', cookie, ...transport })
  return {
    forkNode: (name) => forkBenchNode(script, name, cookie, node()),
    until: (what, cond, limit = ms) => until(what, cond, limit, every),
  }
}
