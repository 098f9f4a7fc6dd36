import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import {
  type ClusterOptions,
  ConnectionError,
  type Pid,
  type ProcessContext,
  Ref,
  cluster,
  demonitor,
  exit,
  isAlive,
  link,
  makeRef,
  monitor,
  node,
  nodes,
  send,
  setLogger,
  spawn,
  unlink,
} from 'ironwood'

import { FAST, killAll, track, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/remote-node.mjs', import.meta.url))
const REMOTE_INTERNAL = new URL('../dist/remote.js', import.meta.url).href
const remoteCounts = async (): Promise<{ links: number; monitors: number; watchers: number }> =>
  ((await import(REMOTE_INTERNAL)) as { remoteCounts: () => { links: number; monitors: number; watchers: number } }).remoteCounts()

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))


interface TestNode {
  child: ChildProcess
  name: string
  /** The nodedown events the node reported. */
  downs: Array<{ node: string; reason: string }>
}

function startNode(options: Partial<ClusterOptions> & { name: string }): Promise<TestNode> {
  const child = fork(FIXTURE, [JSON.stringify({ cookie: 'remote-cookie', ...FAST, ...options })], { stdio: 'pipe' })
  track(child)
  const downs: Array<{ node: string; reason: string }> = []
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => reject(new Error(`${options.name} exited (${code ?? signal}) before starting`)))
    child.on('message', (m: any) => {
      if (m.type === 'nodedown') downs.push(m)
      if (m.type === 'started') resolve({ child, name: m.name, downs })
      else if (m.type === 'start-error') reject(new Error(m.error))
    })
  })
}

async function peer(name: string): Promise<TestNode> {
  const n = await startNode({ name, seeds: [node()] })
  await waitFor(`${name} to be up here`, () => nodes().includes(n.name))
  return n
}

/** A local process that keeps every message it receives (trapping exits if asked). */
interface Inbox {
  pid: Pid
  msgs: any[]
}
function inbox(trapExit = false): Inbox {
  const msgs: any[] = []
  const pid = spawn(
    async (self: ProcessContext) => {
      for (;;) msgs.push(await self.receive())
    },
    { trapExit },
  )
  return { pid, msgs }
}

async function next<T = any>(box: Inbox, pred: (m: any) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  await waitFor(what, () => box.msgs.some(pred), timeoutMs)
  const i = box.msgs.findIndex(pred)
  return box.msgs.splice(i, 1)[0] as T
}

/** A fresh worker process on `n`. */
async function remoteWorker(n: TestNode, box: Inbox): Promise<Pid> {
  send({ name: 'echo', node: n.name }, { op: 'spawn', from: box.pid })
  const m = await next(box, (x) => x?.spawned !== undefined, 'a spawned worker')
  return m.spawned as Pid
}

const idle = (): Pid =>
  spawn(async (self: ProcessContext) => {
    await self.receive()
  })

let early: Inbox
let earlyName = ''

beforeAll(async () => {
  setLogger(() => {})
  // Made before the cluster starts: its pid must still travel with the real node name.
  early = inbox()
  earlyName = String(early.pid)
  await cluster.start({ name: 'remotetester', cookie: 'remote-cookie', ...FAST })
})

afterAll(async () => {
  killAll()
  await cluster.stop()
  setLogger(null)
})

