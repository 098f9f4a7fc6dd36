// The shared table (ETS) through the public entry, exactly as users import it.
// This file also runs under Bun (`bun test test/state.test.ts`).
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { IronwoodError, Table, state, type Term } from 'ironwood'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const workerUrl = new URL('./fixtures/state-worker.mjs', import.meta.url)

function runWorker(data: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: data })
    let result: unknown
    w.on('message', (m) => (result = m))
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`worker exited with ${code}`))))
  })
}

afterEach(() => state.clear())

describe('state: basic operations', () => {
  it('sets, gets, overwrites and deletes', () => {
    expect(state.get('missing')).toBeUndefined()
    state.set('user:1', { name: 'ada', langs: ['erlang', 'js'] })
    expect(state.get('user:1')).toEqual({ name: 'ada', langs: ['erlang', 'js'] })
    state.set('user:1', 'replaced')
    expect(state.get('user:1')).toBe('replaced')
    expect(state.delete('user:1')).toBe(true)
    expect(state.delete('user:1')).toBe(false)
    expect(state.get('user:1')).toBeUndefined()
  })

  it('round-trips every kind of term', () => {
    const pid = { nested: true }
    const value = {
      nil: null,
      yes: true,
      int: 42,
      neg: -7,
      float: 1.5,
      wide: 2 ** 40,
      nan: NaN,
      big: 12345678901234567890n,
      huge: 2n ** 100n,
      str: 'héllo ✓',
      arr: [1, [2, [3]]],
      map: new Map<Term, Term>([
        [1, 'one'],
        ['two', { n: 2 }],
      ]),
      set: new Set(['a', 'b']),
      date: new Date('2026-11-21T10:00:00Z'),
      bytes: new Uint8Array([1, 2, 3]),
      buffer: Buffer.from('buf'),
      obj: pid,
      empty: {},
    }
    state.set('all', value)
    const back = state.get<typeof value>('all')!
    expect(back.map).toBeInstanceOf(Map)
    expect(back.map.get(1)).toBe('one')
    expect(back.set).toBeInstanceOf(Set)
    expect(back.date).toBeInstanceOf(Date)
    expect(back.big).toBe(12345678901234567890n)
    expect(back.huge).toBe(2n ** 100n)
    expect(Number.isNaN(back.nan)).toBe(true)
    expect([...back.bytes]).toEqual([1, 2, 3])
    expect(Buffer.from(back.buffer).toString()).toBe('buf')
    const { nan: _a, bytes: _b, buffer: _c, ...rest } = back
    const { nan: _d, bytes: _e, buffer: _f, ...want } = value
    expect(rest).toEqual(want)
  })

  it('keeps integer and bigint types apart', () => {
    state.set('n', 5)
    state.set('b', 5n)
    state.set('f', 5.25)
    expect(state.get('n')).toBe(5)
    expect(state.get('b')).toBe(5n)
    expect(state.get('f')).toBe(5.25)
    state.set('max', Number.MAX_SAFE_INTEGER)
    state.set('min', -Number.MAX_SAFE_INTEGER)
    expect(state.get('max')).toBe(Number.MAX_SAFE_INTEGER)
    expect(state.get('min')).toBe(-Number.MAX_SAFE_INTEGER)
  })

  it('round-trips integers and floats at every encoding boundary', () => {
    const edges = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40]
    const values = [...edges, ...edges.slice(1).map((n) => -n), -32, -33, -128, -129, -32768, -32769, -(2 ** 31) - 1]
    values.push(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0.1, -2.5, 1e300, Infinity, -Infinity)
    for (const n of values) {
      state.set('n', n)
      expect(state.get('n')).toBe(n)
      state.set('wrapped', [n])
      expect(state.get('wrapped')).toEqual([n])
    }
    state.set('bools', true)
    expect(state.get('bools')).toBe(true)
    state.set('bools', false)
    expect(state.get('bools')).toBe(false)
    state.set('nil', null)
    expect(state.get('nil')).toBeNull()
    expect(state.getMany(['nil', 'bools'])).toEqual({ nil: null, bools: false })
  })

  it('handles non-ASCII keys and keys longer than the shared buffer', () => {
    const keys = ['ключ', 'キー:1', '🔑', 'mixed-é-' + 'x'.repeat(100), 'k'.repeat(200_000), '✓'.repeat(70_000)]
    keys.forEach((k, i) => state.set(k, i))
    keys.forEach((k, i) => expect(state.get(k)).toBe(i))
    expect(state.incr('🔑')).toBe(3)
    expect(state.keys('キー')).toEqual(['キー:1'])
    expect(Object.values(state.getMany(keys))).toEqual([0, 1, 2, 3, 4, 5].map((i) => (i === 2 ? 3 : i)))
    expect(state.delete('k'.repeat(200_000))).toBe(true)
    expect(state.get('k'.repeat(200_000))).toBeUndefined()
  })

  it('getMany reads thousands of keys at once', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `bulk:${i}`)
    keys.forEach((k, i) => state.set(k, i % 2 ? { i, pad: 'p'.repeat(50) } : i))
    const got = state.getMany([...keys, 'bulk:none'])
    expect(Object.keys(got).length).toBe(5001)
    expect(got['bulk:4999']).toEqual({ i: 4999, pad: 'p'.repeat(50) })
    expect(got['bulk:4998']).toBe(4998)
    expect(got['bulk:none']).toBeUndefined()
  })

  it('copies values in and out', () => {
    const original = { list: [1, 2], inner: { x: 1 } }
    state.set('obj', original)
    original.list.push(3)
    original.inner.x = 99
    const first = state.get<typeof original>('obj')!
    expect(first).toEqual({ list: [1, 2], inner: { x: 1 } })
    first.list.push(4)
    first.inner.x = 5
    expect(state.get('obj')).toEqual({ list: [1, 2], inner: { x: 1 } })
    const bytes = new Uint8Array([1, 2])
    state.set('bytes', bytes)
    const got = state.get<Uint8Array>('bytes')!
    got[0] = 9
    expect([...state.get<Uint8Array>('bytes')!]).toEqual([1, 2])
    // A later read must not overwrite bytes returned earlier.
    state.set('other', new Uint8Array([7, 7]))
    state.get('other')
    expect([...got]).toEqual([9, 2])
  })

  it('stores values larger than the read buffer', () => {
    const big = 'x'.repeat(300_000)
    state.set('big', { big })
    expect(state.get<{ big: string }>('big')!.big).toBe(big)
    const many = state.getMany(['big', 'none'])
    expect((many.big as { big: string }).big.length).toBe(300_000)
    expect(many.none).toBeUndefined()
  })

  it('setNew inserts only when absent', () => {
    expect(state.setNew('lock', 'a')).toBe(true)
    expect(state.setNew('lock', 'b')).toBe(false)
    expect(state.get('lock')).toBe('a')
    expect(state.setNew('count', 1)).toBe(true)
    expect(state.setNew('count', 2)).toBe(false)
    expect(state.get('count')).toBe(1)
  })

  it('incr and decr count from zero and return the new value', () => {
    expect(state.incr('hits')).toBe(1)
    expect(state.incr('hits', 10)).toBe(11)
    expect(state.decr('hits')).toBe(10)
    expect(state.decr('hits', 15)).toBe(-5)
    expect(state.decr('fresh', 3)).toBe(-3)
    expect(state.get('hits')).toBe(-5)
    state.set('n', 40)
    expect(state.incr('n', 2)).toBe(42)
  })

  it('getMany returns every key, absent ones as undefined', () => {
    state.set('a', 1)
    state.set('b', { x: 'y' })
    state.set('c', null)
    const got = state.getMany(['a', 'b', 'c', 'zzz', '__proto__'])
    expect(got).toEqual({ a: 1, b: { x: 'y' }, c: null, zzz: undefined, ['__proto__']: undefined })
    expect(Object.keys(got)).toEqual(['a', 'b', 'c', 'zzz', '__proto__'])
    expect(state.getMany([])).toEqual({})
  })

  it('keys(prefix) returns matching keys sorted', () => {
    for (const k of ['user:2', 'user:10', 'user:1', 'session:a', 'use', 'v']) state.set(k, 0)
    expect(state.keys('user:')).toEqual(['user:1', 'user:10', 'user:2'])
    expect(state.keys()).toEqual(['session:a', 'use', 'user:1', 'user:10', 'user:2', 'v'])
    expect(state.keys('nope')).toEqual([])
    state.delete('user:10')
    expect(state.keys('user:')).toEqual(['user:1', 'user:2'])
  })

  it('size and clear', () => {
    expect(state.size()).toBe(0)
    state.set('a', 1)
    state.set('b', 'two')
    expect(state.size()).toBe(2)
    state.clear()
    expect(state.size()).toBe(0)
    expect(state.get('a')).toBeUndefined()
    expect(state.keys()).toEqual([])
  })
})

