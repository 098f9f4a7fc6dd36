// The hub across real node processes: placement, routing, duplicates,
// restarts, a join, and a SIGKILL, each checked against the ring's answer
// and against every node's registry.
import { fileURLToPath } from 'node:url'

import { HubRing } from 'ironwood'
import { beforeAll, describe, expect, it } from 'vitest'

import { type TestNode, clusterSuite, forkPeer, waitFor } from './cluster-harness.js'
import { type Entry, settled as settle } from './hub-settle.js'

const settled = (all: TestNode[], ids?: string[], timeout = 15_000): Promise<Entry[]> => settle(all, { ids, timeout })
const FIXTURE = fileURLToPath(new URL('./fixtures/hub-node.mjs', import.meta.url))
const COOKIE = 'hub-cookie'
const CONFIG = { id: 'devices', sync: { strategy: 'pubsub', interval: 1000 }, discoverInterval: 1000 }
const N = 300


const logs: string[] = []
clusterSuite('tester', COOKIE, (m) => logs.push(m))

const spec = (id: string, arg: unknown = null): { id: string; start: [string, unknown[]] } => ({ id, start: ['device', [arg]] })
const ids = (n: number, prefix = 'device'): string[] => Array.from({ length: n }, (_, i) => `${prefix}:${i}`)

async function startNode(name: string): Promise<TestNode> {
  const n = await forkPeer(FIXTURE, COOKIE, name)
  await n.call('startHub', { config: CONFIG })
  return n
}

/** Waits until every node's hub has exactly `members` as its members. */
async function waitMembers(all: TestNode[], what: string): Promise<void> {
  const expected = all.map((n) => n.name).sort()
  await waitFor(what, async () => {
    const seen = await Promise.all(all.map((n) => n.call('hubNodes')))
    return seen.every((s: string[]) => JSON.stringify(s) === JSON.stringify(expected))
  }, 20_000)
}

