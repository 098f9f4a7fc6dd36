import {
  type ChildSpec,
  type DownMessage,
  DynamicSupervisor,
  GenServer,
  Pid,
  Supervisor,
  exit,
  isAlive,
  processInfo,
  spawn,
  supervisionTree,
  whereis,
} from 'ironwood'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { captureLogs, inProcess, settle, sleep, until } from './process-helpers.js'

let logs: ReturnType<typeof captureLogs>
beforeAll(() => {
  logs = captureLogs()
})
afterAll(() => logs.restore())

/** What happened, in order: `start a`, `stop a (shutdown)`. */
let events: string[] = []

class Worker extends GenServer {
  id = ''
  override init(id: string) {
    this.id = id
    events.push(`start ${id}`)
  }
  override handleCast(msg: string) {
    if (msg === 'crash') throw new Error(`${this.id} crashed`)
    if (msg === 'quit') this.stop('normal')
  }
  override handleCall() {
    return this.id
  }
  override terminate(reason: unknown) {
    events.push(`stop ${this.id} (${typeof reason === 'string' ? reason : 'error'})`)
  }
}

const worker = (id: string, extra: Partial<ChildSpec> = {}): ChildSpec => ({
  id,
  start: () => GenServer.start(Worker, id),
  ...extra,
})

const pidsOf = (sup: { whichChildren(): Array<{ id: string | null; pid: Pid | null }> }): Record<string, Pid | null> =>
  Object.fromEntries(sup.whichChildren().map((c) => [c.id, c.pid] as const))

/** Resolves with the DOWN message of `pid`, monitored from a helper process. */
function downOf(pid: Pid): Promise<DownMessage> {
  return inProcess(async (self) => {
    self.monitor(pid)
    return self.receive<DownMessage>((m) => (m as DownMessage).type === 'DOWN')
  })
}

async function crash(pid: Pid | null): Promise<void> {
  GenServer.cast(pid!, 'crash')
  await until(() => !isAlive(pid!))
}

describe('strategies', () => {
  it('one_for_one restarts only the child that exited', async () => {
    events = []
    const sup = await Supervisor.start({ strategy: 'one_for_one', children: [worker('a'), worker('b'), worker('c')] })
    expect(events).toEqual(['start a', 'start b', 'start c'])
    const before = pidsOf(sup)
    events = []
    await crash(before.b!)
    await until(() => sup.whichChildren()[1]!.pid !== null)
    const after = pidsOf(sup)
    expect(after.a).toBe(before.a)
    expect(after.c).toBe(before.c)
    expect(after.b).not.toBe(before.b)
    expect(isAlive(after.b!)).toBe(true)
    expect(events).toEqual(['stop b (error)', 'start b'])
    expect(await GenServer.call(after.b!, 'id?')).toBe('b')
    await sup.stop()
  })

  it('one_for_all restarts every child, stopping the others in reverse order first', async () => {
    events = []
    const sup = await Supervisor.start({ strategy: 'one_for_all', children: [worker('a'), worker('b'), worker('c')] })
    const before = pidsOf(sup)
    events = []
    await crash(before.b!)
    await until(() => sup.whichChildren().every((c) => c.pid !== null && !Object.values(before).includes(c.pid)))
    expect(events).toEqual(['stop b (error)', 'stop c (shutdown)', 'stop a (shutdown)', 'start a', 'start b', 'start c'])
    for (const pid of Object.values(before)) expect(isAlive(pid!)).toBe(false)
    await sup.stop()
  })

  it('rest_for_one restarts the child and the ones started after it', async () => {
    events = []
    const sup = await Supervisor.start({ strategy: 'rest_for_one', children: [worker('a'), worker('b'), worker('c'), worker('d')] })
    const before = pidsOf(sup)
    events = []
    await crash(before.b!)
    await until(() => sup.whichChildren().every((c) => c.pid !== null))
    await until(() => events.length === 6)
    const after = pidsOf(sup)
    expect(after.a).toBe(before.a)
    for (const id of ['b', 'c', 'd']) expect(after[id]).not.toBe(before[id])
    expect(events).toEqual(['stop b (error)', 'stop d (shutdown)', 'stop c (shutdown)', 'start b', 'start c', 'start d'])
    await sup.stop()
  })

  it('a temporary child caught in a one_for_all restart is removed, not restarted', async () => {
    events = []
    const sup = await Supervisor.start({
      strategy: 'one_for_all',
      children: [worker('a'), worker('tmp', { restart: 'temporary' }), worker('c')],
    })
    const before = pidsOf(sup)
    events = []
    await crash(before.a!)
    await until(() => sup.whichChildren().length === 2 && sup.whichChildren().every((c) => c.pid !== null))
    expect(sup.whichChildren().map((c) => c.id)).toEqual(['a', 'c'])
    expect(isAlive(before.tmp!)).toBe(false)
    expect(events).toEqual(['stop a (error)', 'stop c (shutdown)', 'stop tmp (shutdown)', 'start a', 'start c'])
    await sup.stop()
  })
})

