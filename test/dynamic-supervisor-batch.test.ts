// DynamicSupervisor.startChildren / terminateChildren: many children in one
// request to the supervisor (the hub's hot path), each still a real
// supervised process whose init ran, with failures reported per child.
import { DynamicSupervisor, GenServer, Pid, exit, isAlive } from 'ironwood'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { captureLogs, until } from './process-helpers.js'

let logs: ReturnType<typeof captureLogs>
beforeAll(() => {
  logs = captureLogs()
})
afterAll(() => logs.restore())

const inits: unknown[] = []
const terminated: unknown[] = []

class Device extends GenServer {
  arg: unknown = null
  override init(arg: unknown) {
    if (typeof arg === 'object' && arg !== null && 'fail' in arg) throw new Error(`device ${String((arg as { fail: unknown }).fail)} refused`)
    inits.push(arg)
    this.arg = arg
  }
  override handleCall() {
    return this.arg
  }
}

/** Traps exits, so a stop has to wait for it (its terminate runs first). */
class Slow extends GenServer {
  override init() {
    this.self.trapExit(true)
  }
  override async terminate(reason: unknown) {
    await new Promise((r) => setTimeout(r, 20))
    terminated.push(reason)
  }
}

const device = (arg: unknown) => ({ start: () => GenServer.start(Device, arg) })

describe('DynamicSupervisor batches', () => {
  it('starts every child of a batch as a supervised process, in order, and reports each failure on its own', async () => {
    const sup = await DynamicSupervisor.start()
    inits.length = 0
    const results = await sup.startChildren([device(1), device({ fail: 'two' }), device(3), { start: () => 'not a pid' as never }, device(5)])
    expect(results).toHaveLength(5)
    expect(results[0]).toEqual({ pid: expect.any(Pid) })
    expect(results[1]).toMatchObject({ error: expect.objectContaining({ message: 'device two refused' }) })
    expect(results[2]).toEqual({ pid: expect.any(Pid) })
    expect(results[3]).toMatchObject({ error: expect.any(TypeError) })
    expect(results[4]).toEqual({ pid: expect.any(Pid) })
    const pids = [results[0], results[2], results[4]].map((r) => (r as { pid: Pid }).pid)
    // init ran for each, and each answers with its own argument.
    expect(inits.sort()).toEqual([1, 3, 5])
    expect(await Promise.all(pids.map((p) => GenServer.call(p, 'arg')))).toEqual([1, 3, 5])
    // Only the started ones are children, in start order.
    expect(sup.whichChildren().map((c) => c.pid)).toEqual(pids)
    expect(sup.countChildren()).toMatchObject({ specs: 3, active: 3 })

    // Supervised: a crashed child is restarted with a new pid.
    exit(pids[1]!, 'boom')
    await until(() => sup.whichChildren()[1]?.pid !== null && !sup.whichChildren()[1]!.pid!.equals(pids[1]!))
    const again = sup.whichChildren()[1]!.pid!
    expect(await GenServer.call(again, 'arg')).toBe(3)
    await sup.stop()
    for (const p of [...pids, again]) expect(isAlive(p)).toBe(false)
  })

  it('starts 20,000 children in one request, and stops them all in one', async () => {
    const sup = await DynamicSupervisor.start()
    const n = 20_000
    const results = await sup.startChildren(Array.from({ length: n }, (_, i) => device(i)))
    const pids = results.map((r) => (r as { pid: Pid }).pid)
    expect(pids.every((p) => p instanceof Pid && isAlive(p))).toBe(true)
    expect(sup.countChildren().active).toBe(n)
    expect(await GenServer.call(pids[12_345]!, 'arg')).toBe(12_345)
    await sup.terminateChildren(pids)
    expect(pids.some((p) => isAlive(p))).toBe(false)
    expect(sup.countChildren()).toMatchObject({ specs: 0, active: 0 })
    await sup.stop()
  })

  it('refuses the children past maxChildren with a RangeError each, and starts the rest', async () => {
    const sup = await DynamicSupervisor.start({ maxChildren: 3 })
    await sup.startChild(device('first'))
    const results = await sup.startChildren([device('a'), device('b'), device('c')])
    expect('pid' in results[0]! && 'pid' in results[1]!).toBe(true)
    // (not toMatchObject with expect.any: Bun's replaces the matched value in the object it checks)
    const refused = (results[2] as { error: Error }).error
    expect(refused).toBeInstanceOf(RangeError)
    expect(refused.message).toMatch(/maxChildren \(3\)/)
    expect(sup.countChildren().active).toBe(3)
    await sup.stop()
  })

  it('refuses a malformed batch with a TypeError before starting anything', async () => {
    const sup = await DynamicSupervisor.start()
    await expect(sup.startChildren('nope' as never)).rejects.toThrow(TypeError)
    await expect(sup.startChildren([device(1), { start: 42 } as never])).rejects.toThrow(/specs\[1\]\.start/)
    await expect(sup.terminateChildren(['x'] as never)).rejects.toThrow(TypeError)
    expect(sup.countChildren().specs).toBe(0)
    expect(await sup.startChildren([])).toEqual([])
    await sup.stop()
  })

  it('terminateChildren waits for children that trap exits, runs their terminate, and ignores pids that are not children', async () => {
    const sup = await DynamicSupervisor.start()
    terminated.length = 0
    const results = await sup.startChildren([{ start: () => GenServer.start(Slow) }, { start: () => GenServer.start(Slow) }, device('keep')])
    const [s1, s2, keep] = results.map((r) => (r as { pid: Pid }).pid)
    const stranger = await GenServer.start(Device, 'stranger')
    await sup.terminateChildren([s1!, s2!, stranger])
    expect(terminated).toEqual(['shutdown', 'shutdown'])
    expect(isAlive(s1!) || isAlive(s2!)).toBe(false)
    expect(isAlive(stranger)).toBe(true)
    expect(sup.whichChildren().map((c) => c.pid)).toEqual([keep])
    await GenServer.stop(stranger)
    await sup.stop()
  })

  it('twenty thousand terminateChild requests queued at once all complete', async () => {
    const sup = await DynamicSupervisor.start()
    const results = await sup.startChildren(Array.from({ length: 20_000 }, (_, i) => device(i)))
    const pids = results.map((r) => (r as { pid: Pid }).pid)
    await Promise.all(pids.map((p) => sup.terminateChild(p)))
    expect(pids.some((p) => isAlive(p))).toBe(false)
    expect(sup.countChildren().specs).toBe(0)
    await sup.stop()
  })
})
