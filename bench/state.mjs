// Shared-state benchmark: ironwood's native table beside a plain JS Map (same
// run, same data) and beside Redis through ioredis, sequential and pipelined.
//
//   npm run bench:state                       build, then run everything
//   node --expose-gc bench/state.mjs          run against the current dist/
//   IRONWOOD_BENCH_NO_REDIS=1 / --no-redis    skip the Redis columns
//   IRONWOOD_BENCH_NO_INSTALL=1               never apt-get install redis-server
//   IRONWOOD_BENCH_MS=3000                    time per workload variant (default 1500)
//   IRONWOOD_BENCH_NO_PIN=1                   load dist/native/ directly (see lib/pin-addon.mjs)
//
// What each line measures is described in docs/benchmarks.md ("Shared state").
// Progress goes to stderr; the tables of figures go to stdout.

import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

import Redis from 'ioredis'

import { pinNativeAddon } from './lib/pin-addon.mjs'
import { compareAsync, compareSync, measureAsync } from './lib/measure.mjs'
import { startRedis } from './lib/redis-server.mjs'

// Load a private copy of the built addon (see lib/pin-addon.mjs), then the
// package itself, exactly as a user imports it.
const pinned = pinNativeAddon()
const { Table, state } = await import('ironwood')

const argv = process.argv.slice(2)
const NO_REDIS = argv.includes('--no-redis') || process.env.IRONWOOD_BENCH_NO_REDIS === '1'
const NO_INSTALL = process.env.IRONWOOD_BENCH_NO_INSTALL === '1'
const MS = Number(process.env.IRONWOOD_BENCH_MS ?? 1500)
const log = (msg) => process.stderr.write(`· ${msg}\n`)

// --- data -------------------------------------------------------------------

const OBJ_KEYS = 8192 // keys holding a small object (get/set/getMany)
const COUNTERS = 1024 // keys incremented
const BATCHES = 64 // distinct 100-key lists for getMany
const PREFIX_ENTRIES = 1_000_000 // keys in the keys(prefix) table
const PREFIXES = 64 // distinct prefixes, each matching exactly 100 keys
const PIPELINE = 100 // Redis commands per pipeline

const objKeys = Array.from({ length: OBJ_KEYS }, (_, i) => `user:${i}`)
const objs = Array.from({ length: 16 }, (_, i) => ({ id: 42 + i, name: 'ada', tags: ['a', 'b'] }))
const counterKeys = Array.from({ length: COUNTERS }, (_, i) => `counter:${i}`)

// A small deterministic PRNG so every run uses the same keys.
let seed = 0x2545f491
const rand = (n) => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) % n
}
const batches = Array.from({ length: BATCHES }, () => {
  const set = new Set()
  while (set.size < 100) set.add(objKeys[rand(OBJ_KEYS)])
  return [...set]
})
const prefixKey = (i) => `k${String(i).padStart(9, '0')}` // 10 bytes
// 'k' + 7 digits matches the 100 keys k…00 to k…99 of one block.
const prefixes = Array.from({ length: PREFIXES }, () => `k${String(rand(PREFIX_ENTRIES / 100)).padStart(7, '0')}`)

// Results feed a sink so no workload can be optimized away.
let sink = 0

// --- results ----------------------------------------------------------------

const rows = [] // throughput comparisons
const fmtOps = (x) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'))
const fmtRatio = (r) => {
  if (r === undefined || !Number.isFinite(r)) return '—'
  if (r >= 100) return `${Math.round(r)}×`
  if (r >= 10) return `${r.toFixed(1)}×`
  if (r >= 0.1) return `${r.toFixed(2)}×`
  return `${r.toFixed(3)}×`
}
function row(op, iw, baseline, base, target, note) {
  const ratio = iw && base ? iw.opsPerSec / base.opsPerSec : undefined
  rows.push({
    op,
    iw: iw?.opsPerSec,
    baseline,
    base: base?.opsPerSec,
    ratio,
    target,
    met: target === undefined || ratio === undefined ? undefined : ratio >= target,
    note,
  })
}

