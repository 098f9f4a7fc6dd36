// The hub recovering from what should not happen: a redistribution lock that
// would be held too long (deadlockRecoveryTimeout), and an owner that dies
// right after confirming a start (the child must not be lost).
import { fileURLToPath } from 'node:url'

import { GenServer, Hub, HubRing, type HubStartResult, type Pid, isAlive } from 'ironwood'
import { describe, expect, it } from 'vitest'

import { type TestNode, clusterSuite, forkPeer, waitFor } from './cluster-harness.js'
import { type Entry, settled as settle } from './hub-settle.js'

const settled = (all: TestNode[], ids: string[], timeout = 20_000): Promise<Entry[]> => settle(all, { ids, timeout })
const FIXTURE = fileURLToPath(new URL('./fixtures/hub-node.mjs', import.meta.url))
const COOKIE = 'hub-recovery-cookie'


const logs: string[] = []
clusterSuite('tester', COOKIE, (m) => logs.push(m))

const spec = (id: string): { id: string; start: [string, string[]] } => ({ id, start: ['device', [id]] })

/**
 * On this (test) node, 'device' children trap exits and take 3 s to stop,
 * so a redistribution that moves one holds the hub's lock for 3 s. The
 * forked nodes define 'device' as an ordinary GenServer.
 */
class SlowToStop extends GenServer {
  arg: unknown = null
  override init(arg: unknown) {
    this.self.trapExit(true)
    this.arg = arg
  }
  override handleCall() {
    return this.arg
  }
  override async terminate() {
    await new Promise((r) => setTimeout(r, 3000))
  }
}

async function hubNode(name: string, config: Record<string, unknown>): Promise<TestNode> {
  const n = await forkPeer(FIXTURE, COOKIE, name)
  await n.call('startHub', { config })
  return n
}

describe('hub recovery', () => {
  it('releases a redistribution lock held past deadlockRecoveryTimeout (lockChanged deadlock_recovery, a warning) and keeps working', async () => {
    Hub.define('device', SlowToStop)
    const config = { id: 'locks', deadlockRecoveryTimeout: 400, shutdownTimeout: 10_000, discoverInterval: 500 }
    const changes: Array<{ locked: boolean; reason: string; slowChildAlive: boolean }> = []
    const moving: Pid[] = []
    const hub = await Hub.start({
      ...config,
      hooks: { lockChanged: (p) => changes.push({ ...p, slowChildAlive: moving.some((pid) => isAlive(pid)) }) },
    })
    try {
      // Children that will move when the peer joins, started here while alone.
      const joiner = 'lockpeer'
      const ids = Array.from({ length: 200 }, (_, i) => `lock:${i}`)
      const r = (await hub.startChildren(ids.map(spec))) as HubStartResult
      expect(r.status).toBe('ok')

      const peer = await hubNode(joiner, config)
      const ring = new HubRing([...hub.nodes(), peer.name])
      const toMove = ids.filter((id) => ring.owner(id) === peer.name)
      expect(toMove.length).toBeGreaterThan(0)
      for (const id of toMove) moving.push(hub.whereIs(id)!)

      // The join takes the lock; stopping the moving children takes 3 s,
      // far past the 400 ms timeout: the lock is released while they still run.
      await waitFor('the lock to be taken for the join', () => changes.some((c) => c.locked && c.reason === 'nodeup'), 20_000)
      // A start asked while locked waits for the lock, then goes through.
      const during = hub.startChild(spec('lock:during'))
      await waitFor('deadlock recovery', () => changes.some((c) => !c.locked && c.reason === 'deadlock_recovery'), 20_000)
      const recovery = changes.find((c) => !c.locked && c.reason === 'deadlock_recovery')!
      expect(recovery.slowChildAlive).toBe(true) // released because of the timeout, not because the work ended
      expect(changes.filter((c) => c.locked)).toHaveLength(1)
      expect(logs.some((m) => /redistribution lock held past deadlockRecoveryTimeout \(400 ms\); released/.test(m))).toBe(true)
      expect(hub.isLocked()).toBe(false)
      expect(await during).toMatchObject({ id: 'lock:during' })

      // The redistribution itself still completes: the moved children run on
      // the peer, the rest here, and both registries agree.
      await waitFor('the moved children to run on the peer', async () => {
        const reg: Entry[] = await peer.call('registry')
        return reg.length === ids.length + 1 && toMove.every((id) => reg.some(([x, n]) => x === id && n === peer.name))
      }, 30_000)
      for (const pid of moving) expect(isAlive(pid)).toBe(false)
      // No second release: the lock count did not go negative when the join finished.
      expect(changes.filter((c) => !c.locked)).toHaveLength(1)
      expect(hub.isLocked()).toBe(false)
      expect(await hub.stopChild('lock:during')).toMatchObject({ id: 'lock:during' })
      peer.child.kill('SIGKILL')
      await waitFor('the peer to leave the hub', () => hub.nodes().length === 1, 20_000)
    } finally {
      await hub.stop()
    }
  }, 90_000)

  it('a start confirmed to the caller is never lost when its owner dies right after, even if the new owner never heard of the child', async () => {
    const config = { id: 'owners', sync: { strategy: 'pubsub', interval: 60_000 }, discoverInterval: 1000 }
    const [a, b, c] = await Promise.all([hubNode('oa', config), hubNode('ob', config), hubNode('oc', config)])
    const names = [a, b, c].map((n) => n.name).sort()
    await waitFor('three members', async () => {
      const seen: string[][] = await Promise.all([a, b, c].map((n) => n.call('hubNodes')))
      return seen.every((s) => JSON.stringify(s) === JSON.stringify(names))
    }, 20_000)
    // Ids owned by b now, and by c once b is gone.
    const ring3 = new HubRing(names)
    const ring2 = new HubRing([a.name, c.name])
    const ids = Array.from({ length: 3000 }, (_, i) => `owned:${i}`).filter((id) => ring3.owner(id) === b.name && ring2.owner(id) === c.name).slice(0, 150)
    expect(ids.length).toBe(150)

    // b stops talking to c: b's registry updates can no longer reach c.
    expect(await b.call('disconnect', { target: c.name })).toBe(true)
    await waitFor('b and c to drop each other', async () => {
      const [nb, nc]: string[][] = await Promise.all([b.call('hubNodes'), c.call('hubNodes')])
      return !nb.includes(c.name) || !nc.includes(b.name)
    }, 20_000)

    // a asks; b (the owner in a's ring) starts them and confirms.
    const r = await a.call('start', { specs: ids.map(spec) })
    expect(r.status).toBe('ok')
    expect(r.started).toHaveLength(ids.length)
    for (const s of r.started) expect(s.nodes[0].node).toBe(b.name)
    // The reply came after b's registry update on the same lane: a knows them all.
    const onA: Entry[] = await a.call('registry')
    expect(ids.every((id) => onA.some(([x, n]) => x === id && n === b.name))).toBe(true)

    b.child.kill('SIGKILL')
    const after = await settled([a, c], ids, 30_000)
    for (const [id, node] of after) expect(node).toBe(ring2.owner(id))
    expect(await a.call('call', { child: ids[0], req: 'arg' })).toBe(ids[0])
  }, 90_000)
})