describe('restart types', () => {
  it('permanent restarts even after a normal exit; transient only after an abnormal one; temporary never', async () => {
    const sup = await Supervisor.start({
      children: [worker('perm'), worker('trans', { restart: 'transient' }), worker('temp', { restart: 'temporary' })],
    })
    const first = pidsOf(sup)

    GenServer.cast(first.perm!, 'quit')
    await until(() => sup.whichChildren()[0]!.pid !== null && sup.whichChildren()[0]!.pid !== first.perm)

    GenServer.cast(first.trans!, 'quit')
    await until(() => !isAlive(first.trans!))
    await settle()
    expect(sup.whichChildren()[1]).toMatchObject({ id: 'trans', pid: null, status: 'stopped', restart: 'transient' })

    await sup.restartChild('trans')
    const trans2 = pidsOf(sup).trans!
    await crash(trans2)
    await until(() => sup.whichChildren()[1]!.pid !== null)
    expect(sup.whichChildren()[1]!.pid).not.toBe(trans2)

    await crash(first.temp!)
    await settle()
    expect(sup.whichChildren().map((c) => c.id)).toEqual(['perm', 'trans'])
    await sup.stop()
  })
})

describe('intensity', () => {
  it('more than maxRestarts within maxSeconds stops the supervisor (reason shutdown) and its children', async () => {
    const sup = await Supervisor.start({ maxRestarts: 2, maxSeconds: 5, children: [worker('x'), worker('y')] })
    const down = downOf(sup.pid)
    const y = pidsOf(sup).y!
    for (let i = 0; i < 2; i++) {
      const pid = sup.whichChildren()[0]!.pid
      await crash(pid)
      await until(() => sup.whichChildren()[0]!.pid !== null)
    }
    expect(isAlive(sup.pid)).toBe(true)
    await crash(sup.whichChildren()[0]!.pid)
    const msg = await down
    expect(msg.reason).toBe('shutdown')
    expect(isAlive(y)).toBe(false)
    expect(sup.whichChildren()).toEqual([])
    expect(logs.events.some((e) => e.pid === sup.pid && /more than 2 restarts/.test(e.message))).toBe(true)
  })

  it('restarts spread over more than maxSeconds are not counted together', async () => {
    const sup = await Supervisor.start({ maxRestarts: 1, maxSeconds: 0.03, children: [worker('x')] })
    for (let i = 0; i < 3; i++) {
      await crash(sup.whichChildren()[0]!.pid)
      await until(() => sup.whichChildren()[0]!.pid !== null)
      await sleep(40)
    }
    expect(isAlive(sup.pid)).toBe(true)
    await sup.stop()
  })

  it('a nested supervisor that gives up is restarted by its parent, which gives up in turn', async () => {
    events = []
    let childSup: Supervisor | undefined
    const parent = await Supervisor.start({
      maxRestarts: 1,
      maxSeconds: 5,
      children: [
        worker('sibling'),
        {
          id: 'inner',
          type: 'supervisor',
          start: async () => {
            childSup = await Supervisor.start({ maxRestarts: 0, children: [worker('leaf')] })
            return childSup.pid
          },
        },
      ],
    })
    const parentDown = downOf(parent.pid)
    const inner1 = childSup!
    expect(parent.whichChildren()[1]).toMatchObject({ id: 'inner', type: 'supervisor', pid: inner1.pid })
    expect(processInfo(inner1.pid)?.parent).toBe(parent.pid)
    expect(processInfo(inner1.pid)?.kind).toBe('supervisor')

    // leaf crashes -> inner exceeds 0 restarts -> inner exits 'shutdown' -> parent restarts inner (1st restart)
    await crash(inner1.whichChildren()[0]!.pid)
    await until(() => parent.whichChildren()[1]!.pid !== null && parent.whichChildren()[1]!.pid !== inner1.pid)
    expect(isAlive(inner1.pid)).toBe(false)
    const inner2 = childSup!
    expect(inner2.pid).not.toBe(inner1.pid)
    expect(isAlive(inner2.whichChildren()[0]!.pid!)).toBe(true)

    // again -> parent's 2nd restart in 5 s exceeds maxRestarts 1 -> parent exits 'shutdown'
    await crash(inner2.whichChildren()[0]!.pid)
    expect((await parentDown).reason).toBe('shutdown')
    expect(isAlive(inner2.pid)).toBe(false)
    expect(events.filter((e) => e.startsWith('start'))).toEqual(['start sibling', 'start leaf', 'start leaf'])
  })
})