describe('the hub on a real 3-node cluster', { timeout: 60_000 }, () => {
  let a: TestNode
  let b: TestNode
  let c: TestNode
  const all = (): TestNode[] => [a, b, c]

  beforeAll(async () => {
    ;[a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')])
    await waitMembers(all(), 'three hub members')
  }, 60_000)

  it('places children deterministically (the ring owner) and in balance, from any node', async () => {
    const r = await a.call('start', { specs: ids(N).map((id) => spec(id)) })
    expect(r.status).toBe('ok')
    expect(r.errors).toEqual([])
    expect(r.started).toHaveLength(N)
    const reg = await settled(all(), ids(N))
    const ring = new HubRing(all().map((n) => n.name))
    const perNode = new Map<string, number>()
    for (const [id, node] of reg) {
      expect(node).toBe(ring.owner(id))
      perNode.set(node, (perNode.get(node) ?? 0) + 1)
    }
    // Each node runs about a third (100 ± 40 of 300).
    for (const n of all()) expect(Math.abs((perNode.get(n.name) ?? 0) - N / 3)).toBeLessThan(40)
    // Any node finds any child and reaches it.
    const id = ids(N)[7]!
    expect(await b.call('call', { child: id, req: 'where' })).toBe(ring.owner(id))
  })

  it('starts on the owner when asked from a non-owner, and refuses a duplicate from a third node with its location', async () => {
    const ring = new HubRing(all().map((n) => n.name))
    const id = ids(50, 'routed').find((x) => ring.owner(x) === c.name)!
    const r = await a.call('startOne', { spec: spec(id, 'hello') })
    expect(r.ok).toBe(true)
    expect(r.value.nodes[0].node).toBe(c.name)
    await waitFor('b to know the child', async () => (await b.call('whereIs', { child: id })) === r.value.nodes[0].pid)
    expect(await b.call('call', { child: id, req: 'arg' })).toBe('hello')
    const dup = await b.call('startOne', { spec: spec(id) })
    expect(dup).toMatchObject({ ok: false, code: 'EALREADYSTARTED', node: c.name, pid: r.value.nodes[0].pid })
    // Even unchecked, the owner refuses a second copy.
    const unchecked = await b.call('startOne', { spec: spec(id), opts: { checkExisting: false } })
    expect(unchecked).toMatchObject({ ok: false, code: 'EALREADYSTARTED' })
    // Stop from a node that does not run it.
    const stopped = await a.call('stop', { ids: [id] })
    expect(stopped).toMatchObject({ status: 'ok', stopped: [{ id, nodes: [{ node: c.name }] }], errors: [] })
    await settled(all(), ids(N))
  })

  it('rolls back a batch across nodes when one child fails', async () => {
    const batch = [...ids(6, 'rb').map((id) => spec(id)), spec('rb:bad', { fail: true })]
    const r = await b.call('start', { specs: batch, opts: { onFailure: 'rollback' } })
    expect(r).toMatchObject({ status: 'error', started: [], rollback: true })
    expect(r.errors).toEqual([{ id: 'rb:bad', node: new HubRing(all().map((n) => n.name)).owner('rb:bad'), reason: expect.stringMatching(/device refused/) }])
    await settled(all(), ids(N))
  })

  it('restarts a crashed child on the same node and every registry gets the new pid', async () => {
    const id = ids(N)[11]!
    const where = new HubRing(all().map((n) => n.name)).owner(id)!
    const owner = all().find((n) => n.name === where)!
    const before = await a.call('whereIs', { child: id })
    await owner.call('kill', { child: id })
    await waitFor('the new pid everywhere', async () => {
      const seen = await Promise.all(all().map((n) => n.call('whereIs', { child: id })))
      return seen.every((p) => p !== null && p !== before && p === seen[0])
    })
    const hooks = await owner.call('hooks')
    expect(hooks.some((h: any) => h.hook === 'childPidUpdate' && h.payload.id === id && h.payload.node === where)).toBe(true)
    await settled(all(), ids(N))
  })

  it('a joining node takes over exactly the children it now owns; the rest keep their pids', async () => {
    const before = await settled(all(), ids(N))
    for (const n of all()) await n.call('hooks') // clear
    const d = await startNode('d')
    const four = [...all(), d]
    await waitMembers(four, 'four hub members')
    const after = await settled(four, ids(N))
    const ring = new HubRing(four.map((n) => n.name))
    const was = new Map(before.map(([id, node, pid]) => [id, { node, pid }]))
    let moved = 0
    for (const [id, node, pid] of after) {
      expect(node).toBe(ring.owner(id))
      if (node === d.name) moved++
      else expect(pid).toBe(was.get(id)!.pid) // not re-owned: never restarted
    }
    // ≈ 1/4 of the children moved, all of them to d.
    expect(moved).toBeGreaterThan(N * 0.12)
    expect(moved).toBeLessThan(N * 0.38)
    const aHooks = (await a.call('hooks')).map((h: any) => h.hook)
    for (const h of ['preClusterJoin', 'postClusterJoin', 'preRedistribution', 'postRedistribution', 'lockChanged']) expect(aHooks).toContain(h)
    const dHooks = await d.call('hooks')
    expect(dHooks.filter((h: any) => h.hook === 'childrenMigrated').flatMap((h: any) => h.payload.ids).length).toBe(moved)

    // SIGKILL d: its children restart on their owners among a, b, c.
    d.child.kill('SIGKILL')
    const afterKill = await settled(all(), ids(N))
    const ring3 = new HubRing(all().map((n) => n.name))
    for (const [id, node] of afterKill) expect(node).toBe(ring3.owner(id))
    await waitMembers(all(), 'three members after the kill')
  }, 60_000)

  it('a node that does not answer in time is an error entry per child, not a hang', async () => {
    const ring = new HubRing(all().map((n) => n.name))
    const late = ids(50, 'late').filter((x) => ring.owner(x) === b.name).slice(0, 3)
    const onA = ids(50, 'prompt').find((x) => ring.owner(x) === a.name)!
    await b.call('freeze', { ms: 1500 })
    const r = await a.call('start', { specs: [...late, onA].map((id) => spec(id)), opts: { timeout: 300 } })
    expect(r.status).toBe('error')
    expect(r.started.map((s: any) => s.id)).toEqual([onA])
    expect(r.errors).toEqual(late.map((id) => ({ id, node: b.name, reason: 'timeout' })))
    // b starts them once it runs again (a timeout does not cancel); stop them all.
    await waitFor('the late starts to be registered', async () => (await a.call('registry')).filter((e: Entry) => late.includes(e[0])).length === late.length)
    expect((await a.call('stop', { ids: [...late, onA] })).errors).toEqual([])
    await settled(all(), ids(N))
  })

  it('a graceful leave (hub.stop) hands its children to their new owners', async () => {
    const e = await startNode('e')
    const four = [...all(), e]
    await waitMembers(four, 'four members with e')
    const withE = await settled(four, ids(N))
    const onE = withE.filter(([, node]) => node === e.name).map(([id]) => id)
    expect(onE.length).toBeGreaterThan(0)
    for (const n of all()) await n.call('hooks') // clear
    expect(await e.call('stopHub')).toBe(true)
    await waitMembers(all(), 'three members after the leave')
    const after = await settled(all(), ids(N))
    const ring = new HubRing(all().map((n) => n.name))
    for (const [id, node] of after) expect(node).toBe(ring.owner(id))
    const migrated = (await Promise.all(all().map((n) => n.call('hooks'))))
      .flat()
      .filter((h: any) => h.hook === 'childrenMigrated' && h.payload.node === e.name)
      .flatMap((h: any) => h.payload.ids)
    expect(migrated.sort()).toEqual(onE.sort())
    e.child.kill('SIGKILL')
  }, 60_000)

  it('after two nodes lose each other and reconnect, every child that ran on both sides keeps exactly one instance', async () => {
    await settled(all(), ids(N))
    for (const n of all()) await n.call('hooks') // clear
    expect(await b.call('disconnect', { target: c.name })).toBe(true)
    // Each side sees the other leave and restarts the children it now owns: duplicates for a while.
    await waitFor('b to see c leave', async () => (await b.call('hooks')).some((h: any) => h.hook === 'postClusterLeave' && h.payload.node === c.name))
    await waitFor('b and c to be connected again', async () => (await b.call('connect', { target: c.name })) === true)
    await waitMembers(all(), 'three members again')
    const after = await settled(all(), ids(N), 30_000)
    const ring = new HubRing(all().map((n) => n.name))
    for (const [id, node] of after) expect(node).toBe(ring.owner(id))
  }, 60_000)

  it('SIGKILL of an original node restarts all its children elsewhere and registries converge', async () => {
    const before = await settled(all(), ids(N))
    const lost = before.filter(([, node]) => node === c.name).map(([id]) => id)
    expect(lost.length).toBeGreaterThan(0)
    c.child.kill('SIGKILL')
    const rest = [a, b]
    const after = await settled(rest, ids(N))
    const ring = new HubRing(rest.map((n) => n.name))
    for (const [id, node] of after) expect(node).toBe(ring.owner(id))
    // The leave hooks run when b's hub handles the nodedown, which may come
    // after the registries already agree (a's redistribution can reach b
    // first): collect them until both have run.
    const bHooks: string[] = []
    await waitFor('b to run its cluster-leave hooks for c', async () => {
      bHooks.push(...(await b.call('hooks')).filter((h: any) => h.payload?.node === c.name).map((h: any) => h.hook))
      return bHooks.includes('preClusterLeave') && bHooks.includes('postClusterLeave')
    })
    expect(await a.call('isLocked')).toBe(false)
  }, 60_000)
})
