import { fileURLToPath } from 'node:url'

import { beforeAll, describe, expect, it } from 'vitest'

import {
  ConnectionError,
  NoFunctionError,
  RemoteError,
  TimeoutError,
  cluster,
  node,
  nodes,
  rpc,
} from 'ironwood'

import { type TestNode, clusterSuite, forkPeer, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/rpc-node.mjs', import.meta.url))
// Internal: the pending-call counter of the very module 'ironwood' loaded.
const RPC_INTERNAL = new URL('../dist/rpc.js', import.meta.url).href
const pendingCallCount = async (): Promise<number> => ((await import(RPC_INTERNAL)) as { pendingCallCount: () => number }).pendingCallCount()

const logs: string[] = []

const peer = (name: string): Promise<TestNode> => forkPeer(FIXTURE, 'rpc-cookie', name)

clusterSuite('tester', 'rpc-cookie', (m) => logs.push(m))

describe('rpc between real node processes', () => {
  let b: TestNode

  beforeAll(async () => {
    b = await peer('b')
  })

  it('returns results, including Map, bigint, Date and bytes terms, and async results', async () => {
    expect(await rpc.call(b.name, 'math', 'add', [2, 3])).toBe(5)
    expect(await rpc.call(b.name, 'math', 'addAsync', [2, 40])).toBe(42)
    expect(await rpc.call(b.name, 'math', 'whoami')).toBe(b.name)
    const v = (await rpc.call(b.name, 'math', 'big')) as any
    expect(v.map).toBeInstanceOf(Map)
    expect(v.map.get(1)).toBe('one')
    expect(v.map.get('two')).toBe(2n)
    expect(v.big).toBe(2n ** 70n)
    expect(v.date).toBeInstanceOf(Date)
    expect(v.date.getTime()).toBe(Date.UTC(2020, 0, 2))
    expect([...v.bytes]).toEqual([1, 2, 3])
    const arg = { m: new Map([[[1, 2], new Set(['x'])]]), n: -7n, d: new Date(5) }
    expect(await rpc.call(b.name, 'math', 'echo', [arg])).toEqual(arg)
    expect(await pendingCallCount()).toBe(0)
  })

  it('turns a remote throw into a RemoteError with name, message, stack and node', async () => {
    const e = await rpc.call(b.name, 'math', 'boom', ['bad input']).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RemoteError)
    expect(e).toMatchObject({ code: 'EREMOTE', remoteName: 'RangeError', remoteMessage: 'bad input', node: b.name })
    expect((e as RemoteError).remoteStack).toMatch(/rpc-node\.mjs/)
    await expect(rpc.call(b.name, 'math', 'boomAsync')).rejects.toMatchObject({ remoteName: 'Error', remoteMessage: 'async boom' })
    await expect(rpc.call(b.name, 'math', 'throwString')).rejects.toMatchObject({ code: 'EREMOTE', remoteMessage: expect.stringMatching(/just a string/) })
    // A non-term result fails on the remote side: a RemoteError TypeError.
    await expect(rpc.call(b.name, 'math', 'notATerm')).rejects.toMatchObject({ code: 'EREMOTE', remoteName: 'TypeError', remoteMessage: expect.stringMatching(/the result of math\.notATerm/) })
  })

  it('times out with TimeoutError, drops the late reply, and the node keeps serving', async () => {
    const e = await rpc.call(b.name, 'math', 'slow', [400, 'late'], { timeout: 50 }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(TimeoutError)
    expect(await pendingCallCount()).toBe(0)
    await new Promise((r) => setTimeout(r, 500)) // the late reply arrives and is dropped
    expect(await rpc.call(b.name, 'math', 'add', [1, 1])).toBe(2)
    expect(await pendingCallCount()).toBe(0)
  })

  it('rejects unknown modules, functions and inherited names with NoFunctionError', async () => {
    await expect(rpc.call(b.name, 'nope', 'add', [1, 2])).rejects.toBeInstanceOf(NoFunctionError)
    await expect(rpc.call(b.name, 'math', 'nope')).rejects.toMatchObject({ code: 'ENOFUNCTION', functionName: 'math.nope' })
    for (const fn of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      await expect(rpc.call(b.name, 'math', fn)).rejects.toBeInstanceOf(NoFunctionError)
      expect(() => rpc.cast(b.name, 'math', fn)).not.toThrow()
    }
  })

  it('rejects a call to a node that is not connected with ConnectionError', async () => {
    await expect(rpc.call('ghost@127.0.0.1:1', 'math', 'add', [1, 2])).rejects.toBeInstanceOf(ConnectionError)
    const r = await rpc.multicall(['ghost@127.0.0.1:1'], 'math', 'add', [1, 2])
    expect(r[0]).toMatchObject({ node: 'ghost@127.0.0.1:1', ok: false })
    expect((r[0] as any).error).toBeInstanceOf(ConnectionError)
    // cast to a node that is not there: fire and forget, no throw.
    expect(() => rpc.cast('ghost@127.0.0.1:1', 'kv', 'put', ['k', 1])).not.toThrow()
  })

  it('runs a cast remotely (seen by a later call)', async () => {
    rpc.cast(b.name, 'kv', 'put', ['answer', new Map([['x', 42n]])])
    // Frames to one node arrive in order, so the call sees the cast's effect.
    expect(await rpc.call(b.name, 'kv', 'get', ['answer'])).toEqual(new Map([['x', 42n]]))
    // A failing cast is logged there, never thrown here.
    rpc.cast(b.name, 'math', 'boom', ['cast failure'])
    await waitFor('the cast failure to be logged', () => b.logs.some((l) => /cast failure/.test(l)))
  })

  it('a function that returns nothing answers undefined, remotely and locally, and a cast to it logs no failure', async () => {
    expect(await rpc.call(b.name, 'math', 'noResult')).toBeUndefined()
    expect(await rpc.call(b.name, 'math', 'noResultAsync')).toBeUndefined()
    rpc.register('quiet', { log: () => {} })
    try {
      expect(await rpc.call(node(), 'quiet', 'log', ['info', 'hi'])).toBeUndefined()
    } finally {
      rpc.unregister('quiet')
    }
    const before = b.logs.length
    rpc.cast(b.name, 'math', 'noResult', [])
    // Same module, same lane: the call is handled after the cast.
    expect(await rpc.call(b.name, 'math', 'add', [1, 1])).toBe(2)
    expect(b.logs.slice(before).filter((l) => /noResult/.test(l))).toEqual([])
  })

  it('calls from a forked node back to this node, and local-node calls run locally', async () => {
    rpc.register('here', { hello: (who: string) => `hello ${who} from ${node()}`, fail: () => { throw new TypeError('local fail') } })
    try {
      expect(await b.call('call', { target: node(), module: 'here', fn: 'hello', args: ['b'] })).toEqual({ ok: true, value: `hello b from ${node()}` })
      expect(await rpc.call(node(), 'here', 'hello', ['me'])).toBe(`hello me from ${node()}`)
      await expect(rpc.call(node(), 'here', 'fail')).rejects.toMatchObject({ code: 'EREMOTE', remoteName: 'TypeError', node: node() })
      await expect(rpc.call(node(), 'here', 'toString')).rejects.toBeInstanceOf(NoFunctionError)
      await expect(rpc.call(node(), 'nope', 'x')).rejects.toBeInstanceOf(NoFunctionError)
      // Local calls copy like remote ones: the callee cannot mutate the caller's args.
      rpc.register('mut', { push: (a: number[]) => { a.push(1); return a } })
      const arr: number[] = []
      expect(await rpc.call(node(), 'mut', 'push', [arr])).toEqual([1])
      expect(arr).toEqual([])
      expect(rpc.unregister('mut')).toBe(true)
      expect(rpc.unregister('mut')).toBe(false)
    } finally {
      rpc.unregister('here')
    }
  })

  it('rejects bad arguments with TypeError / RangeError', async () => {
    await expect(rpc.call(42 as any, 'math', 'add')).rejects.toThrow(TypeError)
    await expect(rpc.call(b.name, 1 as any, 'add')).rejects.toThrow(TypeError)
    await expect(rpc.call(b.name, 'math', null as any)).rejects.toThrow(TypeError)
    await expect(rpc.call(b.name, 'math', 'add', 'x' as any)).rejects.toThrow(TypeError)
    await expect(rpc.call(b.name, 'math', 'add', [1, { f: () => 1 }] as any)).rejects.toThrow(/args\[1\]\.f/)
    await expect(rpc.call(b.name, 'math', 'add', [undefined] as any)).rejects.toThrow(TypeError)
    await expect(rpc.call(b.name, 'math', 'add', [], { timeout: -1 })).rejects.toThrow(RangeError)
    await expect(rpc.call(b.name, 'math', 'add', [], { timeout: Number.NaN })).rejects.toThrow(RangeError)
    await expect(rpc.call(b.name, 'math', 'add', [], { timeout: '5' as any })).rejects.toThrow(TypeError)
    expect(() => rpc.cast(b.name, 'math', 'add', [Symbol('x')] as any)).toThrow(TypeError)
    expect(() => rpc.cast(b.name, 'math', 7 as any)).toThrow(TypeError)
    await expect(rpc.multicall('x' as any, 'math', 'add')).rejects.toThrow(TypeError)
    await expect(rpc.multicall([b.name], 'math', 'add', [], { timeout: -5 })).rejects.toThrow(RangeError)
    expect(() => rpc.register('', {})).toThrow(TypeError)
    expect(() => rpc.register('m', null as any)).toThrow(TypeError)
    expect(await pendingCallCount()).toBe(0)
  })

  it('carries scalars of every encoded width, and long or non-ASCII names, exactly (both ways)', async () => {
    const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1]
    const floats = [1.5, -0.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE, 1e300]
    const strings = ['', 'a', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(64), 'z'.repeat(65), 'tab\there\n\u0000', 'héllo', '日本', '🙂']
    for (const v of [...ints, ...floats, ...strings, true, false, null]) {
      // As the only argument (the envelope's own writer), and as the result (the reply's).
      const back = await rpc.call(b.name, 'math', 'echo', [v])
      expect(Object.is(back, v) || (Number.isNaN(back) && Number.isNaN(v))).toBe(true)
    }
    // Many scalars at once (past the short-array form), and a mix with a non-scalar.
    const many = [...ints, ...strings]
    expect(await rpc.call(b.name, 'math', 'echo', [many])).toEqual(many)
    expect(await rpc.call(b.name, 'math', 'add', [2 ** 31, 2 ** 31])).toBe(2 ** 32)
    expect(await rpc.call(b.name, 'math', 'add', ['é', 'x'.repeat(100)])).toBe(`é${'x'.repeat(100)}`)
    // Names: non-ASCII, and longer than one byte can count. b calls this node's module.
    const module = `módulo-${'m'.repeat(300)}`
    const fn = `función-${'f'.repeat(40)}`
    rpc.register(module, { [fn]: (...args: unknown[]) => args })
    try {
      expect(await b.call('call', { target: node(), module, fn, args: [1, 'two', null] })).toEqual({ ok: true, value: [1, 'two', null] })
    } finally {
      rpc.unregister(module)
    }
  })

  it('a call made from inside the encoding of another call (a getter) leaves both intact', async () => {
    const arg = {
      get x() {
        rpc.cast(b.name, 'kv', 'put', ['from-getter', 7])
        return 5
      },
    }
    expect(await rpc.call(b.name, 'math', 'echo', [arg], { timeout: 3000 })).toEqual({ x: 5 })
    expect(await rpc.call(b.name, 'kv', 'get', ['from-getter'])).toBe(7)
  })

  it('serves a call whose envelope is valid msgpack in a form ironwood does not write', async () => {
    const { sendFrame, FrameKind } = (await import(new URL('../dist/cluster-frames.js', import.meta.url).href)) as any
    const { encode } = (await import(new URL('../dist/terms.js', import.meta.url).href)) as any
    const str8 = (s: string): number[] => [0xd9, s.length, ...Buffer.from(s)]
    const fixstr = (s: string): number[] => [0xa0 | s.length, ...Buffer.from(s)]
    const float64 = (n: number): number[] => [0xcb, ...Buffer.from(new Float64Array([n]).buffer).reverse()]
    const uint64 = (n: bigint): number[] => [0xcf, ...Buffer.from(new BigUint64Array([n]).buffer).reverse()]
    const frames = [
      // the id as a float64 and the module as a str8: read the general way
      [0x94, ...float64(7), ...str8('kv'), ...fixstr('put'), ...encode(['f1', 1])],
      // a 64-bit id (a safe integer) is read by the envelope's own reader
      [0x94, ...uint64(2n ** 40n), ...fixstr('kv'), ...fixstr('put'), ...encode(['f2', 2])],
      // a cast as [module, fn, args] with a str8 function name
      [0x93, ...fixstr('kv'), ...str8('put'), ...encode(['f3', 3])],
    ]
    expect(sendFrame(b.name, FrameKind.RpcCall, new Uint8Array(frames[0]!))).toBe('ok')
    expect(sendFrame(b.name, FrameKind.RpcCall, new Uint8Array(frames[1]!))).toBe('ok')
    expect(sendFrame(b.name, FrameKind.RpcCast, new Uint8Array(frames[2]!))).toBe('ok')
    await waitFor('the three puts', async () => (await rpc.call(b.name, 'kv', 'get', ['f3'])) === 3)
    expect(await rpc.call(b.name, 'kv', 'get', ['f1'])).toBe(1)
    expect(await rpc.call(b.name, 'kv', 'get', ['f2'])).toBe(2)
  })

  it('drops malformed RpcCall / RpcReply payloads from a peer and keeps serving', async () => {
    const before = logs.length
    for (const kind of [0x30, 0x31, 0x32]) {
      expect(await b.call('raw', { target: node(), kind, bytes: [0xc1, 0xff, 0x00] })).toBe('ok') // not msgpack
      expect(await b.call('raw', { target: node(), kind, bytes: [0x2a] })).toBe('ok') // 42: not a map
      expect(await b.call('raw', { target: node(), kind, bytes: [] })).toBe('ok')
    }
    await waitFor('the malformed frames to be logged', () => logs.slice(before).filter((l) => /malformed/.test(l)).length >= 9)
    expect(await rpc.call(b.name, 'math', 'add', [20, 22])).toBe(42)
    expect(await b.call('call', { target: node(), module: 'nope', fn: 'x', args: [] })).toMatchObject({ ok: false, code: 'ENOFUNCTION' })
    expect(nodes()).toContain(b.name)
  })
})