describe('shutdown', () => {
  it('stops children in reverse start order, each within its budget', async () => {
    events = []
    const stubborn = (): Promise<Pid> =>
      Promise.resolve(
        spawn(
          async (self) => {
            events.push('start stubborn')
            await self.receive((m) => m === 'never') // ignores its EXIT: must be killed
          },
          { trapExit: true },
        ),
      )
    const sup = await Supervisor.start({
      children: [
        worker('first'),
        { id: 'stubborn', start: stubborn, shutdown: 30 },
        worker('brutal', { shutdown: 'brutal_kill' }),
        worker('last'),
      ],
    })
    await settle()
    const pids = pidsOf(sup)
    const stubbornDown = downOf(pids.stubborn!)
    const brutalDown = downOf(pids.brutal!)
    events = []
    const t0 = Date.now()
    await sup.stop()
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25)
    // 'brutal' is killed, so its terminate does not run; 'stubborn' is killed after 30 ms.
    expect(events).toEqual(['stop last (shutdown)', 'stop first (shutdown)'])
    expect((await brutalDown).reason).toBe('killed')
    expect((await stubbornDown).reason).toBe('killed')
    expect(isAlive(sup.pid)).toBe(false)
    expect(logs.events.some((e) => /did not stop within 30 ms/.test(e.message))).toBe(true)
  })

  it('a trapping child that exits on its EXIT stops in time; a nested supervisor stops its own children first', async () => {
    events = []
    const polite = () =>
      spawn(
        async (self) => {
          await self.receive((m) => (m as { type?: string }).type === 'EXIT')
          events.push('polite cleaned up')
        },
        { trapExit: true },
      )
    const sup = await Supervisor.start({
      children: [
        { id: 'polite', start: polite, shutdown: 1000 },
        {
          id: 'inner',
          type: 'supervisor',
          start: () => Supervisor.start({ strategy: 'one_for_all', children: [worker('i1'), worker('i2')] }),
        },
      ],
    })
    events = []
    await sup.stop()
    expect(events).toEqual(['stop i2 (shutdown)', 'stop i1 (shutdown)', 'polite cleaned up'])
  })

  it('a supervisor killed outright takes its (non-trapping) children with it', async () => {
    const sup = await Supervisor.start({ children: [worker('a')] })
    const a = pidsOf(sup).a!
    exit(sup.pid, 'kill')
    expect(isAlive(a)).toBe(false)
  })
})