describe('state: memory', () => {
  it('memory() estimates the entries\u2019 native memory, kept in step by every write and removal', () => {
    const t = Table.open('memory-test')
    t.clear()
    expect(t.memory()).toBe(0)
    const kib = new Uint8Array(1024)
    for (let i = 0; i < 1000; i++) t.set(`k${i}`, kib)
    const full = t.memory()
    // 1,000 values of 1 KiB (plus encoding, slots and allocator overhead).
    expect(full).toBeGreaterThan(1000 * 1024)
    expect(full).toBeLessThan(1000 * 1024 * 1.3)
    for (let i = 0; i < 500; i++) t.delete(`k${i}`)
    expect(t.memory()).toBe(full / 2)
    // Overwriting with small values gives most of it back; integers hold no value bytes.
    for (let i = 500; i < 1000; i++) t.set(`k${i}`, i)
    expect(t.memory()).toBeLessThan(full / 8)
    const ints = t.memory()
    for (let i = 500; i < 1000; i++) t.incr(`k${i}`)
    expect(t.memory()).toBe(ints)
    t.set('a-key-longer-than-twenty-four-bytes', 1)
    expect(t.memory()).toBeGreaterThan(ints)
    t.clear()
    expect(t.memory()).toBe(0)
  })
})

describe('state: TTL', () => {
  it('hides an expired key at once for every read', async () => {
    state.set('session', { user: 1 }, { ttl: 40 })
    state.set('counter', 5, { ttl: 40 })
    state.set('forever', 1)
    expect(state.get('session')).toEqual({ user: 1 })
    const left = state.ttl('session')!
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThanOrEqual(40)
    await sleep(60)
    expect(state.get('session')).toBeUndefined()
    expect(state.get('counter')).toBeUndefined()
    expect(state.ttl('session')).toBeUndefined()
    expect(state.keys()).toEqual(['forever'])
    expect(state.getMany(['session', 'forever'])).toEqual({ session: undefined, forever: 1 })
    expect(state.size()).toBe(1)
    expect(state.delete('session')).toBe(false)
    expect(state.setNew('session', 'new')).toBe(true)
    expect(state.incr('counter')).toBe(1)
  })

  it('expire, persist and ttl', async () => {
    expect(state.expire('nothing', 100)).toBe(false)
    expect(state.ttl('nothing')).toBeUndefined()
    state.set('k', 'v')
    expect(state.ttl('k')).toBe(Infinity)
    expect(state.expire('k', 30)).toBe(true)
    expect(state.ttl('k')).toBeLessThanOrEqual(30)
    expect(state.persist('k')).toBe(true)
    expect(state.ttl('k')).toBe(Infinity)
    expect(state.expire('k', 20)).toBe(true)
    await sleep(40)
    expect(state.get('k')).toBeUndefined()
    expect(state.persist('k')).toBe(false)
  })

  it('set without ttl clears a previous ttl; incr keeps it', async () => {
    state.set('a', 1, { ttl: 20 })
    state.set('a', 2)
    state.set('c', 1, { ttl: 1000 })
    state.incr('c')
    expect(state.ttl('c')).toBeLessThanOrEqual(1000)
    await sleep(40)
    expect(state.get('a')).toBe(2)
  })
})

