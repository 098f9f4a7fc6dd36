// The hub on one node (no cluster): the API, local supervision, hooks and
// validation. The cluster behaviour is in hub-cluster.test.ts.
import { GenServer, Hub, HubError, type HubStartResult, Pid, Table, cluster, exit, isAlive, node, setLogger } from 'ironwood'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { waitFor } from './cluster-harness.js'

class Device extends GenServer {
  arg: unknown = null
  override init(arg: unknown) {
    if (typeof arg === 'object' && arg !== null && 'fail' in arg) throw new Error('device refused to start')
    this.arg = arg ?? null
  }
  override handleCall(req: unknown) {
    if (req === 'arg') return this.arg
    if (req === 'quit') {
      this.stop('normal')
      return 'bye'
    }
    return null
  }
}

const logs: string[] = []
beforeAll(() => {
  setLogger((e) => logs.push(e.message))
  Hub.define('device', Device)
})
afterAll(() => setLogger(null))

let hub: Hub | undefined
afterEach(async () => {
  await hub?.stop()
  hub = undefined
})

describe('Hub on a single node', () => {
  it('starts a child, finds it by id, answers the registry from a native table, and stops it', async () => {
    hub = await Hub.start({ id: 'one' })
    expect(hub.nodes()).toEqual([node()])
    const r = await hub.startChild({ id: 'device:1', start: ['device', [{ serial: 1 }]], metadata: { tag: 'sensors', floor: 3 } })
    expect(r).toMatchObject({ id: 'device:1', nodes: [{ node: node() }] })
    const pid = hub.whereIs('device:1')!
    expect(pid).toBeInstanceOf(Pid)
    expect(await GenServer.call(pid, 'arg')).toEqual({ serial: 1 })
    expect(hub.childLookup('device:1')).toEqual([{ node: node(), pid }])
    expect(hub.childLookup('device:1', { withMetadata: true })).toEqual({ nodes: [{ node: node(), pid }], metadata: { tag: 'sensors', floor: 3 } })
    expect(hub.tagQuery('sensors')).toEqual([{ id: 'device:1', nodes: [{ node: node(), pid }] }])
    expect(hub.tagQuery('other')).toEqual([])
    expect(hub.processList('local')).toEqual([{ id: 'device:1', nodes: [{ node: node(), pid }] }])
    expect(hub.whichChildren('local')).toEqual([{ node: node(), children: [{ id: 'device:1', pid }] }])
    // The registry lives in a named native table any thread can open.
    expect(Table.open('ironwood.hub:one').keys()).toEqual(['device:1'])

    expect(await hub.stopChild('device:1')).toMatchObject({ id: 'device:1', nodes: [{ node: node(), pid }] })
    expect(isAlive(pid)).toBe(false)
    expect(hub.whereIs('device:1')).toBeUndefined()
    expect(hub.processList('global')).toEqual([])
    await expect(hub.stopChild('device:1')).rejects.toMatchObject({ code: 'ENOTFOUND', id: 'device:1' })
  })

  it('refuses a duplicate id with its current location', async () => {
    hub = await Hub.start({ id: 'dup' })
    const first = (await hub.startChild({ id: 'x', start: ['device', []] })) as { nodes: Array<{ pid: Pid }> }
    const e = await hub.startChild({ id: 'x', start: ['device', []] }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(HubError)
    expect(e).toMatchObject({ code: 'EALREADYSTARTED', id: 'x', node: node() })
    expect((e as HubError).pid!.equals(first.nodes[0]!.pid)).toBe(true)
    // Without checkExisting the owner still refuses a second copy.
    const r = (await hub.startChildren([{ id: 'x', start: ['device', []] }], { checkExisting: false })) as HubStartResult
    expect(r).toMatchObject({ status: 'error', started: [], errors: [{ id: 'x', node: node(), reason: 'already_started' }] })
    expect(hub.processList()).toHaveLength(1)
  })

  it('starts batches and reports each failure; rollback stops the ones that started', async () => {
    hub = await Hub.start({ id: 'batch' })
    const specs = [
      { id: 'a', start: ['device', [1]] as [string, unknown[]] },
      { id: 'bad', start: ['device', [{ fail: true }]] as [string, unknown[]] },
      { id: 'c', start: ['device', [3]] as [string, unknown[]] },
    ]
    const r = (await hub.startChildren(specs as never)) as HubStartResult
    expect(r.status).toBe('error')
    expect(r.started.map((s) => s.id).sort()).toEqual(['a', 'c'])
    expect(r.errors).toEqual([{ id: 'bad', node: node(), reason: expect.stringMatching(/start_failed: device refused to start/) }])
    expect(r.rollback).toBe(false)
    await hub.stopChildren(['a', 'c'])

    const rolled = (await hub.startChildren(specs as never, { onFailure: 'rollback' })) as HubStartResult
    expect(rolled).toMatchObject({ status: 'error', started: [], rollback: true })
    expect(rolled.errors.map((e) => e.id)).toEqual(['bad'])
    expect(hub.processList()).toEqual([])
    await expect(hub.startChild(specs[1] as never)).rejects.toMatchObject({ code: 'ESTARTFAILED' })
  })

  it('await: false answers start_initiated and the child appears', async () => {
    hub = await Hub.start({ id: 'async' })
    expect(await hub.startChild({ id: 'later', start: ['device', []] }, { await: false })).toEqual({ status: 'start_initiated' })
    await waitFor('the child to be registered', () => hub!.whereIs('later') !== undefined)
    expect(await hub.stopChildren(['later'], { await: false })).toEqual({ status: 'stop_initiated' })
    await waitFor('the child to be gone', () => hub!.whereIs('later') === undefined)
  })

  it('restarts a crashed child on the same node with a new pid in the registry; a transient child that exits normally is removed', async () => {
    hub = await Hub.start({ id: 'sup' })
    const updates: unknown[] = []
    hub.on('childPidUpdate', (p) => updates.push(p))
    await hub.startChild({ id: 'p', start: ['device', []] })
    const before = hub.whereIs('p')!
    exit(before, 'kill')
    await waitFor('a new pid', () => hub!.whereIs('p') !== undefined && !hub!.whereIs('p')!.equals(before))
    const after = hub.whereIs('p')!
    expect(isAlive(after)).toBe(true)
    expect(updates).toEqual([{ id: 'p', node: node(), pid: after }])

    await hub.startChild({ id: 't', start: ['device', []], restart: 'transient' })
    const t = hub.whereIs('t')!
    expect(await GenServer.call(t, 'quit')).toBe('bye')
    await waitFor('the transient child to be removed', () => hub!.whereIs('t') === undefined)
    expect(hub.processList().map((c) => c.id)).toEqual(['p'])
  })

  it('a local supervisor that exceeds its restart intensity is replaced and its children started again', async () => {
    hub = await Hub.start({ id: 'intensity', maxRestarts: 1, maxSeconds: 5 })
    await hub.startChildren([
      { id: 'i1', start: ['device', []] },
      { id: 'i2', start: ['device', []] },
    ])
    const first = hub.whereIs('i2')!
    exit(hub.whereIs('i1')!, 'kill')
    await waitFor('the first restart', () => hub!.whereIs('i1') !== undefined && isAlive(hub!.whereIs('i1')!))
    exit(hub.whereIs('i1')!, 'kill') // the second restart within 5 s: intensity exceeded
    await waitFor('both children running again', () =>
      ['i1', 'i2'].every((id) => hub!.whereIs(id) !== undefined && isAlive(hub!.whereIs(id)!)) && !hub!.whereIs('i2')!.equals(first),
    )
    expect(hub.processList().map((c) => c.id)).toEqual(['i1', 'i2'])
    expect(logs.some((m) => /local supervisor exited/.test(m))).toBe(true)
  })

  it('follows the node name when the cluster starts after the hub', async () => {
    hub = await Hub.start({ id: 'rename' })
    await hub.startChild({ id: 'r1', start: ['device', []] })
    expect(hub.childLookup('r1')[0]!.node).toBe('nonode@nohost')
    await cluster.start({ name: 'hubrename', cookie: 'rename-cookie' })
    try {
      expect(hub.nodes()).toEqual([node()])
      await hub.startChild({ id: 'r2', start: ['device', []] })
      expect(hub.processList().map((c) => [c.id, c.nodes[0]!.node])).toEqual([
        ['r1', node()],
        ['r2', node()],
      ])
    } finally {
      await cluster.stop()
    }
  })

  it('starts static children with the hub', async () => {
    hub = await Hub.start({ id: 'static', children: [{ id: 's1', start: ['device', ['one']] }, { id: 's2', start: ['device', ['two']] }] })
    expect(hub.processList().map((c) => c.id)).toEqual(['s1', 's2'])
    expect(await GenServer.call(hub.whereIs('s2')!, 'arg')).toBe('two')
  })

  it('runs hooks with payloads in priority order, refuses duplicate handler ids, and survives a throwing handler', async () => {
    const seen: string[] = []
    hub = await Hub.start({
      id: 'hooks',
      hooks: { registryPidInsert: (p) => seen.push(`insert ${p.id} ${p.nodes[0]!.node === node()}`) },
    })
    hub.on('preChildrenStart', (p) => seen.push(`pre low ${p.children.map((c) => c.id).join(',')}`), { priority: 1 })
    const hiId = hub.on('preChildrenStart', () => seen.push('pre high'), { id: 'hi', priority: 10 })
    expect(hiId).toBe('hi')
    expect(() => hub!.on('preChildrenStart', () => {}, { id: 'hi' })).toThrow(TypeError)
    const onAny = hub.on.bind(hub) as (name: string, fn: () => void) => string
    expect(() => onAny('noSuchHook', () => {})).toThrow(/unknown hook/)
    hub.on('postChildrenStart', () => {
      throw new Error('handler bug')
    })
    hub.on('postChildrenStart', (p) => seen.push(`post ${p.results.map((r) => r.id).join(',')}`))
    hub.on('processStartups', (p) => seen.push(`startups ${p.started.map((s) => s.id).join(',')}`))
    hub.on('registryPidRemove', (p) => seen.push(`remove ${p.id}`))
    hub.on('childDataAlter', (d) => ({ ...d, metadata: { ...d.metadata, tag: 'altered' } }))
    await hub.startChild({ id: 'h1', start: ['device', []] })
    await hub.stopChild('h1')
    expect(seen).toEqual(['pre high', 'pre low h1', 'insert h1 true', 'startups h1', 'post h1', 'remove h1'])
    expect(logs.some((m) => /postChildrenStart handler .* threw/.test(m))).toBe(true)
    // The alter hook changed the metadata before the start.
    await hub.startChild({ id: 'h2', start: ['device', []] })
    expect(hub.tagQuery('altered').map((c) => c.id)).toEqual(['h2'])
    expect(hub.off('preChildrenStart', 'hi')).toBe(true)
    expect(hub.off('preChildrenStart', 'hi')).toBe(false)
    const shutdown: unknown[] = []
    hub.on('hubShutdown', (p) => shutdown.push(p))
    await hub.stop()
    expect(shutdown).toEqual([{ reason: 'stop' }])
    expect(hub.isAlive()).toBe(false)
    hub = undefined
  })

  it('refuses bad configs and specs clearly', async () => {
    await expect(Hub.start(undefined as never)).rejects.toThrow(TypeError)
    await expect(Hub.start({ id: '' })).rejects.toThrow(/id must be/)
    await expect(Hub.start({ id: 'x', redundancy: { strategy: 'replication', factor: 0 } })).rejects.toThrow(/redundancy\.factor/)
    await expect(Hub.start({ id: 'x', sync: { strategy: 'pubsub', interval: -1 } })).rejects.toThrow(RangeError)
    await expect(Hub.start({ id: 'x', hooks: { nope: () => {} } as never })).rejects.toThrow(/unknown hook 'nope'/)
    await expect(Hub.start({ id: 'x', children: [{ id: 'a', start: ['device', []] }, { id: 'a', start: ['device', []] }] })).rejects.toThrow(/duplicate/)
    expect(() => Hub.define('x', class {} as never)).toThrow(/extends GenServer/)

    hub = await Hub.start({ id: 'bad' })
    await expect(hub.startChild({ id: 'u', start: ['nope', []] })).rejects.toThrow(/behaviour 'nope', which is not defined/)
    await expect(hub.startChild({ id: '', start: ['device', []] })).rejects.toThrow(TypeError)
    await expect(hub.startChild({ id: 'f', start: ['device', [() => 1]] as never })).rejects.toThrow(TypeError)
    await expect(hub.startChild({ id: 'r', start: ['device', []], restart: 'sometimes' as never })).rejects.toThrow(/restart must be/)
    await expect(hub.startChild({ id: 'o', start: ['device', []] }, { onFailure: 'retry' as never })).rejects.toThrow(/onFailure/)
    await expect(hub.startChild({ id: 'o', start: ['device', []] }, { timeout: 0 })).rejects.toThrow(RangeError)
    await expect(hub.startChildren([{ id: 'd', start: ['device', []] }, { id: 'd', start: ['device', []] }])).rejects.toThrow(/twice/)
    await expect(Hub.start({ id: 'bad' })).rejects.toThrow(/already running/)
    // Nothing was started by any of the refused calls.
    expect(hub.processList()).toEqual([])
  })

  it('guided distribution starts on a named member and refuses non-members', async () => {
    hub = await Hub.start({ id: 'guided', distribution: { strategy: 'guided' } })
    await expect(hub.startChild({ id: 'g', start: ['device', []] })).rejects.toThrow(/needs \{ nodes/)
    await expect(hub.startChild({ id: 'g', start: ['device', []] }, { nodes: ['ghost@127.0.0.1:1'] })).rejects.toMatchObject({ code: 'EBADNODES' })
    expect(await hub.startChild({ id: 'g', start: ['device', []] }, { nodes: ['ghost@127.0.0.1:1', node()] })).toMatchObject({ nodes: [{ node: node() }] })
  })
})