describe('managing children', () => {
  it('startChild, terminateChild, restartChild, deleteChild, countChildren', async () => {
    const sup = await Supervisor.start({ children: [worker('a')] })
    const b = await sup.startChild(worker('b'))
    expect(isAlive(b)).toBe(true)
    expect(processInfo(b)?.links).toContain(sup.pid)
    expect(sup.countChildren()).toEqual({ specs: 2, active: 2, supervisors: 0, workers: 2 })
    await expect(sup.startChild(worker('b'))).rejects.toThrow(TypeError)

    await sup.terminateChild('b')
    expect(isAlive(b)).toBe(false)
    expect(sup.whichChildren()[1]).toMatchObject({ id: 'b', pid: null, status: 'stopped' })
    expect(sup.countChildren()).toEqual({ specs: 2, active: 1, supervisors: 0, workers: 2 })
    await expect(sup.deleteChild('a')).rejects.toThrow(RangeError) // running

    const b2 = await sup.restartChild('b')
    expect(isAlive(b2)).toBe(true)
    await expect(sup.restartChild('b')).rejects.toThrow(RangeError) // running
    await sup.terminateChild('b')
    await sup.deleteChild('b')
    expect(sup.whichChildren().map((c) => c.id)).toEqual(['a'])

    await expect(sup.terminateChild('nope')).rejects.toThrow(RangeError)
    await expect(sup.restartChild('nope')).rejects.toThrow(RangeError)
    await expect(sup.deleteChild('nope')).rejects.toThrow(RangeError)
    await expect(sup.startChild({ id: 'bad' } as never)).rejects.toThrow(TypeError)
    expect(isAlive(sup.pid)).toBe(true) // errors are answers, not crashes
    await sup.stop()
  })

  it('a startChild whose start fails rejects with that error and keeps no spec', async () => {
    const sup = await Supervisor.start({ children: [] })
    const failure = new Error('no')
    await expect(sup.startChild({ id: 'f', start: () => Promise.reject(failure) })).rejects.toBe(failure)
    await expect(sup.startChild({ id: 'g', start: () => 'not a pid' as never })).rejects.toThrow(TypeError)
    expect(sup.whichChildren()).toEqual([])
    await sup.stop()
  })

  it('Supervisor.start fails with the failing child’s error and stops the children already started', async () => {
    events = []
    const failure = new Error('child c failed')
    const err = await Supervisor.start({
      children: [worker('a'), worker('b'), { id: 'c', start: () => Promise.reject(failure) }, worker('d')],
    }).catch((e: unknown) => e)
    expect(err).toBe(failure)
    expect(events).toEqual(['start a', 'start b', 'stop b (shutdown)', 'stop a (shutdown)'])
  })

  it('a child that was already dead when linked counts as an exit (noproc) and is restarted', async () => {
    let starts = 0
    const sup = await Supervisor.start({
      children: [
        {
          id: 'flaky',
          start: async () => {
            starts++
            if (starts === 1) {
              const pid = spawn(() => {})
              await settle()
              return pid // dead on arrival
            }
            return GenServer.start(Worker, 'flaky')
          },
        },
      ],
    })
    await until(() => starts === 2 && sup.whichChildren()[0]!.pid !== null)
    expect(isAlive(sup.whichChildren()[0]!.pid!)).toBe(true)
    await sup.stop()
  })

  it('can be named, and whichChildren is empty once it stopped', async () => {
    const sup = await Supervisor.start({ name: 'sup-named', children: [worker('a')] })
    expect(whereis('sup-named')).toBe(sup.pid)
    await sup.stop()
    expect(whereis('sup-named')).toBeUndefined()
    expect(sup.whichChildren()).toEqual([])
    expect(sup.countChildren().specs).toBe(0)
  })
})

describe('validation', () => {
  it('names the problem with TypeError / RangeError', async () => {
    const start = () => GenServer.start(Worker, 'v')
    await expect(Supervisor.start(undefined as never)).rejects.toThrow(TypeError)
    await expect(Supervisor.start({ strategy: 'one_for_some' as never })).rejects.toThrow(/strategy/)
    await expect(Supervisor.start({ strategy: 'one_for_some' as never })).rejects.toThrow(TypeError)
    await expect(Supervisor.start({ maxRestarts: -1 })).rejects.toThrow(RangeError)
    await expect(Supervisor.start({ maxRestarts: 1.5 })).rejects.toThrow(RangeError)
    await expect(Supervisor.start({ maxRestarts: '3' as never })).rejects.toThrow(TypeError)
    await expect(Supervisor.start({ maxSeconds: 0 })).rejects.toThrow(RangeError)
    await expect(Supervisor.start({ children: 'a' as never })).rejects.toThrow(TypeError)
    await expect(Supervisor.start({ children: [{ start } as never] })).rejects.toThrow(/children\[0\]\.id is missing/)
    await expect(Supervisor.start({ children: [{ id: 'a' } as never] })).rejects.toThrow(/children\[0\]\.start/)
    await expect(Supervisor.start({ children: [{ id: 'a', start }, { id: 'a', start }] })).rejects.toThrow(/duplicate/)
    await expect(Supervisor.start({ children: [{ id: 'a', start, restart: 'sometimes' as never }] })).rejects.toThrow(
      /children\[0\]\.restart/,
    )
    await expect(Supervisor.start({ children: [{ id: 'a', start, shutdown: -1 }] })).rejects.toThrow(RangeError)
    await expect(Supervisor.start({ children: [{ id: 'a', start, shutdown: 'later' as never }] })).rejects.toThrow(TypeError)
    await expect(Supervisor.start({ children: [{ id: 'a', start, type: 'manager' as never }] })).rejects.toThrow(TypeError)
    await expect(Supervisor.start({ children: [null as never] })).rejects.toThrow(TypeError)
  })
})

