// Replication in the hub across real node processes: each child runs on the
// ring's `factor` best nodes, exactly one replica is active (active_passive)
// after any sequence of joins and SIGKILLs, and a lost node's replicas are
// restored on the new owner set (only the missing slots start).
import { fileURLToPath } from 'node:url'

import { Hub, HubRing, node, nodes } from 'ironwood'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { type TestNode, clusterSuite, forkNode, forkPeer, killAll, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/hub-node.mjs', import.meta.url))
const COOKIE = 'hubrep-cookie'
const FACTOR = 2
const CONFIG = {
  id: 'replicated',
  redundancy: { strategy: 'replication', factor: FACTOR, mode: 'active_passive' },
  sync: { strategy: 'pubsub', interval: 1000 },
  discoverInterval: 1000,
}
const N = 60

type Replicas = Array<[id: string, nodes: Array<[node: string, pid: string]>]>
type CounterRow = [id: string, pid: string, value: number, mode: 'active' | 'passive' | null, handed: boolean, pad: number, signals: Array<'active' | 'passive'>]

clusterSuite('tester', COOKIE)

const spec = (id: string): { id: string; start: [string, unknown[]] } => ({ id, start: ['counter', [null]] })
const ids = (n: number, prefix = 'meter'): string[] => Array.from({ length: n }, (_, i) => `${prefix}:${i}`)

async function startNode(name: string, config: Record<string, unknown> = CONFIG): Promise<TestNode> {
  const n = await forkPeer(FIXTURE, COOKIE, name)
  await n.call('startHub', { config })
  return n
}

/**
 * Waits until the hub has settled on `live`: every registry identical, each
 * child's replicas exactly on the ring's FACTOR owners (of the live members)
 * and really running there with the registered pid, and exactly one replica
 * told 'active' — the one on the best owner. Returns the agreed registry.
 */
async function settled(
  live: TestNode[],
  expectIds: string[],
  timeout = 30_000,
  shape: { factor: number; allActive: boolean; modes?: boolean } = { factor: FACTOR, allActive: false },
): Promise<Replicas> {
  const ring = new HubRing(live.map((n) => n.name))
  let last = ''
  let agreed: Replicas = []
  try {
    await waitFor(
      'the replicated hub to settle',
      async () => {
        const regs: Replicas[] = await Promise.all(live.map((n) => n.call('replicas')))
        const rows: CounterRow[][] = await Promise.all(live.map((n) => n.call('counters')))
        const first = JSON.stringify(regs[0]!.map(([id, ns]) => [id, [...ns].sort()]))
        if (!regs.every((r) => JSON.stringify(r.map(([id, ns]) => [id, [...ns].sort()])) === first)) return (last = 'registries differ'), false
        if (JSON.stringify(regs[0]!.map((e) => e[0])) !== JSON.stringify([...expectIds].sort())) return (last = `ids differ (${regs[0]!.length} vs ${expectIds.length})`), false
        const running = new Map<string, string>() // `${id} ${node}` -> `${pid} ${mode}`
        rows.forEach((list, i) => {
          for (const [id, pid, , mode] of list) running.set(`${id} ${live[i]!.name}`, `${pid} ${mode}`)
        })
        let replicas = 0
        for (const [id, nodes] of regs[0]!) {
          const owners = ring.owners(id, shape.factor)
          const on = nodes.map(([n]) => n).sort()
          if (JSON.stringify(on) !== JSON.stringify([...owners].sort())) return (last = `${id} on ${on.join(',')}, owners ${owners.join(',')}`), false
          for (const [n, pid] of nodes) {
            const mode = shape.allActive || n === owners[0] ? 'active' : 'passive'
            // `modes: false`: not every replica is told its role (redundancySignal), so only the pid is checked.
            const runs = shape.modes === false ? running.get(`${id} ${n}`)?.split(' ')[0] : running.get(`${id} ${n}`)
            if (runs !== (shape.modes === false ? pid : `${pid} ${mode}`)) return (last = `${id} on ${n}: registered ${pid} ${mode}, runs ${running.get(`${id} ${n}`)}`), false
            replicas++
          }
        }
        if (running.size !== replicas) return (last = `${running.size} replicas running, ${replicas} registered`), false
        agreed = regs[0]!
        return true
      },
      timeout,
    )
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${last}`)
  }
  return agreed
}

/** Counts the replicas told 'active' per child across `live` (must be exactly one each). */
async function activeCounts(live: TestNode[]): Promise<Map<string, number>> {
  const rows: CounterRow[][] = await Promise.all(live.map((n) => n.call('counters')))
  const count = new Map<string, number>()
  for (const list of rows) for (const [id, , , mode] of list) count.set(id, (count.get(id) ?? 0) + (mode === 'active' ? 1 : 0))
  return count
}

describe('replication: bad options', () => {
  it('refuses a bad factor, mode or signal with a TypeError naming the field', async () => {
    const bad = async (redundancy: unknown): Promise<unknown> => Hub.start({ id: 'bad', redundancy } as never).then(
      () => 'started',
      (e: unknown) => e,
    )
    for (const factor of [0, -1, 1.5, '2', null, 'all']) {
      const e = await bad({ strategy: 'replication', factor })
      expect(e).toBeInstanceOf(TypeError)
      expect((e as Error).message).toMatch(/redundancy\.factor/)
    }
    const mode = await bad({ strategy: 'replication', factor: 2, mode: 'primary' })
    expect(mode).toBeInstanceOf(TypeError)
    expect((mode as Error).message).toMatch(/redundancy\.mode/)
    const signal = await bad({ strategy: 'replication', mode: 'active_passive', redundancySignal: 'some' })
    expect(signal).toBeInstanceOf(TypeError)
    expect((signal as Error).message).toMatch(/redundancy\.redundancySignal/)
    const strategy = await bad({ strategy: 'mirrored' })
    expect(strategy).toBeInstanceOf(TypeError)
    expect((strategy as Error).message).toMatch(/redundancy\.strategy/)
  })

  it('refuses bad hot-swap options: handover a TypeError, retention a RangeError, each naming the field', async () => {
    const bad = async (migration: unknown): Promise<unknown> => Hub.start({ id: 'bad', migration } as never).then(
      () => 'started',
      (e: unknown) => e,
    )
    const handover = await bad({ strategy: 'hot_swap', handover: 'yes' })
    expect(handover).toBeInstanceOf(TypeError)
    expect((handover as Error).message).toMatch(/migration\.handover/)
    const retention = await bad({ strategy: 'hot_swap', retention: -1 })
    expect(retention).toBeInstanceOf(RangeError)
    expect((retention as Error).message).toMatch(/migration\.retention/)
    const strategy = await bad({ strategy: 'warm_swap' })
    expect(strategy).toBeInstanceOf(TypeError)
    expect((strategy as Error).message).toMatch(/migration\.strategy/)
  })
})

describe('replication (factor 2, active_passive) on a real cluster', { timeout: 120_000 }, () => {
  let a: TestNode
  let b: TestNode
  let c: TestNode

  beforeAll(async () => {
    ;[a, b, c] = await Promise.all([startNode('a'), startNode('b'), startNode('c')])
    await waitFor('three hub members', async () => (await Promise.all([a, b, c].map((n) => n.call('hubNodes')))).every((m: string[]) => m.length === 3), 20_000)
  }, 60_000)

  // The next suite forms its own hub of three.
  afterAll(() => killAll())

  it("places every child's replicas on the ring's 2 owners, with exactly one active (the best owner's)", async () => {
    const r = await b.call('start', { specs: ids(N).map(spec) })
    expect(r.status).toBe('ok')
    expect(r.errors).toEqual([])
    expect(r.started).toHaveLength(N)
    const ring = new HubRing([a, b, c].map((n) => n.name))
    // The awaited result already names both replicas.
    for (const s of r.started as Array<{ id: string; nodes: Array<{ node: string }> }>) {
      expect(s.nodes.map((n) => n.node).sort()).toEqual(ring.owners(s.id, FACTOR).sort())
    }
    const reg = await settled([a, b, c], ids(N))
    expect(reg.every(([, nodes]) => nodes.length === FACTOR)).toBe(true)
    // whereIs answers the active replica, from any node.
    const id = ids(N)[3]!
    const active = reg.find(([x]) => x === id)![1].find(([n]) => n === ring.owners(id, FACTOR)[0])!
    expect(await c.call('whereIs', { child: id })).toBe(active[1])
    // A duplicate is refused with the running copy's location.
    const dup = await a.call('startOne', { spec: spec(id) })
    expect(dup).toMatchObject({ ok: false, code: 'EALREADYSTARTED' })
  })

  it('restores the replica count after a SIGKILL: only the missing slots start, one active each', async () => {
    const before = new Map((await a.call('replicas')) as Replicas)
    c.child.kill('SIGKILL')
    const reg = await settled([a, b], ids(N))
    // With two members left, both hold a replica of everything; the replicas
    // that were already on a or b kept their pid (they did not restart).
    let kept = 0
    for (const [id, nodes] of reg) {
      for (const [n, pid] of nodes) {
        const old = before.get(id)!.find(([m]) => m === n)
        if (old !== undefined) {
          expect(pid).toBe(old[1])
          kept++
        }
      }
    }
    expect(kept).toBe(N * FACTOR - [...before.values()].flat().filter(([n]) => n === c.name).length)
    const counts = await activeCounts([a, b])
    expect([...counts.values()].every((x) => x === 1)).toBe(true)
  })

  it('keeps exactly one active replica per child through joins and SIGKILLs (5 nodes at most)', async () => {
    const d = await startNode('d')
    const e = await startNode('e')
    let live = [a, b, d, e]
    await settled(live, ids(N))
    // Grow to five, start more children meanwhile, then lose two.
    const f = await startNode('f')
    live = [a, b, d, e, f]
    const more = await a.call('start', { specs: ids(20, 'late').map(spec) })
    expect(more.errors).toEqual([])
    const all = [...ids(N), ...ids(20, 'late')]
    await settled(live, all)
    let counts = await activeCounts(live)
    expect(counts.size).toBe(all.length)
    expect([...counts.values()].every((x) => x === 1)).toBe(true)
    d.child.kill('SIGKILL')
    b.child.kill('SIGKILL')
    live = [a, e, f]
    await settled(live, all)
    counts = await activeCounts(live)
    expect(counts.size).toBe(all.length)
    expect([...counts.values()].every((x) => x === 1)).toBe(true)
    // Stopping a replicated child stops every replica.
    const stopped = await e.call('stop', { ids: ['late:0'] })
    expect(stopped.status).toBe('ok')
    expect(stopped.stopped[0].nodes).toHaveLength(FACTOR)
    const left = all.filter((x) => x !== 'late:0')
    await settled(live, left)
    // A graceful leave hands each of f's replicas to the owner that lacks one.
    expect(await f.call('stopHub')).toBe(true)
    live = [a, e]
    await settled(live, left)
    counts = await activeCounts(live)
    expect([...counts.values()].every((x) => x === 1)).toBe(true)
  })
})

/** Each child's counter values across `live` (one per replica), sorted. */
async function values(live: TestNode[]): Promise<Map<string, number[]>> {
  const rows: CounterRow[][] = await Promise.all(live.map((n) => n.call('counters')))
  const out = new Map<string, number[]>()
  for (const list of rows) for (const [id, , value] of list) out.set(id, [...(out.get(id) ?? []), value].sort((x, y) => x - y))
  return out
}

const countOf = (id: string): number => 1 + Number(id.split(':')[1])

/**
 * Two hot-swapping members (factor 2, handover) running 40 counters, each
 * active replica counted up to countOf(id): each child's replicas hold
 * {countOf(id), 0}. Returns the nodes, the config, the ids and the values.
 */
async function hotPair(prefix: string): Promise<{ a: TestNode; b: TestNode; config: Record<string, unknown>; all: string[]; before: Map<string, number[]> }> {
  const config = { ...CONFIG, id: `replicated-${prefix}`, migration: { strategy: 'hot_swap', retention: 5000, handover: true } }
  const [a, b] = await Promise.all([startNode(`${prefix}1`, config), startNode(`${prefix}2`, config)])
  await waitFor('two hub members', async () => (await Promise.all([a, b].map((n) => n.call('hubNodes')))).every((m: string[]) => m.length === 2), 20_000)
  const all = ids(40, prefix)
  expect((await a.call('start', { specs: all.map(spec) })).errors).toEqual([])
  await settled([a, b], all)
  for (const id of all) expect(await b.call('incr', { child: id, by: countOf(id) })).toBe(countOf(id))
  const before = await values([a, b])
  for (const id of all) expect(before.get(id)).toEqual([0, countOf(id)])
  return { a, b, config, all, before }
}

/** After `newcomer` joined: every replica kept its value, and every counter on the newcomer started from a handed-over state (not from its spec). */
async function expectHandedOver(live: TestNode[], newcomer: TestNode, all: string[], before: Map<string, number[]>): Promise<void> {
  const after = await values(live)
  for (const id of all) expect(after.get(id)).toEqual(before.get(id))
  const rows: CounterRow[] = await newcomer.call('counters')
  expect(rows.length).toBeGreaterThan(0)
  for (const [id, , , , handed] of rows) expect({ id, handed }).toEqual({ id, handed: true })
}

describe('replication with hot swap', { timeout: 120_000 }, () => {
  afterAll(() => killAll())

  it("a replica that loses its slot to a joining node hands it its own state; every child keeps both replicas' values", async () => {
    const { a, b, config, all, before } = await hotPair('hot')
    const c = await startNode('hot3', config)
    await settled([a, b, c], all)
    await expectHandedOver([a, b, c], c, all, before)
  })
})

describe('a newcomer that meets one member before the others', { timeout: 120_000 }, () => {
  afterAll(() => killAll())

  it("waits for the members that member names: every replica it runs came with its old instance's state, none was started from its spec", async () => {
    const { a, b, config, all, before } = await hotPair('late')
    // c cannot reach b when its hub starts: it joins a alone, and a's full
    // list names b. Seen from c, every replica on b is missing; they are not.
    const c = await forkPeer(FIXTURE, COOKIE, 'late3')
    await c.call('faultBlock', { nodes: [b.name] })
    await c.call('startHub', { config })
    await waitFor('c to join a', async () => (await c.call('hubNodes')).length === 2, 20_000)
    // Several periodic passes (sync interval 1 s) run on c meanwhile.
    await new Promise((r) => setTimeout(r, 3000))
    const early: CounterRow[] = await c.call('counters')
    for (const [id, , , , handed] of early) expect({ id, handed }).toEqual({ id, handed: true })
    await c.call('faultUnblock', {})
    await settled([a, b, c], all, 60_000)
    await expectHandedOver([a, b, c], c, all, before)
  })
})

describe('a replica slot filled while the start that asks for it is on its way', { timeout: 120_000 }, () => {
  afterAll(() => killAll())

  it('the start is answered by that replica instead of being refused as already started', async () => {
    // Heartbeats that outlast the cut below; a sync pass every 200 ms.
    const config = { ...CONFIG, id: 'fill', sync: { strategy: 'pubsub', interval: 200 } }
    const member = async (name: string): Promise<TestNode> => {
      const n = await forkNode(FIXTURE, { cookie: COOKIE, name, seeds: [node()], heartbeatInterval: 250, heartbeatTimeout: 5000 })
      await waitFor(`${name} to be up here`, () => nodes().includes(n.name))
      await n.call('startHub', { config })
      return n
    }
    const [a, b, e] = await Promise.all([member('fill1'), member('fill2'), member('fill3')])
    await waitFor('three hub members', async () => (await Promise.all([a, b, e].map((n) => n.call('hubNodes')))).every((m: string[]) => m.length === 3), 20_000)
    await settled([a, b, e], [])
    // A child whose two slots are b and e, started from a while a cannot reach e:
    // b starts it at once, and e, seeing it registered on b alone, fills its own
    // slot in a sync pass before a's request reaches it.
    const ring = new HubRing([a, b, e].map((n) => n.name))
    const id = ids(100, 'fill').find((x) => !ring.owners(x, FACTOR).includes(a.name))!
    await a.call('faultBlock', { nodes: [e.name] })
    const pending = a.call('start', { specs: [spec(id)] })
    await waitFor('e to fill its slot', async () => ((await e.call('counters')) as CounterRow[]).some(([x]) => x === id), 10_000)
    const filled = ((await e.call('counters')) as CounterRow[]).find(([x]) => x === id)![1]
    await a.call('faultUnblock', {})
    const r = await pending
    expect(r.errors).toEqual([])
    expect(r.status).toBe('ok')
    const on = (r.started as Array<{ id: string; nodes: Array<{ node: string; pid: string }> }>)[0]!.nodes
    expect(on.map((n) => n.node).sort()).toEqual([b.name, e.name].sort())
    expect(String(on.find((n) => n.node === e.name)!.pid)).toBe(filled)
    await settled([a, b, e], [id])
    // A later start of the same child is a duplicate, refused as before.
    expect(await a.call('startOne', { spec: spec(id) })).toMatchObject({ ok: false, code: 'EALREADYSTARTED' })
  })
})

describe("replication on every member ('cluster_size', active_active, every replica signalled)", { timeout: 120_000 }, () => {
  afterAll(() => killAll())

  it('runs each child on every member, each replica told active, through a join and a SIGKILL', async () => {
    // A sync interval longer than the test: the joining node's slots are filled at the join, not by the periodic pass.
    const config = {
      ...CONFIG,
      id: 'everywhere',
      redundancy: { strategy: 'replication', factor: 'cluster_size', mode: 'active_active', redundancySignal: 'all' },
      sync: { strategy: 'pubsub', interval: 600_000 },
    }
    const [a, b] = await Promise.all([startNode('e1', config), startNode('e2', config)])
    await waitFor('two hub members', async () => (await Promise.all([a, b].map((n) => n.call('hubNodes')))).every((m: string[]) => m.length === 2), 20_000)
    const all = ids(30, 'all')
    const r = await b.call('start', { specs: all.map(spec) })
    expect(r.errors).toEqual([])
    expect(r.started.every((s: { nodes: unknown[] }) => s.nodes.length === 2)).toBe(true)
    await settled([a, b], all, 30_000, { factor: 2, allActive: true })
    const c = await startNode('e3', config)
    await settled([a, b, c], all, 30_000, { factor: 3, allActive: true })
    a.child.kill('SIGKILL')
    await settled([b, c], all, 30_000, { factor: 2, allActive: true })
  })
})

describe('replication through a network split and its heal (divergence)', { timeout: 120_000 }, () => {
  it('each side restores the replicas it lacks; after the heal every slot holds one replica and exactly one is active', async () => {
    const [a, b, c] = await Promise.all([startNode('p'), startNode('q'), startNode('r')])
    await waitFor('three hub members', async () => (await Promise.all([a, b, c].map((n) => n.call('hubNodes')))).every((m: string[]) => m.length === 3), 20_000)
    const all = ids(40, 'split')
    expect((await a.call('start', { specs: all.map(spec) })).errors).toEqual([])
    await settled([a, b, c], all)
    // Cut c off from a and b (blocking on c's side drops both directions).
    await c.call('faultBlock', { nodes: [a.name, b.name] })
    await waitFor('both sides to see the split', async () => (await a.call('hubNodes')).length === 2 && (await c.call('hubNodes')).length === 1, 30_000)
    // a and b hold both replicas of every child; c alone holds the one it can.
    await settled([a, b], all)
    await settled([c], all)
    await c.call('faultUnblock', {})
    await waitFor('the heal', async () => (await Promise.all([a, b, c].map((n) => n.call('hubNodes')))).every((m: string[]) => m.length === 3), 60_000)
    await settled([a, b, c], all, 60_000)
    const counts = await activeCounts([a, b, c])
    expect(counts.size).toBe(all.length)
    expect([...counts.values()].every((x) => x === 1)).toBe(true)
  })
})

// Which replicas hear their role, per `redundancySignal` (ProcessHub's
// `redundancy_signal`): only the role named ('active' or 'passive'), or none.
// A replica is told at its start, and a surviving passive replica that a
// SIGKILL makes active is told again only if 'active' replicas are told.
for (const which of ['active', 'passive', 'none'] as const) {
  describe(`redundancySignal: '${which}' (factor 2, active_passive)`, { timeout: 120_000 }, () => {
    afterAll(() => killAll())

    it(`tells ${which === 'none' ? 'no replica' : `only the ${which} replicas`} their role, at start and when a SIGKILL flips a passive replica to active`, async () => {
      const config = { ...CONFIG, id: `signal-${which}`, redundancy: { ...CONFIG.redundancy, redundancySignal: which } }
      const told = (role: 'active' | 'passive'): boolean => which === role
      const [a, b, c] = await Promise.all([startNode(`${which}1`, config), startNode(`${which}2`, config), startNode(`${which}3`, config)])
      await waitFor('three hub members', async () => (await Promise.all([a, b, c].map((n) => n.call('hubNodes')))).every((m: string[]) => m.length === 3), 20_000)
      const all = ids(30, which)
      expect((await a.call('start', { specs: all.map(spec) })).errors).toEqual([])
      const shape = { factor: FACTOR, allActive: false, modes: false }
      await settled([a, b, c], all, 30_000, shape)
      // Each replica's signal is sent before its start is confirmed, so it is
      // in the mailbox ahead of the 'get' that reads it.
      const signalsOn = async (live: TestNode[]): Promise<Map<string, { pid: string; signals: string[] }>> => {
        const rows: CounterRow[][] = await Promise.all(live.map((n) => n.call('counters')))
        const out = new Map<string, { pid: string; signals: string[] }>()
        rows.forEach((list, i) => {
          for (const [id, pid, , , , , signals] of list) out.set(`${id} ${live[i]!.name}`, { pid, signals })
        })
        return out
      }
      const ring3 = new HubRing([a, b, c].map((n) => n.name))
      const roleOn = (ring: HubRing, id: string, n: string): 'active' | 'passive' => (ring.owners(id, 1)[0] === n ? 'active' : 'passive')
      const before = await signalsOn([a, b, c])
      expect(before.size).toBe(all.length * FACTOR)
      let heard = 0
      for (const [key, { signals }] of before) {
        const [id, n] = key.split(' ') as [string, string]
        const role = roleOn(ring3, id, n)
        expect(signals, key).toEqual(told(role) ? [role] : [])
        heard += signals.length
      }
      // Exactly one replica per child is active, so 'active' tells one per child and 'passive' one per child too (factor 2).
      expect(heard).toBe(which === 'none' ? 0 : all.length)

      // SIGKILL c: each survivor drops it, restarts the missing slots, then
      // re-signals its replicas (postRedistribution comes after that).
      const seen = new Map<string, boolean>([[a.name, false], [b.name, false]])
      c.child.kill('SIGKILL')
      await settled([a, b], all, 30_000, shape)
      await waitFor(
        'both survivors to finish redistributing after the nodedown',
        async () => {
          for (const n of [a, b]) {
            const hooks: Array<{ hook: string; payload: { event?: string; node?: string } }> = await n.call('hooks')
            if (hooks.some((h) => h.hook === 'postRedistribution' && h.payload.event === 'nodedown' && h.payload.node === c.name)) seen.set(n.name, true)
          }
          return [...seen.values()].every(Boolean)
        },
        30_000,
      )
      const ring2 = new HubRing([a.name, b.name])
      const after = await signalsOn([a, b])
      expect(after.size).toBe(all.length * FACTOR)
      let flipped = 0
      for (const [key, { pid, signals }] of after) {
        const [id, n] = key.split(' ') as [string, string]
        const now = roleOn(ring2, id, n)
        const old = before.get(key)
        if (old === undefined || old.pid !== pid) {
          // A replica started for a slot c held: told at its start only.
          expect(signals, key).toEqual(told(now) ? [now] : [])
          continue
        }
        const was = roleOn(ring3, id, n)
        if (was !== now) flipped++
        const expected = [...(told(was) ? [was] : []), ...(was !== now && told(now) ? [now] : [])]
        expect(signals, key).toEqual(expected)
      }
      // c was the active owner of some children whose passive replica survived.
      expect(flipped).toBeGreaterThan(0)
    })
  })
}
