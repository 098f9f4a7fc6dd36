// A worker thread that increments its own keys of one shared table for a
// given time and reports how many increments it did. Started by
// bench/state.mjs; it imports the package exactly like a user's worker would.

import { readFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'

import { Table } from 'ironwood'

const { id, keyCount } = workerData
const table = Table.open('bench:threads')
// Distinct keys per worker: the workers never write the same key.
const keys = Array.from({ length: keyCount }, (_, i) => `w${id}:counter:${i}`)
const mask = keyCount - 1 // keyCount is a power of two

// CPU time of this thread in clock ticks (utime + stime of
// /proc/thread-self/stat), or NaN where that file does not exist. It tells
// whether a thread had a core to itself on a shared machine.
function cpuTicks() {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(f[11]) + Number(f[12])
  } catch {
    return Number.NaN
  }
}

function run(ms) {
  const c0 = cpuTicks()
  let ops = 0
  let i = 0
  let sum = 0
  const t0 = performance.now()
  const end = t0 + ms
  let t = t0
  while (t < end) {
    for (let j = 0; j < 1024; j++) sum += table.incr(keys[i++ & mask])
    ops += 1024
    t = performance.now()
  }
  return { ops, ms: t - t0, cpuTicks: cpuTicks() - c0, sum }
}

parentPort.on('message', (msg) => {
  if (msg.cmd === 'run') parentPort.postMessage(run(msg.ms))
  else if (msg.cmd === 'stop') parentPort.close()
})
parentPort.postMessage({ ready: true })