describe('DynamicSupervisor', () => {
  it('starts children on demand up to maxChildren, restarts them, and terminates by pid', async () => {
    const dyn = await DynamicSupervisor.start({ maxChildren: 2 })
    expect(processInfo(dyn.pid)?.kind).toBe('dynamic_supervisor')
    const a = await dyn.startChild({ start: () => GenServer.start(Worker, 'da') })
    const b = await dyn.startChild({ id: 'named', start: () => GenServer.start(Worker, 'db'), restart: 'temporary' })
    await expect(dyn.startChild({ start: () => GenServer.start(Worker, 'dc') })).rejects.toThrow(RangeError)
    expect(dyn.countChildren()).toEqual({ specs: 2, active: 2, supervisors: 0, workers: 2 })
    expect(dyn.whichChildren().map((c) => c.id)).toEqual([null, 'named'])

    await crash(a)
    await until(() => dyn.whichChildren()[0]?.pid !== null && dyn.whichChildren()[0]?.pid !== a)
    const a2 = dyn.whichChildren()[0]!.pid!
    expect(isAlive(a2)).toBe(true)

    await crash(b) // temporary: gone
    await settle()
    expect(dyn.whichChildren().map((c) => c.pid)).toEqual([a2])

    await dyn.terminateChild(a2)
    expect(isAlive(a2)).toBe(false)
    expect(dyn.countChildren().specs).toBe(0)
    await expect(dyn.terminateChild(a2)).rejects.toThrow(RangeError)
    await expect(dyn.terminateChild('x' as never)).rejects.toThrow(TypeError)
    await dyn.stop()
  })

  it('a transient child that exits normally is removed; stop ends the rest in reverse order', async () => {
    events = []
    const dyn = await DynamicSupervisor.start()
    const t = await dyn.startChild({ start: () => GenServer.start(Worker, 't'), restart: 'transient' })
    await dyn.startChild({ start: () => GenServer.start(Worker, 'u') })
    await dyn.startChild({ start: () => GenServer.start(Worker, 'v') })
    GenServer.cast(t, 'quit')
    await until(() => dyn.countChildren().specs === 2)
    events = []
    await dyn.stop()
    expect(events).toEqual(['stop v (shutdown)', 'stop u (shutdown)'])
  })

  it('validates its options and specs; intensity applies', async () => {
    await expect(DynamicSupervisor.start({ maxChildren: -1 })).rejects.toThrow(RangeError)
    await expect(DynamicSupervisor.start({ maxChildren: 'many' as never })).rejects.toThrow(TypeError)
    await expect(DynamicSupervisor.start({ maxSeconds: -1 })).rejects.toThrow(RangeError)
    const dyn = await DynamicSupervisor.start({ maxRestarts: 0 })
    await expect(dyn.startChild({} as never)).rejects.toThrow(/spec\.start/)
    const down = downOf(dyn.pid)
    await crash(await dyn.startChild({ start: () => GenServer.start(Worker, 'only') }))
    expect((await down).reason).toBe('shutdown')
  })
})

describe('supervision tree introspection', () => {
  it('supervisionTree() and sup.tree() show nested supervisors and their children', async () => {
    const top = await Supervisor.start({
      name: 'tree-top',
      strategy: 'rest_for_one',
      children: [
        worker('w1'),
        { id: 'dyn', type: 'supervisor', start: () => DynamicSupervisor.start() },
        { id: 'sub', type: 'supervisor', start: () => Supervisor.start({ children: [worker('w2')] }) },
      ],
    })
    const tree = supervisionTree().find((t) => t.pid === top.pid)!
    expect(tree).toMatchObject({ name: 'tree-top', kind: 'supervisor', strategy: 'rest_for_one' })
    expect(tree.children.map((c) => c.id)).toEqual(['w1', 'dyn', 'sub'])
    expect(tree.children[0]!.tree).toBeUndefined()
    expect(tree.children[1]!.tree).toMatchObject({ kind: 'dynamic_supervisor', children: [] })
    expect(tree.children[2]!.tree!.children).toMatchObject([{ id: 'w2', type: 'worker', restart: 'permanent', status: 'running' }])
    // Nested supervisors are not listed as roots.
    const subPid = tree.children[2]!.pid
    expect(supervisionTree().some((t) => t.pid === subPid)).toBe(false)
    expect(top.tree()).toEqual(tree)
    await top.stop()
    expect(supervisionTree().some((t) => t.pid === top.pid)).toBe(false)
  })
})