describe('state: named tables', () => {
  it('are separate from each other and from state', () => {
    const sessions = Table.open<{ user: number }>('sessions')
    const other = Table.open('other')
    sessions.set('s1', { user: 7 })
    expect(sessions.get('s1')).toEqual({ user: 7 })
    expect(other.get('s1')).toBeUndefined()
    expect(state.get('s1')).toBeUndefined()
    expect(Table.open('sessions')).toBe(sessions)
    expect(Table.names()).toEqual(expect.arrayContaining(['sessions', 'other', 'state']))
    sessions.clear()
    other.clear()
  })

  it('types values through generics', () => {
    const counters = Table.open<number>('typed')
    counters.set('x', 1)
    const n: number | undefined = counters.get('x')
    expect(n).toBe(1)
    counters.clear()
  })
})

describe('state: bad input', () => {
  it('refuses non-string and empty keys with TypeError', () => {
    for (const bad of [undefined, null, 1, {}, Symbol('s'), ['a']]) {
      expect(() => state.set(bad as never, 1)).toThrow(TypeError)
      expect(() => state.get(bad as never)).toThrow(TypeError)
      expect(() => state.incr(bad as never)).toThrow(TypeError)
      expect(() => state.delete(bad as never)).toThrow(TypeError)
    }
    expect(() => state.set('', 1)).toThrow(/must not be empty/)
    expect(() => state.getMany(['ok', ''])).toThrow(/keys\[1\] must not be empty/)
    expect(() => state.getMany('abc' as never)).toThrow(TypeError)
    expect(() => Table.open('')).toThrow(TypeError)
    expect(() => state.keys(5 as never)).toThrow(TypeError)
  })

  it('refuses values that are not terms, naming the path, and writes nothing', () => {
    class Device {
      id = 1
    }
    const cyclic: Record<string, unknown> = { a: { b: [] as unknown[] } }
    ;((cyclic.a as { b: unknown[] }).b as unknown[]).push(cyclic)
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /^value is undefined/],
      [{ a: undefined }, /^value\.a is undefined/],
      [{ f: () => 1 }, /^value\.f is a function/],
      [[1, 2, Symbol('x')], /^value\[2\] is a symbol/],
      [{ d: new Device() }, /^value\.d is an instance of Device/],
      [cyclic, /^value\.a\.b\[0\] is a reference back to one of its own ancestors \(a cycle\)/],
      [new Map([[1, { fn: Math.max }]]), /value\.get\(<key #0>\)\.fn is a function/],
      [new Set([new WeakMap()]), /is an instance of WeakMap/],
      [{ 'odd key': { [Symbol('s')]: 1 } }, /value\["odd key"\] is an object with symbol keys/],
      [new Float64Array(2), /Float64Array/],
      [new Error('boom'), /instance of Error/],
      [[, 1], /^value\[0\] is undefined/],
      [{ m: new (class Registry extends Map {})() }, /^value\.m is an instance of Registry/],
      [{ when: new (class Stamp extends Date {})() }, /^value\.when is an instance of Stamp/],
      [JSON.parse('{"__proto__": 1}'), /^value\.__proto__ is a "__proto__" key/],
    ]
    for (const [bad, message] of cases) {
      expect(() => state.set('k', bad as never)).toThrow(TypeError)
      expect(() => state.set('k', bad as never)).toThrow(message)
      expect(() => state.setNew('k', bad as never)).toThrow(TypeError)
    }
    expect(state.get('k')).toBeUndefined()
    expect(state.size()).toBe(0)
    // Shared (non-cyclic) references are fine: they are copied.
    const shared = { s: 1 }
    state.set('dag', { a: shared, b: shared })
    expect(state.get('dag')).toEqual({ a: { s: 1 }, b: { s: 1 } })
  })

  it('incr on a non-integer is a TypeError and leaves the value', () => {
    state.set('s', 'text')
    state.set('f', 1.5)
    state.set('b', 3n)
    for (const k of ['s', 'f', 'b']) expect(() => state.incr(k)).toThrow(TypeError)
    expect(state.get('s')).toBe('text')
    expect(state.get('f')).toBe(1.5)
    expect(state.get('b')).toBe(3n)
    expect(() => state.incr('n', 1.5)).toThrow(TypeError)
    expect(() => state.incr('n', '1' as never)).toThrow(TypeError)
    expect(() => state.incr('n', NaN)).toThrow(TypeError)
    expect(state.get('n')).toBeUndefined()
  })

  it('overflow past 2^53 − 1 is a RangeError and leaves the value', () => {
    state.set('max', Number.MAX_SAFE_INTEGER - 1)
    expect(state.incr('max')).toBe(Number.MAX_SAFE_INTEGER)
    expect(() => state.incr('max')).toThrow(RangeError)
    expect(state.get('max')).toBe(Number.MAX_SAFE_INTEGER)
    state.set('min', -Number.MAX_SAFE_INTEGER)
    expect(() => state.decr('min')).toThrow(RangeError)
    expect(state.get('min')).toBe(-Number.MAX_SAFE_INTEGER)
    expect(() => state.incr('x', 2 ** 60)).toThrow(RangeError)
    expect(state.get('x')).toBeUndefined()
  })

  it('refuses bad TTLs', () => {
    expect(() => state.set('k', 1, { ttl: 0 })).toThrow(RangeError)
    expect(() => state.set('k', 1, { ttl: -5 })).toThrow(RangeError)
    expect(() => state.set('k', 1, { ttl: Infinity })).toThrow(RangeError)
    expect(() => state.set('k', 1, { ttl: NaN })).toThrow(RangeError)
    expect(() => state.set('k', 1, { ttl: '10' as never })).toThrow(TypeError)
    expect(() => state.set('k', 1, 5 as never)).toThrow(TypeError)
    expect(() => state.expire('k', -1)).toThrow(RangeError)
    expect(state.get('k')).toBeUndefined()
  })

  it('exports the error classes with stable codes', async () => {
    const errors = await import('ironwood')
    const expected: Record<string, string> = {
      TimeoutError: 'ETIMEOUT',
      ConnectionError: 'ENOCONNECTION',
      RemoteError: 'EREMOTE',
      NoFunctionError: 'ENOFUNCTION',
      NoProcessError: 'ENOPROC',
      ExitError: 'EEXIT',
    }
    const make: Record<string, () => IronwoodError> = {
      TimeoutError: () => new errors.TimeoutError('t', 10),
      ConnectionError: () => new errors.ConnectionError('c', 'b@127.0.0.1:1'),
      RemoteError: () =>
        new errors.RemoteError({ remoteName: 'Error', remoteMessage: 'm', node: 'b@127.0.0.1:1' }),
      NoFunctionError: () => new errors.NoFunctionError('f', 'add'),
      NoProcessError: () => new errors.NoProcessError('p'),
      ExitError: () => new errors.ExitError('e', 'killed'),
    }
    for (const [name, code] of Object.entries(expected)) {
      const err = make[name]!()
      expect(err).toBeInstanceOf(IronwoodError)
      expect(err).toBeInstanceOf(Error)
      expect(err.code).toBe(code)
      expect(err.name).toBe(name)
    }
  })
})

describe('state: worker threads', () => {
  it('a value set in one worker is read in another and in the main thread', async () => {
    const t = Table.open('xthread')
    t.clear()
    await runWorker({ op: 'set', table: 'xthread', key: 'from-worker', value: { hello: 'main', n: [1, 2] } })
    expect(t.get('from-worker')).toEqual({ hello: 'main', n: [1, 2] })
    t.set('from-main', new Map([['k', 1]]))
    const seen = await runWorker({ op: 'get', table: 'xthread', key: 'from-main' })
    expect(seen).toEqual(new Map([['k', 1]]))
    t.clear()
  })

  it('4 workers × 100,000 incr on one key give exactly 400,000', async () => {
    const t = Table.open('contention')
    t.clear()
    await Promise.all(
      Array.from({ length: 4 }, () => runWorker({ op: 'incr', table: 'contention', key: 'hits', times: 100_000 })),
    )
    expect(t.get('hits')).toBe(400_000)
    t.clear()
  })
})
