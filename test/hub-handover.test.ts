// Hot-swap migration with state handover across real node processes: on a
// join the new owner starts each moving child from the old instance's
// handoff() state before the old one stops, and a graceful hub.stop() hands
// each child's state to its next owner. Also hub.promote() on one node.
import { fileURLToPath } from 'node:url'

import { GenServer, Hub, HubError, HubRing, cluster, node } from 'ironwood'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { FAST, type TestNode, forkNode, killAll, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/hub-node.mjs', import.meta.url))
const COOKIE = 'handover-cookie'
const CONFIG = {
  id: 'swapped',
  migration: { strategy: 'hot_swap', retention: 5000, handover: true },
  sync: { strategy: 'pubsub', interval: 1000 },
  discoverInterval: 1000,
}
const N = 60

type CounterRow = [id: string, pid: string, value: number, mode: string | null, handed: boolean, pad: number]
/** Bytes of ballast per child: 60 × 1 MiB of state, so each old node hands over more than the 8 MiB frame limit on a join and the handover must cross in several ~1 MiB frames. */
const PAD = 1024 * 1024

const spec = (id: string): { id: string; start: [string, unknown[]] } => ({ id, start: ['counter', [null]] })
const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `meter:${i}`)
/** Each child's own count, so a value that went to the wrong child shows. */
const countOf = (id: string): number => 1 + Number(id.split(':')[1])

class Plain extends GenServer {}

describe('hub.promote', () => {
  afterAll(async () => {
    await cluster.stop()
  })

  it('refuses before cluster.start (ENOTALIVE), then files the registry under the node name', async () => {
    Hub.define('plain', Plain)
    const hub = await Hub.start({ id: 'promoted' })
    try {
      await hub.startChild({ id: 'p:1', start: ['plain', []] })
      expect(hub.childLookup('p:1')[0]!.node).toBe('nonode@nohost')
      const early = await hub.promote().catch((e: unknown) => e)
      expect(early).toBeInstanceOf(HubError)
      expect((early as HubError).code).toBe('ENOTALIVE')
      await cluster.start({ name: 'promoter', cookie: COOKIE, ...FAST })
      await expect(hub.promote('someone-else@127.0.0.1:1')).rejects.toThrow(RangeError)
      await hub.promote(node())
      expect(hub.childLookup('p:1')[0]!.node).toBe(node())
      expect(hub.nodes()).toEqual([node()])
    } finally {
      await hub.stop()
    }
  })
})

describe('hot swap with handover on a real cluster', { timeout: 120_000 }, () => {
  let a: TestNode
  let b: TestNode
  let c: TestNode

  const start = async (name: string, seeds: string[]): Promise<TestNode> => {
    const n = await forkNode(FIXTURE, { name, cookie: COOKIE, seeds })
    await n.call('startHub', { config: CONFIG })
    return n
  }

  /** Every counter running on `live`, by id (each must run exactly once, on its ring owner). */
  async function counters(live: TestNode[]): Promise<Map<string, { node: string; value: number; handed: boolean; pad: number }>> {
    const ring = new HubRing(live.map((n) => n.name))
    let last = ''
    let out = new Map<string, { node: string; value: number; handed: boolean; pad: number }>()
    try {
      await waitFor(
        'every counter on its owner, once',
        async () => {
          const rows: CounterRow[][] = await Promise.all(live.map((n) => n.call('counters')))
          const seen = new Map<string, { node: string; value: number; handed: boolean; pad: number }>()
          for (const [i, list] of rows.entries()) {
            for (const [id, , value, , handed, pad] of list) {
              if (seen.has(id)) return (last = `${id} runs twice`), false
              seen.set(id, { node: live[i]!.name, value, handed, pad })
            }
          }
          if (seen.size !== N) return (last = `${seen.size} of ${N} running`), false
          for (const [id, s] of seen) if (s.node !== ring.owner(id)) return (last = `${id} on ${s.node}, owner ${ring.owner(id)}`), false
          const regs = await Promise.all(live.map((n) => n.call('registry')))
          if (!regs.every((r) => JSON.stringify(r) === JSON.stringify(regs[0]))) return (last = 'registries differ'), false
          out = seen
          return true
        },
        30_000,
      )
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${last}`)
    }
    return out
  }

  beforeAll(async () => {
    a = await forkNode(FIXTURE, { name: 'a', cookie: COOKIE })
    await a.call('startHub', { config: CONFIG })
    b = await start('b', [a.name])
    await waitFor('two hub members', async () => (await a.call('hubNodes')).length === 2, 20_000)
  }, 60_000)

  afterAll(() => killAll())

  it("keeps each counter's value when a join moves it (the new owner starts from handoff(), states in several frames)", async () => {
    const r = await a.call('start', { specs: ids(N).map(spec) })
    expect(r.errors).toEqual([])
    for (const id of ids(N)) expect(await a.call('incr', { child: id, by: countOf(id) })).toBe(countOf(id))
    for (const id of ids(N)) expect(await b.call('pad', { child: id, size: PAD })).toBe(PAD)
    const before = await counters([a, b])
    c = await start('c', [a.name, b.name])
    const after = await counters([a, b, c])
    const moved = [...after].filter(([id, s]) => s.node !== before.get(id)!.node)
    expect(moved.length).toBeGreaterThan(0)
    for (const [, s] of moved) {
      expect(s.node).toBe(c.name)
      expect(s.handed).toBe(true)
    }
    for (const [id, s] of after) {
      expect(s.value).toBe(countOf(id))
      expect(s.pad).toBe(PAD)
    }
    // A moved child still counts from its handed-over value.
    const [id] = moved[0]!
    expect(await b.call('incr', { child: id, by: 1 })).toBe(countOf(id) + 1)
    expect(await a.call('incr', { child: id, by: -1 })).toBe(countOf(id))
  })

  it("hands every child's state to its next owner on a graceful hub.stop()", async () => {
    const before = await counters([a, b, c])
    const leaving = [...before].filter(([, s]) => s.node === c.name).map(([id]) => id)
    expect(leaving.length).toBeGreaterThan(0)
    expect(await c.call('stopHub')).toBe(true)
    const after = await counters([a, b])
    for (const id of leaving) {
      expect(after.get(id)!.handed).toBe(true)
      expect(after.get(id)!.node).not.toBe(c.name)
    }
    for (const [id, s] of after) {
      expect(s.value).toBe(countOf(id))
      expect(s.pad).toBe(PAD)
    }
  })
})
