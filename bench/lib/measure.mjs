// Time-boxed throughput measurement.
//
// A benchmark is a *body*: `body(n)` performs n operations (each body has its
// own inner loop, so V8 optimizes every workload separately and the cost of
// calling the body is spread over the whole batch) and may return how many
// operations it really did. The batch size is grown until one batch takes
// about `batchMs`; after a warm-up, batches run until `ms` has passed and the
// median batch rate is reported, which shrugs off the odd slow batch on a
// shared, noisy machine.

const now = () => performance.now()

function summarize(rates, n) {
  rates.sort((a, b) => a - b)
  const mid = rates.length >> 1
  const median = rates.length % 2 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2
  return { opsPerSec: median, min: rates[0], max: rates[rates.length - 1], rounds: rates.length, batch: n }
}

function collectGarbage() {
  if (typeof globalThis.gc === 'function') globalThis.gc()
}

/** Measures a synchronous body. Returns `{ opsPerSec, min, max, rounds, batch }`. */
export function measureSync(body, { ms = 1000, warmupMs = 300, batchMs = 20, minRounds = 5 } = {}) {
  collectGarbage()
  let n = 1
  for (;;) {
    const t0 = now()
    body(n)
    if (now() - t0 >= batchMs || n >= 1 << 26) break
    n *= 2
  }
  const warmEnd = now() + warmupMs
  while (now() < warmEnd) body(n)
  const rates = []
  const end = now() + ms
  while (now() < end || rates.length < minRounds) {
    const t0 = now()
    const done = body(n) ?? n
    rates.push((done * 1000) / (now() - t0))
  }
  return summarize(rates, n)
}

/** Measures an asynchronous body (one awaited batch at a time). */
export async function measureAsync(body, { ms = 1000, warmupMs = 300, batchMs = 40, minRounds = 5 } = {}) {
  collectGarbage()
  let n = 1
  for (;;) {
    const t0 = now()
    await body(n)
    if (now() - t0 >= batchMs || n >= 1 << 20) break
    n *= 2
  }
  const warmEnd = now() + warmupMs
  while (now() < warmEnd) await body(n)
  const rates = []
  const end = now() + ms
  while (now() < end || rates.length < minRounds) {
    const t0 = now()
    const done = (await body(n)) ?? n
    rates.push((done * 1000) / (now() - t0))
  }
  return summarize(rates, n)
}

// Other programs share the machine's cores, and a burst of their work can
// last longer than one measurement. So the variants of one workload are
// measured in turn, `passes` times over (A B C, A B C, …), each pass taking
// `ms / passes`, and each variant keeps its best pass: the figure closest to
// what it does when it has a core to itself, taken under the same conditions
// as the variants it is compared with. `passes` lists every pass's median.
function keepBest(best, name, r) {
  const prev = best[name]
  const passes = [...(prev?.passes ?? []), r.opsPerSec]
  best[name] = prev === undefined || r.opsPerSec > prev.opsPerSec ? { ...r, passes } : { ...prev, passes }
}

/** Measures each synchronous body of `bodies` ({ name: body }) in interleaved passes. */
export function compareSync(bodies, { ms = 1500, passes = 3, warmupMs = 300, ...rest } = {}) {
  const best = {}
  for (let p = 0; p < passes; p++) {
    for (const [name, body] of Object.entries(bodies)) {
      keepBest(best, name, measureSync(body, { ...rest, ms: ms / passes, warmupMs: p === 0 ? warmupMs : 50 }))
    }
  }
  return best
}

/** Measures each asynchronous body of `bodies` in interleaved passes. */
export async function compareAsync(bodies, { ms = 1500, passes = 3, warmupMs = 300, ...rest } = {}) {
  const best = {}
  for (let p = 0; p < passes; p++) {
    for (const [name, body] of Object.entries(bodies)) {
      keepBest(best, name, await measureAsync(body, { ...rest, ms: ms / passes, warmupMs: p === 0 ? warmupMs : 50 }))
    }
  }
  return best
}