function table(headers, data, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...data.map((r) => String(r[i]).length)))
  const line = (cells) =>
    cells.map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ')
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...data.map(line)].join('\n')
}

// --- 1. in-process: ironwood vs Map -----------------------------------------

function inProcess() {
  const m = new Map()
  state.clear()
  for (let i = 0; i < OBJ_KEYS; i++) {
    state.set(objKeys[i], objs[i & 15])
    m.set(objKeys[i], objs[i & 15])
  }
  const OMASK = OBJ_KEYS - 1
  const CMASK = COUNTERS - 1
  const BMASK = BATCHES - 1
  const PMASK = PREFIXES - 1
  const opts = { ms: MS }
  let c = 0

  log('get (small object)')
  const get = compareSync(
    {
      iw: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += state.get(objKeys[c++ & OMASK]).id
        sink += s
      },
      map: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += m.get(objKeys[c++ & OMASK]).id
        sink += s
      },
      mapClone: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += structuredClone(m.get(objKeys[c++ & OMASK])).id
        sink += s
      },
    },
    opts,
  )

  log('set (small object)')
  const set = compareSync(
    {
      iw: (n) => {
        for (let i = 0; i < n; i++, c++) state.set(objKeys[c & OMASK], objs[c & 15])
      },
      map: (n) => {
        for (let i = 0; i < n; i++, c++) m.set(objKeys[c & OMASK], objs[c & 15])
      },
      mapClone: (n) => {
        for (let i = 0; i < n; i++, c++) m.set(objKeys[c & OMASK], structuredClone(objs[c & 15]))
      },
    },
    opts,
  )
  // Leave the Map holding the shared objects again for getMany.
  for (let i = 0; i < OBJ_KEYS; i++) m.set(objKeys[i], objs[i & 15])

  log('incr')
  const incr = compareSync(
    {
      iw: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += state.incr(counterKeys[c++ & CMASK])
        sink += s
      },
      map: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) {
          const k = counterKeys[c++ & CMASK]
          const v = (m.get(k) ?? 0) + 1
          m.set(k, v)
          s += v
        }
        sink += s
      },
    },
    opts,
  )

  log('getMany (100 keys)')
  const getMany = compareSync(
    {
      iw: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) {
          const b = batches[c++ & BMASK]
          s += state.getMany(b)[b[99]].id
        }
        sink += s
      },
      map: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) {
          const b = batches[c++ & BMASK]
          const out = {}
          for (let j = 0; j < b.length; j++) out[b[j]] = m.get(b[j])
          s += out[b[99]].id
        }
        sink += s
      },
    },
    opts,
  )

  log(`keys(prefix): loading ${PREFIX_ENTRIES.toLocaleString('en-US')} keys into a table and a Map`)
  const pt = Table.open('bench:prefix')
  pt.clear()
  const pm = new Map()
  for (let i = 0; i < PREFIX_ENTRIES; i++) {
    const k = prefixKey(i)
    pt.set(k, i)
    pm.set(k, i)
  }
  const mapKeys = (prefix) => {
    const out = []
    for (const k of pm.keys()) if (k.startsWith(prefix)) out.push(k)
    return out.sort()
  }
  for (const p of prefixes.slice(0, 4)) {
    const a = pt.keys(p)
    const b = mapKeys(p)
    if (a.length !== 100 || b.length !== 100 || a.join() !== b.join()) throw new Error(`keys(${p}) mismatch`)
  }
  log('keys(prefix)')
  const keys = compareSync(
    {
      iw: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += pt.keys(prefixes[c++ & PMASK]).length
        sink += s
      },
      // One call scans 1M keys (tens of ms): one call per batch, short warm-up.
      map: (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += mapKeys(prefixes[c++ & PMASK]).length
        sink += s
      },
    },
    { ms: MS, warmupMs: 150, batchMs: 1, minRounds: 3 },
  )
  pm.clear()

  log('boundary cost')
  const empty = Table.open('bench:empty')
  empty.clear()
  const emptyMap = new Map()
  const jsSize = () => emptyMap.size
  const boundaryBodies = {
    size: (n) => {
      let s = 0
      for (let i = 0; i < n; i++) s += empty.size()
      sink += s
    },
    js: (n) => {
      let s = 0
      for (let i = 0; i < n; i++) s += jsSize()
      sink += s
    },
    miss: (n) => {
      let s = 0
      for (let i = 0; i < n; i++) if (empty.get(objKeys[c++ & OMASK]) === undefined) s++
      sink += s
    },
  }
  // For reference only: the internal binding's no-op export (not public API,
  // so its absence is not an error).
  try {
    const binding = createRequire(import.meta.url)(
      join(dirname(fileURLToPath(import.meta.resolve('ironwood'))), 'native', 'binding.cjs'),
    )
    const noop = binding.noop
    if (typeof noop === 'function') {
      boundaryBodies.noop = (n) => {
        for (let i = 0; i < n; i++) noop()
      }
    }
  } catch {}
  const boundary = compareSync(boundaryBodies, { ms: Math.max(300, MS / 2) })

  return { get, set, incr, getMany, keys, boundary }
}

