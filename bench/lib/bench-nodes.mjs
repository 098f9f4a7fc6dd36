// The driver side of the multi-node benchmarks (bench/hub.mjs,
// bench/hub-failover.mjs): fork the same script as `--node` peers seeded with
// this node, talk to them over IPC ({ ...args, id, cmd } → { id, value }),
// SIGKILL every one at exit, and poll for a condition.
import { fork } from 'node:child_process'

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
