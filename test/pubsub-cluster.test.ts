// Pub/sub across real nodes: this test process is node A, and B, C (and
// others where a test needs them) are forked processes on 127.0.0.1. Covers
// membership replication (joins, leaves, process exit, node kill, a late
// joiner, a resync after reconnecting), exactly-once fan-out with one frame
// per node, per-publisher order, and malformed frames.
import { fileURLToPath } from 'node:url'

import { type Subscription, cluster, exit, node, nodes, pubsub, spawn } from 'ironwood'
import { beforeAll, describe, expect, it } from 'vitest'

import { type TestNode, clusterSuite, forkNode, forkPeer, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/pubsub-node.mjs', import.meta.url))
const COOKIE = 'pubsub-cluster-cookie'

const logs: string[] = []
clusterSuite('a', COOKIE, (m) => logs.push(m))

// The internal counters of this node (the same module instance 'ironwood' loaded).
const stats = async (): Promise<Record<string, number>> =>
  ({ ...(await import(new URL('../dist/pubsub-cluster.js', import.meta.url).href)).pubsubStats }) as Record<string, number>

let topicSeq = 0
const fresh = (name = 'topic'): string => `${name}-${++topicSeq}`

let b: TestNode
let c: TestNode
beforeAll(async () => {
  b = await forkPeer(FIXTURE, COOKIE, 'b')
  c = await forkPeer(FIXTURE, COOKIE, 'c')
  await waitFor('b and c to see each other', async () => (await b.call('nodes')).includes(c.name))
})

/** Reads a local Subscription's buffer. */
async function drain<T>(sub: Subscription<T>): Promise<T[]> {
  const out: T[] = []
  while (sub.size > 0) out.push((await sub.receive({ timeout: 0 })) as T)
  return out
}

/** Waits until every node in `on` (A included as null) counts `n` members of `topic`. */
async function membersEverywhere(topic: string, n: number, on: Array<TestNode | null>): Promise<void> {
  for (const x of on) {
    const who = x === null ? 'a' : x.name
    await waitFor(`${who} to count ${n} members of ${topic}`, async () =>
      (x === null ? pubsub.members(topic) : await x.call('members', { topic })) === n,
    )
  }
}

describe('pub/sub across nodes', () => {
  it('replicates membership: every node counts the members of every node', async () => {
    const topic = fresh()
    const local = pubsub.subscribe(topic)
    await b.call('subscribe', { topic, count: 2 })
    await c.call('subscribeCallback', { topic, count: 3 })
    await membersEverywhere(topic, 6, [null, b, c])
    expect(pubsub.topics()).toContain(topic)
    expect(await c.call('topics')).toContain(topic)
    local.unsubscribe()
    await membersEverywhere(topic, 5, [null, b, c])
  })

  it('fans out: each member on every node gets a publication exactly once, and each other node gets one frame', async () => {
    const topic = fresh('fanout')
    const local = pubsub.subscribe(topic)
    const onB = (await b.call('subscribe', { topic, count: 100 })) as number[]
    const onC = (await c.call('subscribeCallback', { topic, count: 100 })) as number[]
    await membersEverywhere(topic, 201, [null, b, c])

    const before = await stats()
    const bBefore = await b.call('stats')
    const cBefore = await c.call('stats')
    expect(pubsub.publish(topic, { hello: 'world', n: 1 })).toBe(201)
    const after = await stats()
    expect(after.publishFramesSent! - before.publishFramesSent!).toBe(2)

    await waitFor('every member on b and c to have it', async () => {
      const counts = [...(await b.call('receivedCounts', { handles: onB })), ...(await c.call('receivedCounts', { handles: onC }))]
      return counts.every((n: number) => n >= 1)
    })
    // Give any duplicate time to show up, then check there is none.
    await new Promise((r) => setTimeout(r, 200))
    const gotB = (await b.call('received', { handles: onB })) as unknown[][]
    const gotC = (await c.call('received', { handles: onC })) as unknown[][]
    for (const got of [...gotB, ...gotC]) expect(got).toEqual([{ hello: 'world', n: 1 }])
    expect(await drain(local)).toEqual([{ hello: 'world', n: 1 }])
    expect((await b.call('stats')).publishFramesReceived - bBefore.publishFramesReceived).toBe(1)
    expect((await c.call('stats')).publishFramesReceived - cBefore.publishFramesReceived).toBe(1)

    // From another node: the same counts from its view.
    expect(await c.call('publish', { topic, message: 'from c' })).toBe(201)
    await waitFor('a to get c’s publication', () => local.size === 1)
    expect(await drain(local)).toEqual(['from c'])
    local.unsubscribe()
  })

  it('keeps per-publisher order for every member, with two publishers at once', async () => {
    const topic = fresh('order')
    const N = 2000
    const onB = (await b.call('subscribe', { topic, count: 3 })) as number[]
    const local = pubsub.subscribe<{ from: string; i: number }>(topic, { buffer: 10_000 })
    await membersEverywhere(topic, 4, [null, b, c])
    // c publishes while a does.
    const fromC = c.call('publish', { topic, seq: N })
    for (let i = 0; i < N; i++) pubsub.publish(topic, { from: node(), i })
    expect(((await fromC) as number[]).every((n) => n === 4)).toBe(true)

    await waitFor('b to get all 4,000', async () => ((await b.call('receivedCounts', { handles: onB })) as number[]).every((n) => n === 2 * N))
    await waitFor('a to get c’s 2,000 and its own', () => local.size === 2 * N)
    const perMember = [...((await b.call('received', { handles: onB })) as Array<Array<{ from: string; i: number }>>), await drain(local)]
    for (const got of perMember) {
      for (const from of [node(), c.name]) {
        expect(got.filter((m) => m.from === from).map((m) => m.i)).toEqual(Array.from({ length: N }, (_, i) => i))
      }
    }
    local.unsubscribe()
  })

  it('unsubscribing on one node removes the member everywhere, and publications stop reaching it', async () => {
    const topic = fresh('leave')
    const [h] = (await b.call('subscribe', { topic })) as number[]
    const [cb] = (await b.call('subscribeCallback', { topic })) as number[]
    await membersEverywhere(topic, 2, [null, c])
    expect(await b.call('unsubscribe', { handle: h })).toBe(true)
    expect(await b.call('unsubscribe', { handle: cb })).toBe(true)
    await membersEverywhere(topic, 0, [null, b, c])
    expect(pubsub.publish(topic, 'anyone?')).toBe(0)
    expect(pubsub.topics()).not.toContain(topic)
  })

  it('a process member that exits leaves every topic on every node at once; it got the { type: "pubsub" } messages', async () => {
    const t1 = fresh('proc')
    const t2 = fresh('proc')
    const h = (await b.call('spawnMember', { topics: [t1, t2] })) as number
    await membersEverywhere(t1, 1, [null, c])
    await membersEverywhere(t2, 1, [null, c])
    expect(pubsub.publish(t1, { reading: 1 })).toBe(1)
    await waitFor('the process to get it', async () => ((await b.call('received', { handles: [h] })) as unknown[][])[0]!.length === 1)
    expect(((await b.call('received', { handles: [h] })) as unknown[][])[0]).toEqual([{ type: 'pubsub', topic: t1, message: { reading: 1 } }])

    await b.call('killMember', { handle: h })
    expect(await b.call('members', { topic: t1 })).toBe(0) // at once on its own node
    await membersEverywhere(t1, 0, [null, c])
    await membersEverywhere(t2, 0, [null, c])

    // A local process member on A, for the same rule here.
    const topic = fresh('proc-local')
    const pid = spawn(async (self) => void (await self.receive((m) => m === 'never')))
    pubsub.subscribe(topic, pid)
    await membersEverywhere(topic, 1, [b, c])
    exit(pid, 'kill')
    expect(pubsub.members(topic)).toBe(0)
    await membersEverywhere(topic, 0, [b, c])
  })

  it('a node that is killed takes its members with it on every node', async () => {
    const topic = fresh('kill')
    const d = await forkPeer(FIXTURE, COOKIE, 'doomed')
    await d.call('subscribe', { topic, count: 5 })
    await b.call('subscribe', { topic, count: 1 })
    await membersEverywhere(topic, 6, [null, b, c])
    d.child.kill('SIGKILL')
    await waitFor('d to be down here', () => !nodes().includes(d.name))
    await membersEverywhere(topic, 1, [null, b, c])
    expect(pubsub.publish(topic, 'after')).toBe(1)
  })

  it('a node restarted under the same name replaces its earlier incarnation’s members, even when it has none', async () => {
    const topic = fresh('restart')
    const first = await forkPeer(FIXTURE, COOKIE, 'phoenix')
    const port = Number(first.name.split(':').pop())
    await first.call('subscribe', { topic, count: 3 })
    await membersEverywhere(topic, 3, [null, b])
    first.child.kill('SIGKILL')
    // Back at once, before the heartbeats have noticed: the same name@host:port.
    const again = await forkNode(FIXTURE, { cookie: COOKIE, name: 'phoenix', port, seeds: [node()] })
    expect(again.name).toBe(first.name)
    await waitFor('the new phoenix to know a and b', async () => (await again.call('nodes')).length === 3, 15_000)
    await membersEverywhere(topic, 0, [null, b])
    await again.call('subscribe', { topic, count: 1 })
    await membersEverywhere(topic, 1, [null, b, again])
    again.child.kill('SIGKILL')
  })

  it('a node that joins late learns the existing members, and its members (subscribed before it joined) are learnt', async () => {
    const topic = fresh('late')
    const local = pubsub.subscribe(topic)
    await b.call('subscribe', { topic, count: 2 })
    await membersEverywhere(topic, 3, [null, c])
    // 'late' subscribes before cluster.start (subscribeFirst), then joins through a seed.
    const late = await forkNode(FIXTURE, { cookie: COOKIE, name: 'late', seeds: [node()], subscribeFirst: topic } as never)
    await waitFor('late to be connected to all', async () => (await late.call('nodes')).length === 3)
    await membersEverywhere(topic, 4, [null, b, c, late])
    expect(await late.call('publish', { topic, message: 'from the late node' })).toBe(4)
    await waitFor('a to get it', () => local.size === 1)
    expect(await drain(local)).toEqual(['from the late node'])
    expect(pubsub.publish(topic, 'welcome')).toBe(4)
    await waitFor('late to get it', async () => ((await late.call('receivedCounts', { handles: [1] })) as number[])[0] === 2)
    expect(((await late.call('received', { handles: [1] })) as unknown[][])[0]).toEqual(['from the late node', 'welcome'])
    late.child.kill('SIGKILL')
    await membersEverywhere(topic, 3, [null, b, c])
    local.unsubscribe()
  })

  it('a reconnect resyncs without duplicates: counts stay right and nobody gets a publication twice', async () => {
    const topic = fresh('resync')
    const e = await forkPeer(FIXTURE, COOKIE, 'e')
    const onE = (await e.call('subscribe', { topic, count: 3 })) as number[]
    const local = pubsub.subscribe(topic)
    await membersEverywhere(topic, 4, [null, b, e])
    const resyncsBefore = (await stats()).resyncs!
    // What this node counts the moment the nodedown is delivered (the mesh may reconnect soon after).
    let atNodedown = -1
    const onDown = (peer: string): void => {
      if (peer === e.name) atNodedown = pubsub.members(topic)
    }
    cluster.on('nodedown', onDown)
    expect(cluster.disconnect(e.name)).toBe(true)
    await waitFor('the nodedown of e', () => atNodedown !== -1)
    cluster.off('nodedown', onDown)
    expect(atNodedown).toBe(1)
    // Joins made while apart are learnt at the resync.
    const [extra] = (await e.call('subscribe', { topic })) as number[]
    expect(await cluster.connect(e.name)).toBe(true)
    await membersEverywhere(topic, 5, [null, b, e])
    expect((await stats()).resyncs!).toBeGreaterThan(resyncsBefore)

    expect(pubsub.publish(topic, 'once')).toBe(5)
    const handles = [...onE, extra!]
    await waitFor('every member on e to get it', async () => ((await e.call('receivedCounts', { handles })) as number[]).every((n) => n >= 1))
    await new Promise((r) => setTimeout(r, 200))
    for (const got of (await e.call('received', { handles })) as unknown[][]) expect(got).toEqual(['once'])
    e.child.kill('SIGKILL')
    local.unsubscribe()
  })

  it('membership frames are idempotent: a join heard twice is one member, a resync replaces, a leave of an unknown id changes nothing', async () => {
    const topic = fresh('idempotent')
    const [h] = (await b.call('subscribe', { topic })) as number[]
    await membersEverywhere(topic, 1, [null])
    // Frames as b's pub/sub layer would send them, with a member id b never used.
    const join = [1, [[topic, [987654321], []]]]
    expect(await b.call('rawTerm', { target: node(), term: join })).toBe('ok')
    expect(await b.call('rawTerm', { target: node(), term: join })).toBe('ok')
    expect(await b.call('rawTerm', { target: node(), term: [1, [[topic, [], [123]]]] })).toBe('ok')
    await waitFor('the joins to arrive', () => pubsub.members(topic) === 2)
    await new Promise((r) => setTimeout(r, 100))
    expect(pubsub.members(topic)).toBe(2)
    // A resync (Sync) is b's whole membership: it replaces what a knew of b.
    expect(await b.call('rawTerm', { target: node(), term: [2, [[topic, [987654321, 5]]]] })).toBe('ok')
    await waitFor('the resync to replace b’s view', () => pubsub.members(topic) === 2 && pubsub.publish(topic, 'x') === 2)
    expect(await b.call('rawTerm', { target: node(), term: [2, []] })).toBe('ok')
    await waitFor('an empty resync to clear it', () => pubsub.members(topic) === 0)
    expect(pubsub.topics()).not.toContain(topic)
    await b.call('unsubscribe', { handle: h })
  })

  it('a node that falls behind misses publications (not counted, one warning), gets every one that was counted, in order, and learns a join made meanwhile', async () => {
    const topic = fresh('burst')
    const joinedDuringBurst = fresh('burst-join')
    const h = (await b.call('subscribeIndex', { topic })) as number
    await membersEverywhere(topic, 1, [null])
    const data = new Uint8Array(1 << 20)
    const accepted: number[] = []
    // One synchronous burst of 1 MiB publications, far faster than QUIC drains
    // on loopback: on until 50 past the first refusal (a loaded machine drains
    // some of it meanwhile, so no fixed count is sure to fill 64 MiB).
    let total = 0
    let refusedAt = -1
    for (let i = 0; i < 5000 && (refusedAt < 0 || i < refusedAt + 50); i++, total++) {
      if (pubsub.publish(topic, { i, data }) === 1) accepted.push(i)
      else if (refusedAt < 0) refusedAt = i
    }
    // Joined while the queue to b is (nearly) full: b learns it all the same.
    const late = pubsub.subscribe(joinedDuringBurst)
    expect(refusedAt).toBeGreaterThanOrEqual(32)
    expect(accepted.length).toBeLessThan(total)
    expect(logs.filter((l) => l.includes(`node ${b.name} is not reading fast enough`))).toHaveLength(1)
    expect((await stats()).publishFramesDropped).toBeGreaterThanOrEqual(total - accepted.length)
    await waitFor(`b to get the ${accepted.length} accepted publications`, async () => ((await b.call('receivedCounts', { handles: [h] })) as number[])[0] === accepted.length, 50_000)
    expect(((await b.call('received', { handles: [h] })) as number[][])[0]).toEqual(accepted)
    await membersEverywhere(joinedDuringBurst, 1, [b])
    // Caught up: publications reach b again.
    expect(pubsub.publish(topic, { i: -1 })).toBe(1)
    await waitFor('b to get the next one', async () => ((await b.call('receivedCounts', { handles: [h] })) as number[])[0] === accepted.length + 1)
    late.unsubscribe()
    await b.call('unsubscribe', { handle: h })
  }, 60_000)

  it('refuses a non-term message at the publisher, sending nothing', async () => {
    const topic = fresh('bad')
    await b.call('subscribe', { topic })
    await membersEverywhere(topic, 1, [null])
    const before = (await stats()).publishFramesSent
    expect(() => pubsub.publish(topic, { when: new (class Stamp {})() } as never)).toThrow(/message\.when is an instance of Stamp/)
    expect((await stats()).publishFramesSent).toBe(before)
    expect(await c.call('publishBad', { topic })).toMatch(/^TypeError: message\.f is a function/)
  })

  it('drops malformed pub/sub frames with a warning and keeps serving', async () => {
    const topic = fresh('malformed')
    const local = pubsub.subscribe(topic)
    await membersEverywhere(topic, 1, [b])
    const before = (await stats()).malformed!
    const garbage: Array<{ cmd: string; args: Record<string, unknown> }> = [
      { cmd: 'raw', args: { bytes: [0xc1] } }, // never used in msgpack
      { cmd: 'raw', args: { bytes: [] } },
      { cmd: 'rawTerm', args: { term: 'not an array' } },
      { cmd: 'rawTerm', args: { term: [9, 'x'] } }, // unknown operation
      { cmd: 'rawTerm', args: { term: [0, '', 'empty topic'] } },
      { cmd: 'rawTerm', args: { term: [0, topic] } }, // no message
      { cmd: 'rawTerm', args: { term: [1, [[topic, ['not an id'], []]]] } },
      { cmd: 'rawTerm', args: { term: [2, 'not entries'] } },
    ]
    for (const g of garbage) expect(await b.call(g.cmd, { target: node(), ...g.args })).toBe('ok')
    await waitFor('every malformed frame to be counted', async () => (await stats()).malformed! - before === garbage.length)
    expect(logs.filter((l) => l.includes('pubsub: dropped a malformed frame')).length).toBeGreaterThanOrEqual(garbage.length)
    // Still connected and serving, in both directions.
    expect(nodes()).toContain(b.name)
    expect(local.size).toBe(0)
    expect(await b.call('publish', { topic, message: 'still fine' })).toBe(1)
    await waitFor('a to get it', () => local.size === 1)
    expect(await drain(local)).toEqual(['still fine'])
    local.unsubscribe()
  })
})