// --- 2. Redis through ioredis -----------------------------------------------

async function redisBench(server) {
  const connect = async (db) => {
    const r = new Redis({ host: '127.0.0.1', port: server.port, db, lazyConnect: true, maxRetriesPerRequest: 1 })
    await r.connect()
    return r
  }
  const r = await connect(0)
  const r1 = await connect(1) // the 1M-key data set lives in its own db
  clients.push(r, r1)
  await r.flushall()

  log('redis: loading data')
  let p = r.pipeline()
  for (let i = 0; i < OBJ_KEYS; i++) p.set(objKeys[i], JSON.stringify(objs[i & 15]))
  for (const k of counterKeys) p.set(k, 0)
  await p.exec()
  // 1M string keys (for KEYS) and a sorted-set index of them (ZRANGEBYLEX is
  // how a prefix query is done in Redis without scanning every key).
  for (let base = 0; base < PREFIX_ENTRIES; base += 50_000) {
    p = r1.pipeline()
    for (let b = base; b < base + 50_000; b += 1000) {
      const kv = []
      const zs = ['idx']
      for (let i = b; i < b + 1000; i++) {
        const k = prefixKey(i)
        kv.push(k, i)
        zs.push(0, k)
      }
      p.mset(kv)
      p.zadd(...zs)
    }
    await p.exec()
  }
  const lexRange = (prefix) => [`[${prefix}`, `[${prefix}\xff`]
  if ((await r1.zrangebylex('idx', ...lexRange(prefixes[0]))).length !== 100) throw new Error('redis prefix index mismatch')

  const OMASK = OBJ_KEYS - 1
  const CMASK = COUNTERS - 1
  const BMASK = BATCHES - 1
  const PMASK = PREFIXES - 1
  const opts = { ms: MS, warmupMs: 200, batchMs: 40 }
  let c = 0
  const decodeMany = (b, vals) => {
    const out = {}
    for (let j = 0; j < b.length; j++) out[b[j]] = vals[j] === null ? undefined : JSON.parse(vals[j])
    return out
  }
  // Pipelined: n is rounded to whole pipelines of PIPELINE commands; every
  // command counts as one operation.
  const piped = (client, add, use) => async (n) => {
    const pipes = Math.max(1, Math.round(n / PIPELINE))
    let s = 0
    for (let q = 0; q < pipes; q++) {
      const pl = client.pipeline()
      const args = []
      for (let i = 0; i < PIPELINE; i++) args.push(add(pl))
      const res = await pl.exec()
      for (let i = 0; i < PIPELINE; i++) {
        if (res[i][0]) throw res[i][0]
        s += use(res[i][1], args[i])
      }
    }
    sink += s
    return pipes * PIPELINE
  }

  const out = {}
  log('redis: GET')
  out.get = await compareAsync(
    {
      seq: async (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += JSON.parse(await r.get(objKeys[c++ & OMASK])).id
        sink += s
      },
      pipe: piped(r, (pl) => pl.get(objKeys[c++ & OMASK]), (v) => JSON.parse(v).id),
    },
    opts,
  )
  log('redis: SET')
  out.set = await compareAsync(
    {
      seq: async (n) => {
        for (let i = 0; i < n; i++, c++) await r.set(objKeys[c & OMASK], JSON.stringify(objs[c & 15]))
      },
      pipe: piped(
        r,
        (pl) => {
          pl.set(objKeys[c & OMASK], JSON.stringify(objs[c & 15]))
          c++
        },
        () => 0,
      ),
    },
    opts,
  )
  log('redis: INCR')
  out.incr = await compareAsync(
    {
      seq: async (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += await r.incr(counterKeys[c++ & CMASK])
        sink += s
      },
      pipe: piped(r, (pl) => pl.incr(counterKeys[c++ & CMASK]), (v) => v),
    },
    opts,
  )
  log('redis: MGET (100 keys)')
  out.getMany = await compareAsync(
    {
      seq: async (n) => {
        let s = 0
        for (let i = 0; i < n; i++) {
          const b = batches[c++ & BMASK]
          s += decodeMany(b, await r.mget(b))[b[99]].id
        }
        sink += s
      },
      pipe: piped(
        r,
        (pl) => {
          const b = batches[c++ & BMASK]
          pl.mget(b)
          return b
        },
        (v, b) => decodeMany(b, v)[b[99]].id,
      ),
    },
    opts,
  )
  log('redis: ZRANGEBYLEX (prefix, 100 of 1M)')
  out.keys = await compareAsync(
    {
      seq: async (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += (await r1.zrangebylex('idx', ...lexRange(prefixes[c++ & PMASK]))).length
        sink += s
      },
      pipe: piped(r1, (pl) => pl.zrangebylex('idx', ...lexRange(prefixes[c++ & PMASK])), (v) => v.length),
    },
    opts,
  )
  log('redis: KEYS prefix* (full scan of 1M keys)')
  out.keysScan = await measureAsync(
    async (n) => {
      let s = 0
      for (let i = 0; i < n; i++) s += (await r1.keys(`${prefixes[c++ & PMASK]}*`)).length
      sink += s
    },
    { ms: Math.min(MS, 1000), warmupMs: 0, batchMs: 1, minRounds: 3 },
  )
  await r.flushall()
  return out
}

