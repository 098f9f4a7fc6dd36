// The same split as test/hub-partition.test.ts, made by the kernel instead of
// the transport's fault injection: each node runs in its own Linux network
// namespace with its own address (10.77.0.x, which exists only inside the
// namespaces this test creates), joined through a bridge namespace by veth
// pairs, and a split is a veth link taken down. Needs root (CAP_NET_ADMIN to
// create namespaces); without it the test is skipped and says so. Nothing is
// ever sent to those addresses from the root namespace: the nodes are driven
// over IPC only.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { HubRing } from 'ironwood'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { FAST, type NodeEventMsg, type TestNode, track, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/hub-node.mjs', import.meta.url))
const COOKIE = 'netns-cookie'
const CONFIG = { id: 'devices', sync: { strategy: 'pubsub', interval: 1000 }, discoverInterval: 1000, partition: { strategy: 'static_quorum', quorumSize: 2 } }

/** Whether this process may create network namespaces (root with the ip tool). */
function canUseNetns(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const root = canUseNetns()
if (!root) console.warn('test/hub-netns.test.ts: SKIPPED: needs root and iproute2 to create network namespaces (run as root to include it)')

// Short, unique names (interface names are limited to 15 characters).
const tag = `iw${process.pid % 100000}`
const BRIDGE_NS = `${tag}br`
const nsOf = (i: number): string => `${tag}n${i}`
const hostOf = (i: number): string => `10.77.0.${i + 1}`
const created: string[] = []

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

/** A bridge namespace and `count` node namespaces, each linked to the bridge by a veth pair. */
function buildNetwork(count: number): void {
  ip('netns', 'add', BRIDGE_NS)
  created.push(BRIDGE_NS)
  ip('-n', BRIDGE_NS, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', BRIDGE_NS, 'link', 'set', 'br0', 'up')
  for (let i = 0; i < count; i++) {
    const ns = nsOf(i)
    ip('netns', 'add', ns)
    created.push(ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    // eth0 inside the node's namespace, its peer on the bridge.
    ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${i}`, 'netns', BRIDGE_NS)
    ip('-n', ns, 'addr', 'add', `${hostOf(i)}/24`, 'dev', 'eth0')
    ip('-n', ns, 'link', 'set', 'eth0', 'up')
    ip('-n', BRIDGE_NS, 'link', 'set', `v${i}`, 'master', 'br0')
    ip('-n', BRIDGE_NS, 'link', 'set', `v${i}`, 'up')
  }
}

function teardown(): void {
  for (const ns of created.splice(0).reverse()) {
    try {
      ip('netns', 'del', ns)
    } catch {
      // already gone
    }
  }
}

/** Node `i` in its namespace (`ip netns exec` keeps the IPC channel: it execs node with the same fds). */
function startIn(i: number, seeds: string[]): Promise<TestNode> {
  const options = { ...FAST, name: `ns${i}`, cookie: COOKIE, host: hostOf(i), seeds }
  const child: ChildProcess = track(spawn('ip', ['netns', 'exec', nsOf(i), process.execPath, FIXTURE, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }))
  const events: NodeEventMsg[] = []
  const logs: string[] = []
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 1
  const call = (cmd: string, args: Record<string, unknown> = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ ...args, id, cmd })
    })
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => reject(new Error(`ns${i} exited (${code ?? signal}) before starting`)))
    child.on('message', (m: any) => {
      if (m.type === 'started') resolve({ child, name: m.name, events, logs, call })
      else if (m.type === 'start-error') reject(new Error(m.error))
      else if (m.type === 'log') logs.push(m.message)
      else if (m.type === 'reply') {
        const p = pending.get(m.id)
        pending.delete(m.id)
        if (m.error !== undefined) p?.reject(new Error(m.error))
        else p?.resolve(m.value)
      }
    })
  })
}

type Entry = [id: string, node: string, pid: string]

/** Every node's registry identical, each child running once among them, registered where it runs, on its owner. */
async function settled(all: TestNode[], expectIds: string[]): Promise<void> {
  const ring = new HubRing(all.map((n) => n.name))
  let last = ''
  try {
    await waitFor('the hub to settle', async () => {
      const regs: Entry[][] = await Promise.all(all.map((n) => n.call('registry')))
      const here: Array<Array<[string, string]>> = await Promise.all(all.map((n) => n.call('local')))
      if (!regs.every((r) => JSON.stringify(r) === JSON.stringify(regs[0]))) return (last = 'registries differ'), false
      const running = new Map<string, string>()
      for (const [i, list] of here.entries()) {
        for (const [id, pid] of list) {
          if (running.has(id)) return (last = `${id} runs twice`), false
          running.set(id, `${all[i]!.name} ${pid}`)
        }
      }
      if (JSON.stringify(regs[0]!.map((e) => e[0])) !== JSON.stringify([...expectIds].sort())) return (last = `ids differ (${regs[0]!.length})`), false
      for (const [id, node, pid] of regs[0]!) {
        if (running.get(id) !== `${node} ${pid}` || ring.owner(id) !== node) return (last = `${id} misplaced`), false
      }
      return true
    }, 30_000)
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${last}`)
  }
}

const ids = Array.from({ length: 30 }, (_, i) => `dev:${i}`)

describe('a partition made with network namespaces and veth pairs', { timeout: 120_000 }, () => {
  const nodes: TestNode[] = []

  beforeAll(async () => {
    if (!root) return
    buildNetwork(3)
    nodes.push(await startIn(0, []))
    nodes.push(await startIn(1, [nodes[0]!.name]))
    nodes.push(await startIn(2, [nodes[0]!.name]))
  }, 60_000)

  afterAll(() => {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL')
    teardown()
  })

  it.skipIf(!root)('static_quorum over real links: the cut-off node stops its children and refuses starts; the other two keep all; link up → one of each everywhere', async () => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    expect(c.name).toMatch(/^ns2@10\.77\.0\.3:\d+$/)
    await waitFor('a full mesh', async () => (await Promise.all(nodes.map((n) => n.call('nodes')))).every((l: string[]) => l.length === 2), 20_000)
    await Promise.all(nodes.map((n) => n.call('startHub', { config: CONFIG })))
    await waitFor('three members', async () => (await Promise.all(nodes.map((n) => n.call('hubNodes')))).every((l: string[]) => l.length === 3), 20_000)
    expect((await a.call('start', { specs: ids.map((id) => ({ id, start: ['device', [id]] })) })).status).toBe('ok')
    await settled(nodes, ids)

    // Pull c's cable: its veth on the bridge goes down.
    ip('-n', BRIDGE_NS, 'link', 'set', 'v2', 'down')
    await waitFor('c to be partitioned', () => c.call('isPartitioned'), 20_000)
    await waitFor('c to stop its children', async () => (await c.call('local')).length === 0, 20_000)
    expect(await c.call('startOne', { spec: { id: 'new:1', start: ['device', []] } })).toMatchObject({ ok: false, code: 'EPARTITIONED' })
    await waitFor('a and b to drop c', async () => (await Promise.all([a, b].map((n) => n.call('hubNodes')))).every((l: string[]) => l.length === 2), 20_000)
    await settled([a, b], ids)

    // Plug it back: the transport reconnects, c regains quorum, one of each everywhere.
    ip('-n', BRIDGE_NS, 'link', 'set', 'v2', 'up')
    await waitFor('three members again', async () => (await Promise.all(nodes.map((n) => n.call('hubNodes')))).every((l: string[]) => l.length === 3), 40_000)
    await waitFor('c to leave the partition', async () => !(await c.call('isPartitioned')), 20_000)
    await settled(nodes, ids)
  }, 120_000)
})
