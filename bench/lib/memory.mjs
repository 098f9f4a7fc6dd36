// Memory of 1,000,000 small entries, measured in a fresh process so nothing
// an earlier benchmark allocated is counted. Run by bench/state.mjs as
//   node --expose-gc bench/lib/memory.mjs [ironwood|map] [entries]
// and prints one JSON line: RSS and V8 heap before and after.
//
// Keys are 10 bytes (`k000000001`), values small integers (stored as native
// i64 by the table). Building 1M key strings makes V8 grow (and keep) its
// young generation, so the same loop first runs once storing nothing; only
// then is the "before" reading taken. For `ironwood` the growth is then the
// native table (map entry + key + ordered key index); `control` runs the loop
// a second time, still storing nothing, to show what is left as noise.

// ironwood | map | control
const mode = process.argv[2] ?? 'ironwood'
const entries = Number(process.argv[3] ?? 1_000_000)

if (typeof globalThis.gc !== 'function') {
  console.error('memory.mjs needs --expose-gc')
  process.exit(2)
}

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await new Promise((r) => setTimeout(r, 50))
  }
}
const reading = () => {
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external }
}

let insert
let keep
if (mode === 'ironwood') {
  const { Table } = await import('ironwood')
  const t = Table.open('bench:memory')
  t.size() // the addon and the table exist before the first reading
  insert = (k, v) => t.set(k, v)
  keep = t
} else if (mode === 'control') {
  let last = ''
  insert = (k) => (last = k) // keeps only the latest key
  keep = { size: 0 }
} else if (mode === 'map') {
  const m = new Map()
  insert = (k, v) => m.set(k, v)
  keep = m
} else {
  console.error(`unknown mode ${mode}`)
  process.exit(2)
}

let warm = ''
for (let i = 1; i <= entries; i++) warm = `k${String(i).padStart(9, '0')}`
await settle()
const before = reading()
for (let i = 1; i <= entries; i++) insert(`k${String(i).padStart(9, '0')}`, i)
await settle()
const after = reading()
const size = mode === 'ironwood' ? keep.size() : keep.size
console.log(JSON.stringify({ mode, entries, size, before, after, warm: warm.length }))
