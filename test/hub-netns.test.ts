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

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { FAST, type TestNode, attachNode, waitFor } from './cluster-harness.js'
import { type Entry, settled as settle } from './hub-settle.js'

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
  const child: ChildProcess = spawn('ip', ['netns', 'exec', nsOf(i), process.execPath, FIXTURE, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  return attachNode(child, `ns${i}`)
}

/** Every node's registry identical, each child running once among them, registered where it runs, on its owner. */
const settled = (all: TestNode[], ids: string[]): Promise<Entry[]> => settle(all, { ids, onOwner: true, timeout: 30_000 })

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
