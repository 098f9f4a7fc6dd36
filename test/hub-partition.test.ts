// Partition tolerance on real node processes (docs/hub.md, Partitions):
// splits are made with the transport's fault injection (cluster.faults) or
// by SIGKILL, and every check is on what each node really runs and what its
// registry says: the quorum strategies' stop / refuse / restart sequence,
// and the single instance per id (with identical registries) after a heal.
import { fileURLToPath } from 'node:url'

import { Hub, HubRing } from 'ironwood'
import { afterEach, describe, expect, it } from 'vitest'

import { node } from 'ironwood'

import { type TestNode, clusterSuite, forkNode, forkPeer, killAll, waitFor } from './cluster-harness.js'
import { type Entry, settled as settle } from './hub-settle.js'

/** Settled, and each child on its ring owner among `all`. */
const settled = (all: TestNode[], ids: string[], timeout = 30_000): Promise<Entry[]> => settle(all, { ids, onOwner: true, timeout })
const FIXTURE = fileURLToPath(new URL('./fixtures/hub-node.mjs', import.meta.url))
const COOKIE = 'partition-cookie'
const BASE = { id: 'devices', sync: { strategy: 'pubsub', interval: 1000 }, discoverInterval: 1000 }


clusterSuite('ptester', COOKIE)

const spec = (id: string): { id: string; start: [string, unknown[]] } => ({ id, start: ['device', [id]] })
const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `dev:${i}`)

let seq = 0
async function startNodes(count: number, config: Record<string, unknown>, joining: TestNode[] = []): Promise<TestNode[]> {
  const nodes: TestNode[] = []
  for (let i = 0; i < count; i++) nodes.push(await forkPeer(FIXTURE, COOKIE, `p${++seq}`))
  await Promise.all(nodes.map((n) => n.call('startHub', { config: { ...BASE, ...config } })))
  await waitMembers([...joining, ...nodes])
  return nodes
}

/** Waits until every node's hub has exactly these members. */
async function waitMembers(all: TestNode[], timeout = 20_000): Promise<void> {
  const expected = JSON.stringify(all.map((n) => n.name).sort())
  let seen: string[][] = []
  try {
    await waitFor(`hub members ${expected}`, async () => (seen = await Promise.all(all.map((n) => n.call('hubNodes')))).every((s) => JSON.stringify(s) === expected), timeout)
  } catch (error) {
    throw new Error(`${(error as Error).message}; seen: ${JSON.stringify(seen)}`)
  }
}

/** The children really alive on each node. */
const locals = async (all: TestNode[]): Promise<string[][]> => (await Promise.all(all.map((n) => n.call('local')))).map((l: Array<[string, string]>) => l.map(([id]) => id))

type Replicas = Array<[id: string, nodes: Array<[node: string, pid: string]>]>

/**
 * Replication: waits until `all` agree: identical registries, each child's
 * replicas exactly on its `factor` ring owners, each really running there
 * with the registered pid, and no other copy anywhere (one per replica slot).
 */
