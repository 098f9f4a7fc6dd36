// Fault injection in the transport (cluster.faults): a block cuts two real
// node processes apart below QUIC, so both report the other down after the
// heartbeat timeout while a third node still reaches both; an unblock heals
// the link and both report it up again.
import { fileURLToPath } from 'node:url'

import { ConnectionError, cluster, node, nodes } from 'ironwood'
import { afterAll, describe, expect, it } from 'vitest'

import { type TestNode, FAST, forkNode, killAll, waitFor } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/cluster-node.mjs', import.meta.url))
const COOKIE = 'faults-cookie'

const downs = (n: TestNode, peer: string) => n.events.filter((e) => e.event === 'nodedown' && e.node === peer)
const ups = (n: TestNode, peer: string) => n.events.filter((e) => e.event === 'nodeup' && e.node === peer)

describe('cluster.faults', () => {
  afterAll(async () => {
    killAll()
    await cluster.stop()
  })

  it('refuses bad names and works only on a started node', async () => {
    expect(() => cluster.faults.block('nope')).toThrow(TypeError)
    expect(() => cluster.faults.block(['a@127.0.0.1:1', 7 as unknown as string])).toThrow(TypeError)
    expect(() => cluster.faults.block('a@127.0.0.1:4999')).toThrow(ConnectionError)
    expect(cluster.faults.blocked()).toEqual([])
    expect(cluster.faults.unblock()).toEqual([])
    await cluster.start({ name: 'faults-t', cookie: COOKIE, ...FAST })
    expect(() => cluster.faults.block('a@localhost:4999')).toThrow(/IP address/)
    cluster.faults.block('a@127.0.0.1:4999')
    expect(cluster.faults.blocked()).toEqual(['a@127.0.0.1:4999'])
    expect(cluster.faults.unblock('a@127.0.0.1:4999')).toEqual(['a@127.0.0.1:4999'])
    expect(cluster.faults.blocked()).toEqual([])
  })

  it('block splits two nodes (nodedown on both sides, others unaffected); unblock heals them', async () => {
    const a = await forkNode(FIXTURE, { name: 'fa', cookie: COOKIE, seeds: [node()] })
    const b = await forkNode(FIXTURE, { name: 'fb', cookie: COOKIE, seeds: [node()] })
    await waitFor('a full mesh of three', async () =>
      nodes().length === 2 && (await a.call('nodes')).includes(b.name) && (await b.call('nodes')).includes(a.name))

    expect(await a.call('faultBlock', { nodes: [b.name] })).toEqual([b.name])
    await waitFor('a to see b down', () => downs(a, b.name).length === 1, 15_000)
    await waitFor('b to see a down', () => downs(b, a.name).length === 1, 15_000)
    expect(downs(a, b.name)[0]!.info.reason).toBe('heartbeat_timeout')
    expect(downs(b, a.name)[0]!.info.reason).toBe('heartbeat_timeout')
    expect(await a.call('nodes')).toEqual([node()])
    expect(await b.call('nodes')).toEqual([node()])
    // The third node (this one) still has both, and b's own attempts to reach a fail.
    expect(nodes().sort()).toEqual([a.name, b.name].sort())
    expect(await b.call('connect', { target: a.name })).toBe(false)
    expect(await b.call('nodes')).toEqual([node()])

    // A split longer than a few reconnection attempts still heals on unblock.
    await new Promise((r) => setTimeout(r, 2_000))
    expect(await a.call('faultUnblock', {})).toEqual([b.name])
    await waitFor('a to see b up again', () => ups(a, b.name).length === 2, 15_000)
    await waitFor('b to see a up again', () => ups(b, a.name).length === 2, 15_000)
    expect((await a.call('nodes')).sort()).toEqual([node(), b.name].sort())
    expect(downs(a, node())).toEqual([])
    expect(downs(b, node())).toEqual([])
  }, 60_000)
})