// --- 3. incr from 2 worker threads vs 1 -------------------------------------

async function threads() {
  const url = new URL('./lib/worker-incr.mjs', import.meta.url)
  const spawnWorker = (id) =>
    new Promise((resolve, reject) => {
      const w = new Worker(url, { workerData: { id, keyCount: 256 } })
      workers.push(w)
      w.once('error', reject)
      w.once('message', () => {
        w.off('error', reject)
        resolve(w)
      })
    })
  const [w0, w1] = await Promise.all([spawnWorker(0), spawnWorker(1)])
  const runOn = (w, ms) =>
    new Promise((resolve, reject) => {
      const fail = (e) => {
        w.off('message', done)
        reject(e)
      }
      const done = (r) => {
        w.off('error', fail)
        resolve(r)
      }
      w.once('message', done)
      w.once('error', fail)
      w.postMessage({ cmd: 'run', ms })
    })
  const rate = (r) => (r.ops * 1000) / r.ms
  // Share of one core each thread got while it ran (CLK_TCK is 100 on Linux).
  const busy = (r) => r.cpuTicks / 100 / (r.ms / 1000)
  log('threads: warm-up')
  await Promise.all([runOn(w0, 300), runOn(w1, 300)])
  const D = Math.max(500, Math.round(MS))
  const TRIALS = 5
  const one = []
  const two = []
  const cpu = { one: [], two: [] }
  for (let trial = 0; trial < TRIALS; trial++) {
    log(`threads: trial ${trial + 1}/${TRIALS} (${D} ms each)`)
    const single = async () => {
      const r = await runOn(w0, D)
      one.push(rate(r))
      cpu.one.push(busy(r))
    }
    const pair = async () => {
      const rs = await Promise.all([runOn(w0, D), runOn(w1, D)])
      two.push(rs.reduce((s, r) => s + rate(r), 0))
      cpu.two.push(rs.reduce((s, r) => s + busy(r), 0))
    }
    // Alternate the order so a drift in machine load hits both alike.
    if (trial % 2) {
      await pair()
      await single()
    } else {
      await single()
      await pair()
    }
  }
  await Promise.all([w0.terminate(), w1.terminate()])
  // Best trial of each, as for every other line (see lib/measure.mjs).
  const best = (xs) => Math.max(...xs)
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  return { one: best(one), two: best(two), trials: { one, two }, cpu, cpuMed: { one: med(cpu.one), two: med(cpu.two) } }
}