describe('rpc when nodes go down', () => {
  it('rejects a call in flight with ConnectionError soon after the node is SIGKILLed, not at its timeout', async () => {
    const c = await peer('c1')
    const started = Date.now()
    const call = rpc.call(c.name, 'math', 'slow', [60_000, 'never'], { timeout: 30_000 }).catch((x: unknown) => x)
    await new Promise((r) => setTimeout(r, 100))
    c.child.kill('SIGKILL')
    const e = await call
    expect(e).toBeInstanceOf(ConnectionError)
    expect((e as ConnectionError).node).toBe(c.name)
    // Heartbeat timeout 600 ms: generous margin, far below 30 s.
    expect(Date.now() - started).toBeLessThan(6_000)
    expect(await pendingCallCount()).toBe(0)
  })

  it('rejects 1,000 concurrent calls with ConnectionError when the node is SIGKILLed; nothing stays pending', async () => {
    const c = await peer('c2')
    const calls = Array.from({ length: 1000 }, (_, i) =>
      rpc.call(c.name, 'math', 'slow', [60_000, i], { timeout: 30_000 }).then(
        () => 'resolved',
        (x: unknown) => x,
      ),
    )
    expect(await pendingCallCount()).toBe(1000)
    await new Promise((r) => setTimeout(r, 200))
    const killedAt = Date.now()
    c.child.kill('SIGKILL')
    const results = await Promise.all(calls)
    expect(Date.now() - killedAt).toBeLessThan(6_000)
    expect(results.every((r) => r instanceof ConnectionError)).toBe(true)
    expect(await pendingCallCount()).toBe(0)
  })

  it('rejects pending calls with ConnectionError when this node disconnects from the peer', async () => {
    const c = await peer('c3')
    const calls = [1, 2, 3].map((i) => rpc.call(c.name, 'math', 'slow', [60_000, i], { timeout: 30_000 }).catch((x: unknown) => x))
    expect(await pendingCallCount()).toBe(3)
    expect(cluster.disconnect(c.name)).toBe(true)
    const results = await Promise.all(calls)
    expect(results.every((r) => r instanceof ConnectionError && /disconnect/.test(r.message))).toBe(true)
    expect(await pendingCallCount()).toBe(0)
  })

  it('multicall mixes ok, error and down nodes, in the order given', async () => {
    const d = await peer('d')
    const e = await peer('e')
    const gone = await peer('gone')
    gone.child.kill('SIGKILL')
    await waitFor('gone to be down', () => !nodes().includes(gone.name), 5_000)
    const r = await rpc.multicall([d.name, node(), gone.name, e.name], 'math', 'whoami', [], { timeout: 2000 })
    expect(r.map((x) => x.node)).toEqual([d.name, node(), gone.name, e.name])
    expect(r[0]).toEqual({ node: d.name, ok: true, value: d.name })
    expect(r[1]).toMatchObject({ node: node(), ok: false }) // no 'math' module here
    expect((r[1] as any).error).toBeInstanceOf(NoFunctionError)
    expect((r[2] as any).error).toBeInstanceOf(ConnectionError)
    expect(r[3]).toEqual({ node: e.name, ok: true, value: e.name })
    const r2 = await rpc.multicall([d.name, e.name], 'math', 'boom', ['x'])
    expect(r2.every((x) => !x.ok && x.error instanceof RemoteError)).toBe(true)
    const r3 = await rpc.multicall([d.name, e.name], 'math', 'slow', [1000, 1], { timeout: 50 })
    expect(r3.every((x) => !x.ok && x.error instanceof TimeoutError)).toBe(true)
    expect(await pendingCallCount()).toBe(0)
  })
})