async function settledReplicas(all: TestNode[], expectIds: string[], factor: number, timeout = 30_000): Promise<void> {
  const ring = new HubRing(all.map((n) => n.name))
  let last = ''
  try {
    await waitFor('the replicated hub to settle', async () => {
      const regs: Replicas[] = await Promise.all(all.map((n) => n.call('replicas')))
      const here: Array<Array<[string, string]>> = await Promise.all(all.map((n) => n.call('local')))
      const norm = (r: Replicas): string => JSON.stringify(r.map(([id, ns]) => [id, [...ns].sort()]))
      if (!regs.every((r) => norm(r) === norm(regs[0]!))) return (last = 'registries differ'), false
      if (JSON.stringify(regs[0]!.map((e) => e[0])) !== JSON.stringify([...expectIds].sort())) return (last = `ids differ (${regs[0]!.length})`), false
      const running = new Map<string, string>()
      here.forEach((list, i) => {
        for (const [id, pid] of list) running.set(`${id} ${all[i]!.name}`, pid)
      })
      let replicas = 0
      for (const [id, nodes] of regs[0]!) {
        const owners = ring.owners(id, factor)
        const on = nodes.map(([n]) => n).sort()
        if (JSON.stringify(on) !== JSON.stringify([...owners].sort())) return (last = `${id} on ${on.join(',')}, owners ${owners.join(',')}`), false
        for (const [n, pid] of nodes) {
          if (running.get(`${id} ${n}`) !== pid) return (last = `${id} on ${n}: registered ${pid}, runs ${running.get(`${id} ${n}`)}`), false
          replicas++
        }
      }
      if (running.size !== replicas) return (last = `${running.size} replicas running, ${replicas} registered`), false
      return true
    }, timeout)
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${last}`)
  }
}

/** Starts `count` children from the first node and waits until `nodes` agree on them; their ids. */
async function startAll(nodes: TestNode[], count = 30): Promise<string[]> {
  const all = ids(count)
  expect((await nodes[0]!.call('start', { specs: all.map(spec) })).status).toBe('ok')
  await settled(nodes, all)
  return all
}

/** Cuts every node of `left` off from every node of `right` (blocking on the left side cuts both directions). */
async function split(left: TestNode[], right: TestNode[]): Promise<void> {
  for (const n of left) await n.call('faultBlock', { nodes: right.map((r) => r.name) })
}
async function heal(left: TestNode[]): Promise<void> {
  for (const n of left) await n.call('faultUnblock', {})
}

async function expectRefused(n: TestNode, id: string): Promise<void> {
  const r = await n.call('startOne', { spec: spec(id) })
  expect(r).toMatchObject({ ok: false, name: 'HubError', code: 'EPARTITIONED' })
}

describe('partition and sync options', () => {
  it('are validated, naming the field', async () => {
    const start = (partition: unknown): Promise<unknown> => Hub.start({ id: 'options-only', partition } as never)
    await expect(start({ strategy: 'static_quorum' })).rejects.toThrow(new TypeError('Hub.start: partition.quorumSize is required'))
    await expect(start({ strategy: 'static_quorum', quorumSize: 0 })).rejects.toThrow(RangeError)
    await expect(start({ strategy: 'static_quorum', quorumSize: 2, startupConfirm: 'yes' })).rejects.toThrow(/partition.startupConfirm must be a boolean/)
    await expect(start({ strategy: 'dynamic_quorum', quorumSize: 150, thresholdTime: 1000 })).rejects.toThrow(/partition.quorumSize \(a percentage\) must be an integer from 1 to 100/)
    await expect(start({ strategy: 'dynamic_quorum', quorumSize: 50 })).rejects.toThrow(new TypeError('Hub.start: partition.thresholdTime is required'))
    await expect(start({ strategy: 'dynamic_quorum', quorumSize: 50, thresholdTime: -1 })).rejects.toThrow(RangeError)
    await expect(start({ strategy: 'majority_quorum', initialClusterSize: 0 })).rejects.toThrow(/partition.initialClusterSize must be an integer from 1/)
    await expect(start({ strategy: 'majority_quorum', trackMaxSize: 1 })).rejects.toThrow(/partition.trackMaxSize must be a boolean/)
    await expect(start({ strategy: 'raft' })).rejects.toThrow(/partition.strategy must be 'divergence' or 'static_quorum'/)
    const sync = (value: unknown): Promise<unknown> => Hub.start({ id: 'options-only', sync: value } as never)
    await expect(sync({ strategy: 'gossip', recipients: 0 })).rejects.toThrow(new RangeError('Hub.start: sync.recipients must be an integer from 1 to 1000, got 0'))
    await expect(sync({ strategy: 'gossip', recipients: '3' })).rejects.toThrow(/sync.recipients must be a number/)
    await expect(sync({ strategy: 'gossip', interval: 0 })).rejects.toThrow(/sync.interval must be an integer from 1/)
    await expect(sync({ strategy: 'rumour' })).rejects.toThrow(/sync.strategy must be 'pubsub' or 'gossip'/)
  })
})

describe('hub partitions on real clusters', { timeout: 120_000 }, () => {
  afterEach(() => killAll())

  it('static_quorum: healthy → partitioned → healthy as nodes leave and return', async () => {
    const config = { partition: { strategy: 'static_quorum', quorumSize: 2 } }
    const [a, b, c] = await startNodes(3, config)
    const all = await startAll([a!, b!, c!])

    b!.child.kill('SIGKILL')
    await waitMembers([a!, c!])
    // Two of three: still quorum, b's children restart on a and c.
    await settled([a!, c!], all)
    expect(await a!.call('isPartitioned')).toBe(false)

    c!.child.kill('SIGKILL')
    await waitFor('a to be partitioned', () => a!.call('isPartitioned'), 20_000)
    await waitFor('a to stop its children', async () => (await a!.call('local')).length === 0, 20_000)
    expect(await a!.call('isLocked')).toBe(true)
    expect(await a!.call('registry')).toEqual([])
    await expectRefused(a!, 'new:1')

    // A node joins: two members again; every child the registry kept runs again, once.
    const [d] = await startNodes(1, config, [a!])
    await waitFor('a to leave the partition', async () => !(await a!.call('isPartitioned')), 20_000)
    await settled([a!, d!], all)
    expect(await a!.call('isLocked')).toBe(false)
    expect((await a!.call('startOne', { spec: spec('new:1') })).ok).toBe(true)
    await settled([a!, d!], [...all, 'new:1'])
  }, 120_000)

  it('majority_quorum: a 3/2 split stops the 2-side (starts refused with EPARTITIONED) while the 3-side runs every child; the heal leaves one of each', async () => {
    const nodes = await startNodes(5, { partition: { strategy: 'majority_quorum' } })
    const all = await startAll(nodes, 50)
    const major = nodes.slice(0, 3)
    const minor = nodes.slice(3)

    await split(minor, major)
    for (const n of minor) await waitFor(`${n.name} to be partitioned`, () => n.call('isPartitioned'), 20_000)
    for (const n of minor) await waitFor(`${n.name} to stop its children`, async () => (await n.call('local')).length === 0, 20_000)
    for (const n of minor) await expectRefused(n, 'new:2')
    await waitMembers(major)
    for (const n of major) expect(await n.call('isPartitioned')).toBe(false)
    // The majority restarted the minority's children: every child runs there, once.
    await settled(major, all)
    expect((await locals(minor)).flat()).toEqual([])

    await heal(minor)
    await waitMembers(nodes)
    for (const n of minor) await waitFor(`${n.name} to leave the partition`, async () => !(await n.call('isPartitioned')), 20_000)
    await settled(nodes, all)
  }, 120_000)

  it('dynamic_quorum: losses within thresholdTime partition the survivor; once they age out of the window it resumes with every child', async () => {
    const [a, b, c] = await startNodes(3, { partition: { strategy: 'dynamic_quorum', quorumSize: 50, thresholdTime: 4000 } })
    const all = await startAll([a!, b!, c!])

    // One loss: 2 of 3 seen (67% ≥ 50%).
    c!.child.kill('SIGKILL')
    await waitMembers([a!, b!])
    expect(await a!.call('isPartitioned')).toBe(false)
    // A second loss inside the window: 1 of 3 (33%): partitioned, children stopped.
    b!.child.kill('SIGKILL')
    await waitFor('a to be partitioned', () => a!.call('isPartitioned'), 20_000)
    await waitFor('a to stop its children', async () => (await a!.call('local')).length === 0, 20_000)
    await expectRefused(a!, 'new:3')
    // The losses age out of the 4 s window: 1 of 1; a runs every child again.
    await waitFor('a to resume', async () => !(await a!.call('isPartitioned')), 30_000)
    await settled([a!], all)
  }, 120_000)

  it('divergence: both sides of a split keep running; after the heal each child runs once, on its owner, and every registry is identical', async () => {
    const nodes = await startNodes(3, {})
    const all = ids(60)
    expect((await nodes[0]!.call('start', { specs: all.map(spec) })).status).toBe('ok')
    await settled(nodes, all)
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]

    await split([c], [a, b])
    await waitMembers([a, b])
    await waitMembers([c])
    // Each side runs every child (that is the divergence).
    await settled([a, b], all)
    await settled([c], all)
    expect(await c.call('isPartitioned')).toBe(false)

    await heal([c])
    await waitMembers(nodes)
    await settled(nodes, all)
  }, 120_000)

  it('a split that outlasts the transport\'s reconnection still heals: the hub re-dials the members it lost', async () => {
    // reconnectFor 300 ms: the transport gives up on the lost peers long before the split ends.
    const nodes: TestNode[] = []
    for (let i = 0; i < 3; i++) nodes.push(await forkNode(FIXTURE, { name: `p${++seq}`, cookie: COOKIE, seeds: [node()], reconnectFor: 300 }))
    await Promise.all(nodes.map((n) => n.call('startHub', { config: { ...BASE } })))
    await waitMembers(nodes)
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    const all = ids(30)
    expect((await a.call('start', { specs: all.map(spec) })).status).toBe('ok')
    await settled(nodes, all)

    await split([c], [a, b])
    await waitMembers([c])
    await waitMembers([a, b])
    // Past every dial the transport started (each may wait up to its 5 s handshake timeout).
    await new Promise((r) => setTimeout(r, 7000))
    // Traffic flows again, but nobody dials at once: only the hubs' periodic re-dial (discoverInterval 1 s) reconnects.
    await c.call('faultUnblock', { redial: false })
    await waitMembers(nodes, 30_000)
    await settled(nodes, all)
  }, 120_000)

  it('gossip sync: a node that loses every pushed update still converges, from versioned gossip alone, and stale lists never bring stopped children back', async () => {
    const nodes = await startNodes(4, { sync: { strategy: 'gossip', interval: 300, recipients: 1 } })
    const d = nodes[3]!
    await d.call('deafToUpdates')
    const all = ids(40)
    expect((await nodes[0]!.call('start', { specs: all.map(spec) })).status).toBe('ok')
    const stopped = all.slice(0, 15)
    // The stop is routed by nodes[1]'s registry, which hears of the starts a moment later.
    await waitFor('nodes[1] to know every child', async () => (await nodes[1]!.call('registry')).length === all.length, 20_000)
    expect((await nodes[1]!.call('stop', { ids: stopped })).status).toBe('ok')
    const left = all.slice(15)
    // Without gossip d would keep what it heard at start (nothing of these).
    const agreed = await settled(nodes, left)
    // And it stays converged: relayed lists older than what d has are ignored.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 200))
      expect(await d.call('registry')).toEqual(agreed)
    }
  }, 120_000)

  it('replication under majority_quorum: after a 3/2 split the 3-side holds every replica slot; after the heal each slot is filled once, on the owners', async () => {
    const redundancy = { strategy: 'replication', factor: 2, mode: 'active_active' }
    const nodes = await startNodes(5, { partition: { strategy: 'majority_quorum' }, redundancy })
    const all = ids(40)
    expect((await nodes[0]!.call('start', { specs: all.map(spec) })).status).toBe('ok')
    await settledReplicas(nodes, all, 2)
    const major = nodes.slice(0, 3)
    const minor = nodes.slice(3)
    await split(minor, major)
    for (const n of minor) await waitFor(`${n.name} to stop its replicas`, async () => (await n.call('isPartitioned')) && (await n.call('local')).length === 0, 20_000)
    await waitMembers(major)
    await settledReplicas(major, all, 2)
    await heal(minor)
    await waitMembers(nodes)
    await settledReplicas(nodes, all, 2)
  }, 120_000)

  it('replication under divergence: both sides fill every slot while split; after the heal each slot runs once, on its owners', async () => {
    const redundancy = { strategy: 'replication', factor: 2, mode: 'active_active' }
    const nodes = await startNodes(3, { redundancy })
    const all = ids(40)
    expect((await nodes[0]!.call('start', { specs: all.map(spec) })).status).toBe('ok')
    await settledReplicas(nodes, all, 2)
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    await split([c], [a, b])
    await waitMembers([a, b])
    await waitMembers([c])
    await settledReplicas([a, b], all, 2)
    await heal([c])
    await waitMembers(nodes)
    await settledReplicas(nodes, all, 2)
  }, 120_000)

  it('replication under static_quorum: a survivor below quorum stops every replica; when quorum returns every slot runs again, once', async () => {
    const config = { partition: { strategy: 'static_quorum', quorumSize: 2 }, redundancy: { strategy: 'replication', factor: 2, mode: 'active_active' } }
    const [a, b] = await startNodes(2, config)
    const all = ids(30)
    expect((await a!.call('start', { specs: all.map(spec) })).status).toBe('ok')
    await settledReplicas([a!, b!], all, 2)
    b!.child.kill('SIGKILL')
    await waitFor('a to stop every replica', async () => (await a!.call('isPartitioned')) && (await a!.call('local')).length === 0, 20_000)
    const [c] = await startNodes(1, config, [a!])
    await waitFor('a to leave the partition', async () => !(await a!.call('isPartitioned')), 20_000)
    await settledReplicas([a!, c!], all, 2)
  }, 120_000)

  it('a partial partition: a node below quorum that another member still sees is taken out of every ring, so no child waits on it', async () => {
    const nodes = await startNodes(5, { partition: { strategy: 'majority_quorum' } })
    const all = await startAll(nodes, 50)
    const [n1, n2, n3, n4, n5] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode]
    // n5 loses n1..n3 but still sees n4: 2 of 5, below quorum; n4 sees everyone.
    await split([n5], [n1, n2, n3])
    await waitFor('n5 to be partitioned', () => n5.call('isPartitioned'), 20_000)
    await waitFor('n5 to stop its children', async () => (await n5.call('local')).length === 0, 20_000)
    // Every ring, n4's included, is n1..n4: every child runs there, once.
    await waitMembers([n1, n2, n3, n4])
    await settled([n1, n2, n3, n4], all)
    expect(await n4.call('isPartitioned')).toBe(false)
    await heal([n5])
    await waitMembers(nodes)
    await settled(nodes, all)
  }, 120_000)

  it('no child is lost when a partitioned node leaves gracefully: the remaining members keep every child and run it when quorum returns', async () => {
    const config = { partition: { strategy: 'static_quorum', quorumSize: 3 } }
    const [a, b, c] = await startNodes(3, config)
    const all = await startAll([a!, b!, c!])
    c!.child.kill('SIGKILL')
    for (const n of [a!, b!]) await waitFor(`${n.name} to stop its children`, async () => (await n.call('isPartitioned')) && (await n.call('local')).length === 0, 20_000)
    // a leaves while partitioned: b (which took a out of its ring when a said it was partitioned, keeping its children) is the only one left.
    await a!.call('stopHub')
    a!.child.kill('SIGKILL')
    const [d, e] = await startNodes(2, config, [b!])
    await waitFor('b to leave the partition', async () => !(await b!.call('isPartitioned')), 20_000)
    await settled([b!, d!, e!], all)
  }, 120_000)

  it('majority_quorum after an intentional downsize: resetQuorum makes the survivor the new normal, and it runs every child again', async () => {
    const [a, b, c] = await startNodes(3, { partition: { strategy: 'majority_quorum' } })
    const all = ids(20)
    expect((await a!.call('start', { specs: all.map(spec) })).status).toBe('ok')
    await settled([a!, b!, c!], all)
    b!.child.kill('SIGKILL')
    c!.child.kill('SIGKILL')
    await waitFor('a to stop its children', async () => (await a!.call('isPartitioned')) && (await a!.call('local')).length === 0, 20_000)
    // 1 of the 3 it remembers: still partitioned until the operator says the downsize was intended.
    expect(await a!.call('resetQuorum')).toBe(false)
    await waitFor('a to resume', async () => !(await a!.call('isPartitioned')), 20_000)
    await settled([a!], all)
  }, 120_000)

  it('a child stopped on purpose by the majority during a split stays stopped when the minority regains quorum (tombstones)', async () => {
    const [a, b, c] = await startNodes(3, { partition: { strategy: 'static_quorum', quorumSize: 2 } })
    const all = await startAll([a!, b!, c!])
    const onC = (await c!.call('local')).map(([id]: [string]) => id)
    expect(onC.length).toBeGreaterThan(1)
    await split([c!], [a!, b!])
    await waitFor('c to stop its children', async () => (await c!.call('isPartitioned')) && (await c!.call('local')).length === 0, 20_000)
    await waitMembers([a!, b!])
    await settled([a!, b!], all)
    // Stopped on purpose while c keeps their specs.
    const gone = onC.slice(0, Math.ceil(onC.length / 2))
    expect((await a!.call('stop', { ids: gone })).status).toBe('ok')
    const left = all.filter((id) => !gone.includes(id))
    await settled([a!, b!], left)
    await heal([c!])
    await waitMembers([a!, b!, c!])
    await waitFor('c to leave the partition', async () => !(await c!.call('isPartitioned')), 20_000)
    await settled([a!, b!, c!], left)
    // And they stay stopped.
    await new Promise((r) => setTimeout(r, 1500))
    await settled([a!, b!, c!], left)
  }, 120_000)

  it('a recovering node learns tombstones from whichever member it hears from: one that regains quorum through a member that did not stop the children keeps them stopped', async () => {
    const [a, b, c] = await startNodes(3, { partition: { strategy: 'static_quorum', quorumSize: 2 } })
    const all = await startAll([a!, b!, c!])
    const onC = (await c!.call('local')).map(([id]: [string]) => id)
    await split([c!], [a!, b!])
    await waitFor('c to stop its children', async () => (await c!.call('isPartitioned')) && (await c!.call('local')).length === 0, 20_000)
    await waitMembers([a!, b!])
    await settled([a!, b!], all)
    // Stopped on purpose by b: only b stopped them (c keeps their specs).
    const where = new Map((await a!.call('registry')).map(([id, n]: [string, string]) => [id, n]))
    const gone = onC.filter((id: string) => where.get(id) === b!.name)
    expect(gone.length).toBeGreaterThan(0)
    expect((await b!.call('stop', { ids: gone })).status).toBe('ok')
    const left = all.filter((id) => !gone.includes(id))
    await settled([a!, b!], left)
    // c regains quorum through a alone; it still cannot reach b.
    await c!.call('faultUnblock', { nodes: [a!.name] })
    await waitFor('c to leave the partition', async () => !(await c!.call('isPartitioned')), 20_000)
    // Past c's bounded wait for b's list: whatever c restarts, it has restarted.
    await new Promise((r) => setTimeout(r, 2500))
    const running = (await locals([a!, b!, c!])).flat()
    for (const id of gone) expect(running).not.toContain(id)
    await c!.call('faultUnblock', {})
    await waitMembers([a!, b!, c!])
    await settled([a!, b!, c!], left)
  }, 120_000)
})