// --- 4. memory, in fresh child processes ------------------------------------

function childJson(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(child)
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited with ${code}`))
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()))
      } catch (e) {
        reject(e)
      }
    })
  })
}

async function memory() {
  const script = fileURLToPath(new URL('./lib/memory.mjs', import.meta.url))
  log('memory: 1,000,000 entries in a fresh process (ironwood)')
  const iw = await childJson(['--expose-gc', script, 'ironwood'])
  log('memory: 1,000,000 entries in a fresh process (Map)')
  const map = await childJson(['--expose-gc', script, 'map'])
  log('memory: the same loop storing nothing (control)')
  const control = await childJson(['--expose-gc', script, 'control'])
  return { iw, map, control }
}

// --- main -------------------------------------------------------------------

// Which source the figures belong to: the commit, and whether the native or
// TS sources had uncommitted changes (the build takes the work tree as is).
function revision() {
  const cwd = fileURLToPath(new URL('..', import.meta.url))
  const git = (...args) => spawnSync('git', args, { cwd, encoding: 'utf8' })
  const head = git('rev-parse', '--short', 'HEAD')
  if (head.status !== 0) return 'an unknown revision (not a git checkout)'
  const dirty = git('status', '--porcelain', '--', 'ts', 'crates', 'Cargo.toml', 'Cargo.lock').stdout.trim()
  return `commit ${head.stdout.trim()}${dirty ? ' + uncommitted changes in ts/ or crates/' : ''}`
}

const clients = []
const workers = []
const children = []
let server = null

async function cleanup() {
  for (const c of clients.splice(0)) c.disconnect()
  await Promise.all(workers.splice(0).map((w) => w.terminate().catch(() => {})))
  for (const ch of children.splice(0)) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGTERM')
  if (server) await server.stop()
}
process.on('exit', () => {
  server?.stopSync?.()
  pinned.remove()
})
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: stopping`)
    cleanup().finally(() => process.exit(130))
  })
}

