import { readFileSync, readdirSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

import { afterAll, afterEach, describe, expect, it } from 'vitest'

import { type ClusterOptions, cluster, node, nodes } from 'ironwood'

import { FAST, type TestNode, forkNode, killAll, track, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/cluster-node.mjs', import.meta.url))

afterEach(killAll)
afterAll(killAll)

function startNode(options: Partial<ClusterOptions> & { name: string }): Promise<TestNode> {
  return forkNode(FIXTURE, { cookie: 'test-cookie', ...options })
}

const count = (n: TestNode, event: string, peer: string) => n.events.filter((e) => e.event === event && e.node === peer).length

describe('cluster (real node processes on 127.0.0.1)', () => {
  it('forms a 3-node mesh from one seed each, with one nodeup per peer', async () => {
    const a = await startNode({ name: 'a' })
    expect(a.name).toMatch(/^a@127\.0\.0\.1:\d+$/)
    expect(a.name.endsWith(':0')).toBe(false)
    const b = await startNode({ name: 'b', seeds: [a.name] })
    const c = await startNode({ name: 'c', seeds: [b.name] })
    const all = [a, b, c]
    for (const n of all) {
      const others = all.filter((o) => o !== n).map((o) => o.name).sort()
      await waitFor(`${n.name} to see the mesh`, () => others.every((o) => count(n, 'nodeup', o) === 1))
      expect(await n.call('nodes')).toEqual(others)
    }
    // Settled: still exactly one nodeup per peer, no nodedown.
    await new Promise((r) => setTimeout(r, 300))
    for (const n of all) {
      expect(n.events.filter((e) => e.event === 'nodeup')).toHaveLength(2)
      expect(n.events.filter((e) => e.event === 'nodedown')).toHaveLength(0)
    }
  })

  it('refuses a node with the wrong cookie: no nodeup on either side, connect resolves false', async () => {
    const a = await startNode({ name: 'a' })
    const bad = await startNode({ name: 'bad', cookie: 'wrong' })
    expect(await bad.call('connect', { target: a.name })).toBe(false)
    expect(bad.logs.join('\n')).toMatch(/authentication failed/i)
    // And a wrong-cookie seed does not join either.
    const bad2 = await startNode({ name: 'bad2', cookie: 'wrong', seeds: [a.name] })
    expect(bad2.logs.join('\n')).toMatch(/could not connect to seed/)
    await new Promise((r) => setTimeout(r, 300))
    expect(await a.call('nodes')).toEqual([])
    expect(await bad.call('nodes')).toEqual([])
    expect(await bad2.call('nodes')).toEqual([])
    expect(a.events).toEqual([])
    expect(bad.events).toEqual([])
    expect(bad2.events).toEqual([])
  })

  it('reports a SIGKILLed node down exactly once, within the heartbeat timeout', async () => {
    const a = await startNode({ name: 'a' })
    const b = await startNode({ name: 'b', seeds: [a.name] })
    const c = await startNode({ name: 'c', seeds: [a.name] })
    for (const n of [a, b]) await waitFor('mesh', () => count(n, 'nodeup', c.name) === 1)
    const killedAt = Date.now()
    c.child.kill('SIGKILL')
    for (const n of [a, b]) {
      await waitFor(`${n.name} to see c down`, () => count(n, 'nodedown', c.name) === 1, 5_000)
    }
    // Generous bound: the timeout is 600 ms.
    expect(Date.now() - killedAt).toBeLessThan(5_000)
    await new Promise((r) => setTimeout(r, 500))
    for (const n of [a, b]) {
      expect(count(n, 'nodedown', c.name)).toBe(1)
      const down = n.events.find((e) => e.event === 'nodedown')
      expect(['heartbeat_timeout', 'connection_lost', 'connection_timeout', 'closed']).toContain(down?.info.reason)
      // The loss is logged with its reason, and the transport's own account
      // of it (from Rust's log records) reaches the JS logger too.
      if (down?.info.reason !== 'closed') expect(n.logs.join('\n')).toContain(`cluster: node ${c.name} is down: ${down?.info.reason}`)
      if (down?.info.reason === 'heartbeat_timeout') expect(n.logs.join('\n')).toMatch(new RegExp(`cluster: .*no heartbeat from ${c.name.replace(/[.]/g, '\\.')}`))
      expect(await n.call('nodes')).toEqual([a.name, b.name].filter((x) => x !== n.name))
    }
  })

  it('reconnects to a node restarted under the same name after a SIGKILL', async () => {
    const a = await startNode({ name: 'a' })
    const port = Number(a.name.split(':').pop())
    const b = await startNode({ name: 'b', seeds: [a.name] })
    await waitFor('b to see a', () => count(b, 'nodeup', a.name) === 1)
    a.child.kill('SIGKILL')
    await waitFor('b to see a down', () => count(b, 'nodedown', a.name) === 1, 5_000)
    // The same name@host:port comes back; b redials it on its own.
    const again = await startNode({ name: 'a', port })
    expect(again.name).toBe(a.name)
    await waitFor('b to see a up again', () => count(b, 'nodeup', a.name) === 2, 15_000)
    expect(await b.call('nodes')).toEqual([a.name])
    await waitFor('a to see b', () => count(again, 'nodeup', b.name) === 1)
  })

  // /proc names each thread; other systems have no such view.
  it.skipIf(process.platform !== 'linux')('runs the transport on 1 thread, or IRONWOOD_NET_THREADS', async () => {
    const netThreads = (pid: number) =>
      readdirSync(`/proc/${pid}/task`).filter((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === 'ironwood-net').length
    const saved = process.env.IRONWOOD_NET_THREADS
    try {
      delete process.env.IRONWOOD_NET_THREADS
      const d = await startNode({ name: 'd' })
      process.env.IRONWOOD_NET_THREADS = '3'
      const e = await startNode({ name: 'e' })
      process.env.IRONWOOD_NET_THREADS = 'lots'
      const f = await startNode({ name: 'f' })
      expect(netThreads(d.child.pid!)).toBe(1)
      expect(netThreads(e.child.pid!)).toBe(3)
      expect(netThreads(f.child.pid!)).toBe(1) // not a number in range: the default
    } finally {
      if (saved === undefined) delete process.env.IRONWOOD_NET_THREADS
      else process.env.IRONWOOD_NET_THREADS = saved
    }
  })

  it('keeps a node whose JS thread is blocked for 2x the heartbeat timeout', async () => {
    const a = await startNode({ name: 'a' })
    const b = await startNode({ name: 'b', seeds: [a.name] })
    await waitFor('nodeup', () => count(a, 'nodeup', b.name) === 1)
    expect(await b.call('block', { ms: 2 * FAST.heartbeatTimeout })).toBe(true)
    expect(await a.call('nodes')).toEqual([b.name])
    expect(await b.call('nodes')).toEqual([a.name])
    expect(a.events.filter((e) => e.event === 'nodedown')).toEqual([])
    expect(b.events.filter((e) => e.event === 'nodedown')).toEqual([])
  })

  it('delivers events that accumulated while the JS thread was busy in one batch', async () => {
    const a = await startNode({ name: 'a' })
    const b = await startNode({ name: 'b', seeds: [a.name] })
    await waitFor('nodeup', () => count(b, 'nodeup', a.name) === 1)
    // b's JS thread is busy while c and d join the mesh (Rust handles it).
    const blocked = b.call('block', { ms: 4_000 })
    const [c, d] = await Promise.all([startNode({ name: 'c', seeds: [a.name] }), startNode({ name: 'd', seeds: [a.name] })])
    await waitFor('a to see c and d', () => count(a, 'nodeup', c.name) === 1 && count(a, 'nodeup', d.name) === 1)
    await blocked
    await waitFor('b to see c and d', () => count(b, 'nodeup', c.name) === 1 && count(b, 'nodeup', d.name) === 1)
    const batches = b.events.filter((e) => e.node !== a.name).map((e) => e.batch)
    expect(new Set(batches).size).toBe(1)
  })

  it('disconnect and stop report nodedown with their reasons', async () => {
    const a = await startNode({ name: 'a' })
    const b = await startNode({ name: 'b', seeds: [a.name] })
    await waitFor('nodeup', () => count(a, 'nodeup', b.name) === 1)
    expect(await a.call('disconnect', { target: b.name })).toBe(true)
    expect(await a.call('disconnect', { target: b.name })).toBe(false)
    await waitFor('down on both', () => count(a, 'nodedown', b.name) === 1 && count(b, 'nodedown', a.name) === 1)
    expect(a.events.at(-1)?.info.reason).toBe('disconnect')
    expect(b.events.at(-1)?.info.reason).toBe('closed')
    expect(await a.call('connect', { target: b.name })).toBe(true)
    await waitFor('up again', () => count(b, 'nodeup', a.name) === 2)
    expect(await b.call('stop')).toBe(true)
    // stop resolves after the last event: nodedown 'stopped' has been seen.
    expect(count(b, 'nodedown', a.name)).toBe(2)
    expect(b.events.at(-1)?.info.reason).toBe('stopped')
    expect(await b.call('node')).toBe('nonode@nohost')
    await waitFor('a sees b down', () => count(a, 'nodedown', b.name) === 2)
  })

  it('a program that starts and stops a cluster exits on its own', async () => {
    const script = `
      import { cluster, node } from 'ironwood'
      await cluster.start({ name: 'solo', cookie: 'x' })
      if (!node().startsWith('solo@127.0.0.1:')) process.exit(3)
      await cluster.stop()
      if (node() !== 'nonode@nohost') process.exit(4)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit', cwd: process.cwd() })
    track(child)
    const code = await new Promise<number | null>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('did not exit within 10 s')), 10_000)
      child.on('exit', (c) => {
        clearTimeout(t)
        resolve(c)
      })
    })
    expect(code).toBe(0)
  })

  it('a program that never starts a cluster does not start the runtime threads', async () => {
    const script = `
      import { readdirSync, readFileSync } from 'node:fs'
      import { nodes, node, Table } from 'ironwood'
      Table.open('t').set('k', 1)
      if (nodes().length !== 0 || node() !== 'nonode@nohost') process.exit(3)
      const names = readdirSync('/proc/self/task').map((t) => readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim())
      process.exit(names.some((n) => n.startsWith('ironwood-net')) ? 5 : 0)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' })
    track(child)
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(0)
  })
})

describe('cluster (in this process)', () => {
  afterAll(async () => {
    await cluster.stop()
  })

  it('rejects bad input with TypeError / RangeError', async () => {
    await expect(cluster.start({ name: 'x' })).rejects.toThrow(TypeError)
    await expect(cluster.start({ name: 'x' })).rejects.toThrow(/cookie/)
    await expect(cluster.start({ name: 'bad name!', cookie: 'c' })).rejects.toThrow(TypeError)
    await expect(cluster.start({ name: 'x', cookie: 'c', port: 70000 })).rejects.toThrow(RangeError)
    await expect(cluster.start({ name: 'x', cookie: 'c', port: 1.5 })).rejects.toThrow(RangeError)
    await expect(cluster.start({ name: 'x', cookie: 'c', port: '1' as any })).rejects.toThrow(TypeError)
    await expect(cluster.start({ name: 'x', cookie: 'c', seeds: ['nope'] })).rejects.toThrow(TypeError)
    await expect(
      cluster.start({ name: 'x', cookie: 'c', heartbeatInterval: 500, heartbeatTimeout: 500 }),
    ).rejects.toThrow(RangeError)
    await expect(cluster.start({ name: 'x', cookie: 'c', tls: { cert: 'a' } as any })).rejects.toThrow(TypeError)
    await expect(cluster.connect('a@127.0.0.1:1')).rejects.toThrow(/not started/)
    expect(() => cluster.on('nodeup2' as any, () => {})).toThrow(TypeError)
    expect(() => cluster.on('nodeup', 1 as any)).toThrow(TypeError)
    expect(node()).toBe('nonode@nohost')
    expect(nodes()).toEqual([])
  })

  it('starts, refuses a second start, and connects to a forked node', async () => {
    await cluster.start({ name: 'local', cookie: 'test-cookie', ...FAST })
    expect(node()).toMatch(/^local@127\.0\.0\.1:[1-9]\d*$/)
    await expect(cluster.start({ name: 'again', cookie: 'test-cookie' })).rejects.toThrow(/already started/)
    await expect(cluster.connect('')).rejects.toThrow(TypeError)

    const up: string[] = []
    const onUp = (n: string) => up.push(n)
    cluster.on('nodeup', onUp)
    const b = await startNode({ name: 'b' })
    const bPort = Number(b.name.split(':').at(-1))
    expect(await cluster.connect(b.name)).toBe(true)
    await waitFor('nodeup', () => up.includes(b.name))
    expect(nodes()).toEqual([b.name])
    expect(cluster.off('nodeup', onUp)).toBe(true)

    const down: Array<[string, string | undefined]> = []
    cluster.on('nodedown', (n, info) => down.push([n, info.reason]))
    await cluster.stop()
    expect(down).toEqual([[b.name, 'stopped']])
    expect(node()).toBe('nonode@nohost')
    expect(nodes()).toEqual([])
    // A port in use is an Error, and the cluster stays startable.
    await expect(cluster.start({ name: 'taken', cookie: 'c', port: bPort })).rejects.toThrow(/could not listen/)
    expect(node()).toBe('nonode@nohost')
    // stop() during start waits for it, then stops.
    const started = cluster.start({ name: 'racing', cookie: 'c' })
    await cluster.stop()
    await started
    expect(node()).toBe('nonode@nohost')
    // A stopped cluster can start again.
    await cluster.start({ name: 'local2', cookie: 'test-cookie' })
    expect(node()).toMatch(/^local2@/)
    await cluster.stop()
  })

  it('a worker terminated with a running node is seen going down by its peers', async () => {
    await cluster.start({ name: 'main', cookie: 'test-cookie', ...FAST })
    const down: Array<[string, string | undefined]> = []
    const onDown = (n: string, info: { reason?: string }) => down.push([n, info.reason])
    cluster.on('nodedown', onDown)
    const code = `
      import { cluster, node } from 'ironwood'
      import { parentPort, workerData } from 'node:worker_threads'
      await cluster.start({ name: 'w', cookie: 'test-cookie', seeds: [workerData] })
      parentPort.postMessage(node())
    `
    const w = new Worker(code, { eval: true, type: 'module', workerData: node() } as any)
    const wName = await new Promise<string>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
    await waitFor('worker node up', () => nodes().includes(wName))
    await w.terminate()
    await waitFor('worker node down', () => down.length === 1, 5_000)
    expect(down[0]?.[0]).toBe(wName)
    expect(nodes()).toEqual([])
    cluster.off('nodedown', onDown)
    await cluster.stop()
  })
})