describe('remote processes between real node processes', () => {
  let b: TestNode

  beforeAll(async () => {
    b = await peer('b')
  })

  it('sends to { name, node } and to a remote pid; replies reach a pid made before cluster.start', async () => {
    expect(earlyName).toMatch(/^#PID<nonode@nohost\./)
    expect(early.pid.node).toBe(node())
    send({ name: 'echo', node: b.name }, { op: 'echo', value: 'hi', from: early.pid })
    const r = await next(early, (m) => m?.value === 'hi', 'the reply to a named send')
    const w = r.pid as Pid
    expect(w.node).toBe(b.name)
    expect(w.isLocal).toBe(false)
    expect(isAlive(w)).toBe(false) // local only, like Erlang's is_process_alive
    send(w, { op: 'echo', value: { m: new Map([[1, 2n]]), d: new Date(3) }, from: early.pid })
    const r2 = await next(early, (m) => m?.value?.m instanceof Map, 'the reply to a pid send')
    expect(r2.value.m.get(1)).toBe(2n)
    expect(r2.pid.equals(w)).toBe(true)
  })

  it('delivers 1,000 messages in the order sent (and their replies in order)', async () => {
    const box = inbox()
    const w = await remoteWorker(b, box)
    for (let i = 0; i < 1000; i++) send(w, { op: 'echo', value: i, from: box.pid })
    await waitFor('1,000 replies', () => box.msgs.length >= 1000)
    expect(box.msgs.map((m) => m.value)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    // signals keep their place among messages: the DOWN comes after every reply sent before the exit
    box.msgs.length = 0
    const ref = monitor(w, box.pid)
    for (let i = 0; i < 100; i++) send(w, { op: 'echo', value: i, from: box.pid })
    send(w, { op: 'exit', reason: 'done' })
    await next(box, (m) => m?.type === 'DOWN' && m.ref.equals(ref), 'the DOWN after 100 replies')
    expect(box.msgs.map((m) => m.value)).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('bursts to one target and alternating targets (pids and names) all arrive intact, each in its order', async () => {
    // Both sides encode a target's head once and reuse it while the target
    // repeats: switching targets, and values of every shape, must not confuse it.
    const a = inbox()
    const c = inbox()
    const w1 = await remoteWorker(b, a)
    const w2 = await remoteWorker(b, c)
    const value = (i: number): unknown =>
      [i, `s${i}`, { i, big: BigInt(i) * 10n ** 20n }, new Map([[i, [i]]]), new Uint8Array([i & 255, 7]), null, i % 2 === 0][i % 7]
    // what each (replying process, inbox) pair must see, in order: Erlang's per-pair order
    const expected = new Map<string, number[]>()
    const expect1 = (key: string, i: number): void => void (expected.get(key) ?? expected.set(key, []).get(key)!).push(i)
    for (let i = 0; i < 600; i++) {
      // runs of 1 to 5 to the same target, then another target
      const t = Math.floor(i / (1 + (i % 5))) % 3
      if (t === 0) {
        send(w1, { op: 'echo', value: { i, v: value(i) }, from: a.pid })
        expect1('w1>a', i)
      } else if (t === 1) {
        send(w2, { op: 'echo', value: { i, v: value(i) }, from: c.pid })
        expect1('w2>c', i)
      } else {
        send({ name: 'echo', node: b.name }, { op: 'echo', value: { i, v: value(i) }, from: i % 2 ? a.pid : c.pid })
        expect1(i % 2 ? 'echo>a' : 'echo>c', i)
      }
    }
    await waitFor('600 replies', () => a.msgs.length + c.msgs.length >= 600)
    const seen = new Map<string, number[]>()
    const who = (pid: Pid): string => (pid.equals(w1) ? 'w1' : pid.equals(w2) ? 'w2' : 'echo')
    for (const [box, name] of [[a, 'a'], [c, 'c']] as const) {
      for (const m of box.msgs) {
        const key = `${who(m.pid as Pid)}>${name}`
        ;(seen.get(key) ?? seen.set(key, []).get(key)!).push(m.value.i)
        expect(m.value.v).toEqual(value(m.value.i))
      }
    }
    expect(seen).toEqual(expected)
  })

  it('a pid stored in a table before cluster.start is still this node\'s process after it', async () => {
    const out = execFileSync(process.execPath, [fileURLToPath(new URL('./fixtures/pid-before-start.mjs', import.meta.url))], { encoding: 'utf8' })
    expect(JSON.parse(out)).toEqual({ same: true, isLocal: true, node: true, got: ['hello'] })
  })

  it('refuses a send with ConnectionError when the peer falls 64 MiB behind, and delivers every send it accepted', async () => {
    const box = inbox()
    const w = await remoteWorker(b, box)
    const data = new Uint8Array(1 << 20)
    let accepted = 0
    let refused: unknown
    // One synchronous burst: far faster than QUIC drains on loopback.
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      try {
        send(w, { op: 'bulk', data })
        accepted++
      } catch (error) {
        refused = error
      }
    }
    expect(refused).toBeInstanceOf(ConnectionError)
    expect((refused as ConnectionError).message).toMatch(/not reading fast enough/)
    expect(accepted).toBeGreaterThanOrEqual(64)
    // Nothing accepted was dropped, and the connection keeps working.
    await waitFor(`${accepted} bulk messages to arrive`, async () => {
      send(w, { op: 'count', from: box.pid })
      const m = await next(box, (x) => x?.bulk !== undefined, 'a count')
      return m.bulk === accepted
    }, 30_000)
    expect(nodes()).toContain(b.name)
    send(w, { op: 'echo', value: 'still here', from: box.pid })
    await next(box, (m) => m?.value === 'still here', 'an echo after the burst')
  }, 60_000)

  it('remote link: a remote exit kills the local linked process; a trapping one gets EXIT with the reason', async () => {
    const obs = inbox()
    const w1 = await remoteWorker(b, obs)
    const l = idle()
    link(w1, l)
    const lref = monitor(l, obs.pid)
    send(w1, { op: 'exit', reason: 'boom' })
    const down = await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(lref), 'the linked process to die')
    expect(down.reason).toBe('boom')

    const t = inbox(true)
    const w2 = await remoteWorker(b, obs)
    link(w2, t.pid)
    send(w2, { op: 'throw', message: 'kaboom' })
    const ex = await next(t, (m) => m?.type === 'EXIT', 'an EXIT message')
    expect(ex.from.equals(w2)).toBe(true)
    expect(ex.reason).toBeInstanceOf(Error)
    expect(ex.reason.message).toBe('kaboom')
    expect(isAlive(t.pid)).toBe(true)
  })

  it('remote link the other way: a local exit kills the remote linked process; remote monitors of local pids fire', async () => {
    const obs = inbox()
    const w = await remoteWorker(b, obs)
    const watcher = await remoteWorker(b, obs)
    const l = idle()
    send(w, { op: 'link', pid: l, from: obs.pid })
    await next(obs, (m) => m?.linked !== undefined, 'the remote link')
    send(watcher, { op: 'monitor', pid: l, from: obs.pid })
    await next(obs, (m) => m?.monitoring !== undefined, 'the remote monitor')
    const wref = monitor(w, obs.pid)
    exit(l, 'bye')
    const down = await next(obs, (m) => m?.type === 'DOWN' && m.ref instanceof Ref && m.ref.equals(wref), 'the remote process to die')
    expect(down.reason).toBe('bye')
    expect(down.pid.equals(w)).toBe(true)
    const fwd = await next(obs, (m) => m?.type === 'DOWN' && !(m.ref instanceof Ref), 'the remote DOWN of a local pid')
    expect(fwd.pid).toBe(l)
    expect(fwd.reason).toBe('bye')
  })

  it('unlink: a remote exit no longer reaches the unlinked process', async () => {
    const obs = inbox()
    const w = await remoteWorker(b, obs)
    const l = idle()
    link(w, l)
    unlink(w, l)
    const ref = monitor(w, obs.pid)
    send(w, { op: 'exit', reason: 'boom' })
    await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(ref), 'the remote exit')
    await sleep(100)
    expect(isAlive(l)).toBe(true)
    exit(l, 'kill')
  })

  it('remote monitor: DOWN with the real reason; a dead remote pid gives noproc; demonitor stops it; exit(pid, kill) works', async () => {
    const obs = inbox()
    const w = await remoteWorker(b, obs)
    const ref = monitor(w, obs.pid)
    send(w, { op: 'exit', reason: { code: 7, why: ['x'] } })
    const down = await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(ref), 'DOWN')
    expect(down.reason).toEqual({ code: 7, why: ['x'] })
    expect(down.pid.equals(w)).toBe(true)

    const ref2 = monitor(w, obs.pid)
    const noproc = await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(ref2), 'DOWN noproc')
    expect(noproc.reason).toBe('noproc')

    const t = inbox(true)
    link(w, t.pid)
    const ex = await next(t, (m) => m?.type === 'EXIT', 'EXIT noproc of a link to a dead remote pid')
    expect(ex.reason).toBe('noproc')

    const w2 = await remoteWorker(b, obs)
    const ref3 = monitor(w2, obs.pid)
    expect(demonitor(ref3)).toBe(true)
    expect(demonitor(ref3)).toBe(false)
    const ref4 = monitor(w2, obs.pid)
    exit(w2, 'kill')
    const killed = await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(ref4), 'DOWN killed')
    expect(killed.reason).toBe('killed')
    await sleep(100)
    expect(obs.msgs.some((m) => m?.type === 'DOWN' && m.ref.equals(ref3))).toBe(false)
    expect((await remoteCounts()).monitors).toBe(0)
  })

  it('rejects bad targets and non-term messages with TypeError; unknown names and nodes drop silently', async () => {
    const box = inbox()
    const w = await remoteWorker(b, box)
    expect(() => send({ name: 'echo' } as any, 1)).toThrow(TypeError)
    expect(() => send({ node: b.name } as any, 1)).toThrow(TypeError)
    expect(() => send({ name: '', node: b.name }, 1)).toThrow(TypeError)
    expect(() => send({ name: 5, node: b.name } as any, 1)).toThrow(TypeError)
    expect(() => send(42 as any, 1)).toThrow(TypeError)
    expect(() => send([] as any, 1)).toThrow(TypeError)
    expect(() => send({} as any, 1)).toThrow(TypeError)
    expect(() => send({ name: 'echo', node: b.name }, () => 1)).toThrow(TypeError)
    expect(() => send(w, { a: [1, Symbol('s')] })).toThrow(/message\.a\[1\]/)
    expect(() => send({ name: 'nobody', node: b.name }, 1)).not.toThrow()
    expect(() => send({ name: 'echo', node: 'ghost@127.0.0.1:1' }, 1)).not.toThrow()
    // a { name, node } of this node is a local name send
    const named = spawn(async (self: ProcessContext) => box.msgs.push(await self.receive()), { name: 'localname' })
    send({ name: 'localname', node: node() }, 'here')
    await waitFor('the local named message', () => box.msgs.includes('here'))
    expect(isAlive(named)).toBe(false)
  })

  it('drops malformed frames of every kind and keeps serving; nothing leaks', async () => {
    const { sendFrame, FrameKind } = (await import(new URL('../dist/cluster-frames.js', import.meta.url).href)) as any
    const { encode } = (await import(new URL('../dist/terms.js', import.meta.url).href)) as any
    const box = inbox()
    const w = await remoteWorker(b, box)
    const mine = idle()
    const kinds = [FrameKind.Send, FrameKind.Link, FrameKind.Unlink, FrameKind.Exit, FrameKind.Monitor, FrameKind.Demonitor, FrameKind.Down]
    const bad = [
      new Uint8Array([0xc1]),
      new Uint8Array(0),
      encode([1, 2, 3]),
      encode({ to: 5, msg: 1 }),
      // a pid of the wrong node as sender, a ref of the wrong node
      encode({ from: w, to: w, reason: { r: 'x' }, link: false }),
      encode({ from: mine, to: mine, ref: makeRef(), pid: mine, reason: 'x', link: true }),
      encode({ ref: 'nope', pid: w, reason: { r: 'x' } }),
    ]
    for (const k of kinds) for (const bytes of bad) expect(sendFrame(b.name, k, bytes)).toBe('ok')
    send(w, { op: 'echo', value: 'still here', from: box.pid })
    await next(box, (m) => m?.value === 'still here', 'an echo after malformed frames')
    expect(isAlive(mine)).toBe(true)
    exit(mine, 'kill')
    exit(w, 'kill')
    await sleep(100)
    expect(await remoteCounts()).toEqual({ links: 0, monitors: 0, watchers: 0 })
  })
})