async function main() {
  const started = performance.now()
  const load0 = os.loadavg()[0]
  if (typeof globalThis.gc !== 'function') log('note: run with --expose-gc for steadier numbers')

  const ip = inProcess()

  let redis = null
  let redisNote = null
  let redisVersion = ''
  if (NO_REDIS) {
    redisNote = 'Redis columns skipped: IRONWOOD_BENCH_NO_REDIS=1 / --no-redis'
  } else {
    log('redis: starting a private redis-server on 127.0.0.1')
    const s = await startRedis({ install: !NO_INSTALL, log })
    if (s.skipped) {
      redisNote = `Redis columns skipped: ${s.skipped}`
    } else {
      server = s
      redisVersion = s.version
      log(`redis: redis-server ${s.version} on 127.0.0.1:${s.port} (pid ${s.pid})`)
      try {
        redis = await redisBench(s)
      } catch (e) {
        redisNote = `Redis columns skipped: the Redis run failed: ${e.message}`
      }
      for (const c of clients.splice(0)) c.disconnect()
      await s.stop()
      server = null
    }
  }

  const th = await threads()
  const mem = await memory()

  // --- report -----------------------------------------------------------------
  const R = redis ?? {}
  const redisRows = (label, op, name, pipedName) => {
    row(label, ip[op].iw, `Redis ${name}, sequential`, R[op]?.seq, 20)
    row(label, ip[op].iw, `Redis ${pipedName}, pipelined ×${PIPELINE}`, R[op]?.pipe, 3)
  }
  row('get (small object)', ip.get.iw, 'Map.get (returns a reference)', ip.get.map, 0.1)
  row('get (small object)', ip.get.iw, 'Map.get + structuredClone', ip.get.mapClone, undefined, 'info')
  redisRows('get (small object)', 'get', 'GET + JSON.parse', 'GET')
  row('set (small object)', ip.set.iw, 'Map.set (stores a reference)', ip.set.map, 0.1)
  row('set (small object)', ip.set.iw, 'Map.set(structuredClone(v))', ip.set.mapClone, undefined, 'info')
  redisRows('set (small object)', 'set', 'SET + JSON.stringify', 'SET')
  row('incr', ip.incr.iw, 'Map get+set', ip.incr.map, 0.25)
  redisRows('incr', 'incr', 'INCR', 'INCR')
  row('getMany (100 keys)', ip.getMany.iw, 'Map.get ×100 into an object', ip.getMany.map, undefined, 'info')
  redisRows('getMany (100 keys)', 'getMany', 'MGET + JSON.parse', 'MGET')
  row('keys(prefix) 100 of 1M', ip.keys.iw, 'Map: filter all keys + sort', ip.keys.map, 20)
  redisRows('keys(prefix) 100 of 1M', 'keys', 'ZRANGEBYLEX', 'ZRANGEBYLEX')
  row('keys(prefix) 100 of 1M', ip.keys.iw, 'Redis KEYS prefix* (full scan)', R.keysScan, undefined, 'info')
  row('incr, 2 threads vs 1', { opsPerSec: th.two }, '1 thread (worker)', { opsPerSec: th.one }, 1.6)

  const out = []
  const p = (s = '') => out.push(s)
  p()
  p(`ironwood shared-state benchmark — node ${process.version}, ${os.cpus().length} cores, ` +
    `load ${load0.toFixed(2)} at start`)
  p(`each figure: best of 3 interleaved passes of ${Math.round(MS / 3)} ms, each pass the median of its ~20 ms batches`)
  p(`built from ${revision()}`)
  if (pinned.path) p(`native addon: private copy of ${pinned.source} (a concurrent rebuild cannot change it mid-run)`)
  if (redis) p(`Redis: redis-server ${redisVersion} on 127.0.0.1 (private, --save '' --appendonly no) through ioredis`)
  if (redisNote) p(redisNote)
  p()
  p(
    table(
      ['operation', 'ironwood ops/s', 'baseline', 'baseline ops/s', 'ratio', 'target', 'met?'],
      rows.map((r) => [
        r.op,
        fmtOps(r.iw),
        r.baseline,
        r.base === undefined ? (redis || !r.baseline.startsWith('Redis') ? '—' : 'skipped') : fmtOps(r.base),
        fmtRatio(r.ratio),
        r.target === undefined ? (r.note ?? '—') : `≥ ${r.target}×`,
        r.met === undefined ? '—' : r.met ? 'yes' : 'NO',
      ]),
      ['l', 'r', 'l', 'r', 'r', 'r', 'l'],
    ),
  )
  p()
  p(`ratio = ironwood ops/s ÷ baseline ops/s. getMany counts one call (100 keys) as one op; Redis pipelined counts each command.`)
  const trialList = (rates, cpus) =>
    rates.map((r, i) => `${fmtOps(r)}${Number.isFinite(cpus[i]) ? ` (${cpus[i].toFixed(2)} cores)` : ''}`).join(', ')
  p(`incr threads, every trial, ops/s (cores busy): 1 thread ${trialList(th.trials.one, th.cpu.one)}`)
  p(`                                               2 threads ${trialList(th.trials.two, th.cpu.two)}`)
  if (Number.isFinite(th.cpuMed.two)) {
    const iOne = th.trials.one.indexOf(th.one)
    const iTwo = th.trials.two.indexOf(th.two)
    const perCore = (ops, cores) => fmtOps(ops / cores)
    p(
      `  ops per busy core-second in the best trials: 1 thread ${perCore(th.one, th.cpu.one[iOne])}, ` +
        `2 threads ${perCore(th.two, th.cpu.two[iTwo])}`,
    )
  }

  const MB = 1024 * 1024
  const grow = (m) => m.after.rss - m.before.rss
  const memName = { ironwood: 'ironwood table (native)', map: 'Map (V8 heap)', control: 'control: same loop, nothing stored' }
  const memRows = [mem.iw, mem.map, mem.control].map((m) => [
    memName[m.mode],
    m.entries.toLocaleString('en-US'),
    (grow(m) / MB).toFixed(1),
    m.mode === 'control' ? '—' : Math.round(grow(m) / m.entries),
    ((m.after.heapUsed - m.before.heapUsed) / MB).toFixed(1),
    m.mode === 'ironwood' ? '≤ 150 MB' : 'info',
    m.mode === 'ironwood' ? (grow(m) / MB <= 150 ? 'yes' : 'NO') : '—',
  ])
  p()
  p('Memory: 1,000,000 entries, 10-byte key (k000000001), integer value, fresh process each')
  p(table(['store', 'entries', 'RSS growth MB', 'bytes/entry', 'V8 heap growth MB', 'target', 'met?'], memRows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'l']))

  const ns = (m) => (1e9 / m.opsPerSec).toFixed(1)
  p()
  p('Boundary cost (one call, ns)')
  p(
    table(
      ['call', 'ns/call', 'calls/s'],
      [
        ["Table.open('bench:empty').size() (one native call)", ns(ip.boundary.size), fmtOps(ip.boundary.size.opsPerSec)],
        ['trivial JS function () => emptyMap.size', ns(ip.boundary.js), fmtOps(ip.boundary.js.opsPerSec)],
        ["empty.get('user:123') (absent key: key check + string + lookup)", ns(ip.boundary.miss), fmtOps(ip.boundary.miss.opsPerSec)],
        ...(ip.boundary.noop
          ? [['reference: internal binding noop() (not public API)', ns(ip.boundary.noop), fmtOps(ip.boundary.noop.opsPerSec)]]
          : []),
      ],
      ['l', 'r', 'r'],
    ),
  )

  const judged = rows.filter((r) => r.met !== undefined)
  const memMet = grow(mem.iw) / MB <= 150
  const met = judged.filter((r) => r.met).length + (memMet ? 1 : 0)
  p()
  p(`targets met: ${met} of ${judged.length + 1}` +
    (redis ? '' : ' (Redis targets not judged: skipped)') +
    `; load ${os.loadavg()[0].toFixed(2)} at end; total ${((performance.now() - started) / 1000).toFixed(0)} s`)
  if (sink === 0.5) p('') // keeps every workload's result alive
  process.stdout.write(`${out.join('\n')}\n`)
}

main().catch(async (e) => {
  console.error(e)
  await cleanup()
  process.exit(1)
})