describe('a remote node that is lost', () => {
  it('disconnect: links and monitors break with noconnection on both sides; after reconnecting, pids work again', async () => {
    const d = await peer('d')
    const obs = inbox()
    const linked = await remoteWorker(d, obs)
    const watched = await remoteWorker(d, obs)
    const t = inbox(true)
    link(linked, t.pid)
    const ref = monitor(watched, obs.pid)
    // a round trip after them: the link and the monitor have reached d (frames are ordered)
    send(watched, { op: 'echo', value: 'sync', from: obs.pid })
    await next(obs, (m) => m?.value === 'sync', 'the link and monitor to reach d')
    expect(cluster.disconnect(d.name)).toBe(true)
    expect((await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(ref), 'DOWN at disconnect')).reason).toBe('noconnection')
    expect((await next(t, (m) => m?.type === 'EXIT', 'EXIT at disconnect')).reason).toBe('noconnection')
    expect(await remoteCounts()).toEqual({ links: 0, monitors: 0, watchers: 0 })
    await waitFor('d to see this node go down', () => d.downs.some((e) => e.node === node()), 5000)
    expect(await cluster.connect(d.name)).toBe(true)
    await waitFor('d to be up again', () => nodes().includes(d.name))
    // the other side broke the link too: the linked (non-trapping) worker died with noconnection there
    const gone = monitor(linked, obs.pid)
    expect((await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(gone), 'DOWN noproc')).reason).toBe('noproc')
    const ref2 = monitor(watched, obs.pid)
    send(watched, { op: 'echo', value: 'back', from: obs.pid })
    await next(obs, (m) => m?.value === 'back', 'an echo after reconnecting')
    send(watched, { op: 'exit', reason: 'bye' })
    expect((await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(ref2), 'DOWN after reconnecting')).reason).toBe('bye')
    d.child.kill('SIGKILL')
  })

  it('SIGKILL: links get noconnection, a trapping process gets EXIT noconnection, monitors DOWN noconnection exactly once', async () => {
    const c = await peer('c')
    const obs = inbox()
    const w = await remoteWorker(c, obs)
    const l = idle()
    link(w, l)
    const t = inbox(true)
    link(w, t.pid)
    const lref = monitor(l, obs.pid)
    const wref = monitor(w, obs.pid)
    const wref2 = monitor(w, obs.pid)
    c.child.kill('SIGKILL')
    const down = await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(wref), 'DOWN noconnection', 5000)
    expect(down.reason).toBe('noconnection')
    expect(down.pid.equals(w)).toBe(true)
    const ld = await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(lref), 'the linked process to die')
    expect(ld.reason).toBe('noconnection')
    const ex = await next(t, (m) => m?.type === 'EXIT', 'EXIT noconnection')
    expect(ex.reason).toBe('noconnection')
    expect(ex.from.equals(w)).toBe(true)
    await sleep(300)
    expect(obs.msgs.filter((m) => m?.type === 'DOWN' && m.ref.equals(wref))).toHaveLength(0)
    expect(obs.msgs.filter((m) => m?.type === 'DOWN' && m.ref.equals(wref2))).toHaveLength(1)
    expect(t.msgs.filter((m) => m?.type === 'EXIT')).toHaveLength(0)
    expect(await remoteCounts()).toEqual({ links: 0, monitors: 0, watchers: expect.any(Number) })
    // monitoring or linking a pid of a node that is not connected: noconnection at once
    const ref = monitor(w, obs.pid)
    const nc = await next(obs, (m) => m?.type === 'DOWN' && m.ref.equals(ref), 'DOWN for a disconnected node')
    expect(nc.reason).toBe('noconnection')
    link(w, t.pid)
    expect((await next(t, (m) => m?.type === 'EXIT', 'EXIT for a disconnected node')).reason).toBe('noconnection')
  })

  it('a pid kept from before a restart under the same name is dead there: never delivered to the new process with its number', async () => {
    const d = await peer('d')
    const port = Number(d.name.split(':').pop())
    const box = inbox()
    send({ name: 'echo', node: d.name }, { op: 'echo', value: 'first life', from: box.pid })
    const old = (await next(box, (m) => m?.value === 'first life', 'the first echo')).pid as Pid
    d.child.kill('SIGKILL')
    await waitFor('d to be down', () => !nodes().includes(d.name), 5000)
    const again = await startNode({ name: 'd', port, seeds: [node()] })
    expect(again.name).toBe(d.name)
    await waitFor('d to be up again', () => nodes().includes(d.name), 15_000)
    send({ name: 'echo', node: d.name }, { op: 'echo', value: 'second life', from: box.pid })
    const fresh = (await next(box, (m) => m?.value === 'second life', 'the echo after the restart')).pid as Pid
    // The new 'echo' process has the same number (spawned first again), but it is another process.
    expect(fresh.id).toBe(old.id)
    expect(fresh.node).toBe(old.node)
    expect(fresh.equals(old)).toBe(false)
    send(old, { op: 'echo', value: 'to the stale pid', from: box.pid })
    // Frames to one pid keep their order, so the DOWN answers after the send was handled.
    const ref = monitor(old, box.pid)
    const down = await next(box, (m) => m?.type === 'DOWN' && m.ref.equals(ref), 'DOWN for the stale pid')
    expect(down.reason).toBe('noproc')
    send(fresh, { op: 'echo', value: 'fresh again', from: box.pid })
    await next(box, (m) => m?.value === 'fresh again', 'an echo from the new process')
    await sleep(200)
    expect(box.msgs.filter((m) => m?.value === 'to the stale pid')).toEqual([])
  })
})
