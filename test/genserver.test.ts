import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  type ExitMessage,
  ExitError,
  type From,
  GenServer,
  NoProcessError,
  Pid,
  TimeoutError,
  exit,
  isAlive,
  processInfo,
  send,
  spawn,
  whereis,
} from 'ironwood'
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { captureLogs, inProcess, settle, sleep, until } from './process-helpers.js'

let logs: ReturnType<typeof captureLogs>
beforeAll(() => {
  logs = captureLogs()
})
afterAll(() => logs.restore())

type CounterRequest = 'get' | 'inc' | { add: number } | 'boom' | 'slow' | 'whoami'

class Counter extends GenServer {
  n = 0
  casts: unknown[] = []
  infos: unknown[] = []
  terminated: unknown[] = []

  override init(start: number) {
    this.n = start
  }

  override async handleCall(request: CounterRequest) {
    if (request === 'get') return this.n
    if (request === 'inc') return ++this.n
    if (request === 'boom') throw new Error('boom in handleCall')
    if (request === 'slow') return sleep(60_000)
    if (request === 'whoami') return this.pid
    this.n += request.add
    return this.n
  }

  override handleCast(message: unknown) {
    this.casts.push(message)
    if (message === 'crash') throw new Error('crash in handleCast')
  }

  override handleInfo(message: unknown) {
    this.infos.push(message)
  }

  override terminate(reason: unknown) {
    this.terminated.push(reason)
    terminations.push([this.pid, reason])
  }
}
const terminations: Array<[Pid, unknown]> = []
const terminatedWith = (pid: Pid) => terminations.filter(([p]) => p === pid).map(([, r]) => r)

describe('GenServer basics', () => {
  it('starts with init(arg), answers calls in order, handles casts and plain messages', async () => {
    const pid = await GenServer.start(Counter, 10)
    expect(pid).toBeInstanceOf(Pid)
    expect(processInfo(pid)?.kind).toBe('genserver')
    expect(await GenServer.call(pid, 'get')).toBe(10)
    const replies = await Promise.all([GenServer.call(pid, 'inc'), GenServer.call(pid, { add: 5 }), GenServer.call(pid, 'inc')])
    expect(replies).toEqual([11, 16, 17])
    expect(await GenServer.call(pid, 'whoami')).toBe(pid)
    GenServer.cast(pid, { event: 'a' })
    send(pid, 'plain')
    await GenServer.call(pid, 'get') // processed after both
    await GenServer.stop(pid)
    const server = terminations.find(([p]) => p === pid)
    expect(server?.[1]).toBe('normal')
  })

  it('exposes this.self and this.pid from the constructor on', async () => {
    let seen: { self: unknown; pid: unknown } | undefined
    class Probe extends GenServer {
      readonly fieldPid = this.self.pid
      override init() {
        seen = { self: this.self, pid: this.pid }
      }
      override handleCall() {
        return this.fieldPid
      }
    }
    const pid = await GenServer.start(Probe)
    expect(seen?.pid).toBe(pid)
    expect((seen?.self as { pid: Pid }).pid).toBe(pid)
    expect(await GenServer.call(pid, 'x')).toBe(pid)
    await GenServer.stop(pid)
  })

  it('handles one message at a time, even with async handlers', async () => {
    const log: string[] = []
    class Sequential extends GenServer {
      override async handleCall(request: string) {
        log.push(`start ${request}`)
        await sleep(request === 'a' ? 15 : 1)
        log.push(`end ${request}`)
        return request
      }
      override async handleCast(message: string) {
        log.push(`cast ${message}`)
      }
    }
    const pid = await GenServer.start(Sequential)
    const a = GenServer.call(pid, 'a')
    GenServer.cast(pid, 'c')
    const b = GenServer.call(pid, 'b')
    expect(await Promise.all([a, b])).toEqual(['a', 'b'])
    expect(log).toEqual(['start a', 'end a', 'cast c', 'start b', 'end b'])
    await GenServer.stop(pid)
  })

  it('registers a name, usable by call, cast and stop, and frees it on exit', async () => {
    const pid = await GenServer.start(Counter, 0, { name: 'gs-counter' })
    expect(whereis('gs-counter')).toBe(pid)
    GenServer.cast('gs-counter', 'hello')
    expect(await GenServer.call('gs-counter', 'inc')).toBe(1)
    await expect(GenServer.start(Counter, 0, { name: 'gs-counter' })).rejects.toThrow(TypeError)
    await GenServer.stop('gs-counter', 'shutdown')
    expect(whereis('gs-counter')).toBeUndefined()
    expect(isAlive(pid)).toBe(false)
    expect(terminatedWith(pid)).toEqual(['shutdown'])
  })
})

describe('GenServer start', () => {
  it('rejects with the error init threw, and the process is gone (terminate not run)', async () => {
    const failure = new Error('cannot init')
    let pidSeen: Pid | undefined
    class Failing extends GenServer {
      override init() {
        pidSeen = this.pid
        throw failure
      }
      override terminate() {
        throw new Error('must not run')
      }
    }
    await expect(GenServer.start(Failing, null, { name: 'gs-failing' })).rejects.toBe(failure)
    expect(isAlive(pidSeen!)).toBe(false)
    expect(whereis('gs-failing')).toBeUndefined()
  })

  it('awaits an async init, and rejects with its rejection', async () => {
    class AsyncInit extends GenServer {
      ready = false
      override async init(ok: boolean) {
        await sleep(5)
        if (!ok) throw new RangeError('not ok')
        this.ready = true
      }
      override handleCall() {
        return this.ready
      }
    }
    const pid = await GenServer.start(AsyncInit, true)
    expect(await GenServer.call(pid, 'ready?')).toBe(true)
    await expect(GenServer.start(AsyncInit, false)).rejects.toThrow(RangeError)
    await GenServer.stop(pid)
  })

  it('times out a slow init: TimeoutError, and the server is killed', async () => {
    let pidSeen: Pid | undefined
    class Slow extends GenServer {
      override async init() {
        pidSeen = this.pid
        await sleep(60_000)
      }
    }
    const err = await GenServer.start(Slow, null, { timeout: 20 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect((err as TimeoutError).timeout).toBe(20)
    expect(isAlive(pidSeen!)).toBe(false)
  })

  it('a server killed during an async init rejects the start with ExitError and runs no terminate', async () => {
    let pidSeen: Pid | undefined
    class SlowInit extends GenServer {
      override async init() {
        pidSeen = this.pid
        await sleep(60_000)
      }
      override terminate(reason: unknown) {
        terminations.push([this.pid, reason])
      }
    }
    const started = GenServer.start(SlowInit).catch((e: unknown) => e)
    await until(() => pidSeen !== undefined)
    exit(pidSeen!, 'shutdown')
    const err = await started
    expect(err).toBeInstanceOf(ExitError)
    expect((err as ExitError).reason).toBe('shutdown')
    await settle()
    expect(terminatedWith(pidSeen!)).toEqual([])
  })

  it('links to the given process, which becomes the parent', async () => {
    const got = await inProcess(async (self) => {
      self.trapExit(true)
      const pid = await GenServer.start(Counter, 0, { link: self })
      const linked = processInfo(self.pid)!.links.includes(pid)
      const parent = processInfo(pid)!.parent
      GenServer.cast(pid, 'crash')
      const msg = await self.receive<ExitMessage>((m) => (m as ExitMessage).type === 'EXIT')
      return { pid, linked, parent, msg }
    })
    expect(got.linked).toBe(true)
    expect(got.parent).not.toBeNull()
    expect(got.msg.from).toBe(got.pid)
    expect((got.msg.reason as Error).message).toBe('crash in handleCast')
  })

  it('refuses bad arguments', async () => {
    await expect(GenServer.start(class {} as never)).rejects.toThrow(TypeError)
    await expect(GenServer.start('Counter' as never)).rejects.toThrow(TypeError)
    await expect(GenServer.start(Counter, 0, { link: true } as never)).rejects.toThrow(TypeError)
    await expect(GenServer.start(Counter, 0, { timeout: -1 })).rejects.toThrow(RangeError)
    await expect(GenServer.start(Counter, 0, { name: '' })).rejects.toThrow(TypeError)
    await expect(GenServer.start(Counter, 0, 'opts' as never)).rejects.toThrow(TypeError)
  })
})

describe('GenServer.call failures', () => {
  it('TimeoutError when no reply comes in time; the server keeps serving', async () => {
    const pid = await GenServer.start(Counter, 0)
    const err = await GenServer.call(pid, 'slow', { timeout: 20 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect((err as TimeoutError).code).toBe('ETIMEOUT')
    expect(isAlive(pid)).toBe(true)
    exit(pid, 'kill')
  })

  it('only the calls left unanswered time out, each after its own timeout', async () => {
    class Picky extends GenServer {
      override handleCall(request: string) {
        return request.startsWith('ignore') ? GenServer.noreply : request
      }
    }
    const pid = await GenServer.start(Picky)
    const order: string[] = []
    const track = (label: string, p: Promise<unknown>) =>
      p.then(
        (v) => order.push(`${label}=${String(v)}`),
        (e: unknown) => order.push(`${label}:${(e as Error).name}`),
      )
    await Promise.all([
      track('late', GenServer.call(pid, 'ignore-late', { timeout: 40 })),
      track('early', GenServer.call(pid, 'ignore-early', { timeout: 10 })),
      track('answered', GenServer.call(pid, 'hello', { timeout: 10 })),
      track('never', GenServer.call(pid, 'ignore-forever', { timeout: Infinity }).catch(() => 'stopped')),
      sleep(60).then(() => GenServer.stop(pid)),
    ])
    expect(order).toEqual(['answered=hello', 'early:TimeoutError', 'late:TimeoutError', 'never=stopped'])
  })

  it('a program that made calls exits on its own: no call timer is left holding the event loop', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url))
    const script = `
      import { GenServer } from 'ironwood'
      class Echo extends GenServer { handleCall(r) { return r } }
      const pid = await GenServer.start(Echo)
      for (let i = 0; i < 1000; i++) await GenServer.call(pid, i) // each arms a 5 s timeout
      console.log('done')`
    const run = promisify(execFile)
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 4000 })
    expect(stdout.trim()).toBe('done')
  })

  it('NoProcessError for a dead pid or an unknown name', async () => {
    const pid = await GenServer.start(Counter, 0)
    await GenServer.stop(pid)
    await expect(GenServer.call(pid, 'get')).rejects.toBeInstanceOf(NoProcessError)
    await expect(GenServer.call('gs-nobody', 'get')).rejects.toBeInstanceOf(NoProcessError)
  })

  it('ExitError carrying the error when the server crashes mid-call; terminate runs with it', async () => {
    const pid = await GenServer.start(Counter, 0)
    const crashing = GenServer.call(pid, 'boom').catch((e: unknown) => e)
    const queued = GenServer.call(pid, 'get').catch((e: unknown) => e) // still in the mailbox when it crashes
    const [err, queuedErr] = await Promise.all([crashing, queued])
    expect(err).toBeInstanceOf(ExitError)
    expect(((err as ExitError).reason as Error).message).toBe('boom in handleCall')
    expect(queuedErr).toBeInstanceOf(ExitError)
    expect((queuedErr as ExitError).reason).toBe((err as ExitError).reason)
    await settle()
    expect(isAlive(pid)).toBe(false)
    expect((terminatedWith(pid)[0] as Error).message).toBe('boom in handleCall')
    expect(logs.events.some((e) => e.level === 'error' && e.pid === pid)).toBe(true)
  })

  it('ExitError for calls still queued when the server dies, and for the one in progress', async () => {
    const pid = await GenServer.start(Counter, 0)
    const inProgress = GenServer.call(pid, 'slow').catch((e: unknown) => e)
    const queued = GenServer.call(pid, 'get').catch((e: unknown) => e)
    await sleep(2)
    exit(pid, 'kill')
    const [a, b] = await Promise.all([inProgress, queued])
    expect(a).toBeInstanceOf(ExitError)
    expect((a as ExitError).reason).toBe('killed')
    expect(b).toBeInstanceOf(ExitError)
    expect((b as ExitError).reason).toBe('killed')
    expect(terminatedWith(pid)).toEqual([]) // a kill runs no terminate
  })

  it('a crash in handleCast exits the server with the error as the reason', async () => {
    const pid = await GenServer.start(Counter, 0)
    const down = inProcess(async (self) => {
      self.monitor(pid)
      return self.receive()
    })
    await settle()
    GenServer.cast(pid, 'crash')
    const msg = (await down) as { reason: Error }
    expect(msg.reason.message).toBe('crash in handleCast')
    expect((terminatedWith(pid)[0] as Error).message).toBe('crash in handleCast')
  })

  it('refuses bad arguments', async () => {
    const pid = await GenServer.start(Counter, 0)
    await expect(GenServer.call(pid, undefined)).rejects.toThrow(TypeError)
    await expect(GenServer.call(pid, 'get', { timeout: -5 })).rejects.toThrow(RangeError)
    await expect(GenServer.call(pid, 'get', { timeout: Number.NaN })).rejects.toThrow(RangeError)
    await expect(GenServer.call(pid, 'get', { timeout: '5' as never })).rejects.toThrow(TypeError)
    await expect(GenServer.call(42 as never, 'get')).rejects.toThrow(TypeError)
    expect(() => GenServer.cast(pid, undefined)).toThrow(TypeError)
    expect(() => GenServer.cast({} as never, 'x')).toThrow(TypeError)
    expect(() => GenServer.reply({} as never, 1)).toThrow(TypeError)
    await expect(GenServer.stop(pid, 'normal', { timeout: -1 })).rejects.toThrow(RangeError)
    await GenServer.stop(pid)
  })

  it('casts to a dead pid or an unknown name are ignored, as in OTP', async () => {
    const pid = await GenServer.start(Counter, 0)
    await GenServer.stop(pid)
    expect(() => GenServer.cast(pid, 'x')).not.toThrow()
    expect(() => GenServer.cast('gs-nobody', 'x')).not.toThrow()
  })
})

describe('deferred replies', () => {
  class Deferring extends GenServer {
    waiting: From[] = []
    override handleCall(request: string, from: From) {
      if (request === 'wait') {
        this.waiting.push(from)
        return GenServer.noreply
      }
      if (request === 'release') {
        for (const f of this.waiting.splice(0)) GenServer.reply(f, 'released')
        return 'ok'
      }
      if (request === 'later') {
        setTimeout(() => GenServer.reply(from, 'from a timer'), 5)
        return GenServer.noreply
      }
      return request
    }
  }

  it('GenServer.reply answers a call whose handler returned noreply, while other calls proceed', async () => {
    const pid = await GenServer.start(Deferring)
    const w1 = GenServer.call(pid, 'wait')
    const w2 = GenServer.call(pid, 'wait')
    expect(await GenServer.call(pid, 'echo')).toBe('echo')
    expect(await GenServer.call(pid, 'release')).toBe('ok')
    expect(await Promise.all([w1, w2])).toEqual(['released', 'released'])
    expect(await GenServer.call(pid, 'later')).toBe('from a timer')
    await GenServer.stop(pid)
  })

  it('a deferred call fails with ExitError if the server dies first; a late reply is ignored', async () => {
    const pid = await GenServer.start(Deferring)
    const w = GenServer.call(pid, 'wait').catch((e: unknown) => e)
    await GenServer.call(pid, 'echo')
    await GenServer.stop(pid, 'shutdown')
    const err = await w
    expect(err).toBeInstanceOf(ExitError)
    expect((err as ExitError).reason).toBe('shutdown')
  })
})

describe('stopping', () => {
  it('this.stop(reason) in a handler replies first, then stops', async () => {
    class Stopper extends GenServer {
      override handleCall() {
        this.stop('done')
        return 'bye'
      }
      override terminate(reason: unknown) {
        terminations.push([this.pid, reason])
      }
    }
    const pid = await GenServer.start(Stopper)
    expect(await GenServer.call(pid, 'stop')).toBe('bye')
    await until(() => !isAlive(pid))
    expect(terminatedWith(pid)).toEqual(['done'])
  })

  it('GenServer.stop waits for an async terminate; times out (and kills) a server that will not stop', async () => {
    const events: string[] = []
    class SlowStop extends GenServer {
      override async terminate() {
        await sleep(10)
        events.push('terminated')
      }
    }
    const pid = await GenServer.start(SlowStop)
    await GenServer.stop(pid)
    expect(events).toEqual(['terminated'])
    expect(isAlive(pid)).toBe(false)

    const stuck = await GenServer.start(Counter, 0)
    void GenServer.call(stuck, 'slow').catch(() => {})
    const err = await GenServer.stop(stuck, 'normal', { timeout: 20 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(isAlive(stuck)).toBe(false)
  })

  it('GenServer.stop of a dead server or a plain process is refused', async () => {
    const pid = await GenServer.start(Counter, 0)
    await GenServer.stop(pid)
    await expect(GenServer.stop(pid)).rejects.toBeInstanceOf(NoProcessError)
    await expect(GenServer.stop('gs-nobody')).rejects.toBeInstanceOf(NoProcessError)
    const plain = spawn(async (s) => void (await s.receive()))
    await expect(GenServer.stop(plain)).rejects.toThrow(TypeError)
    exit(plain, 'kill')
  })

  it('a server not trapping exits killed by an exit signal still runs terminate (after it died)', async () => {
    const pid = await GenServer.start(Counter, 0)
    exit(pid, 'shutdown')
    expect(isAlive(pid)).toBe(false)
    await settle()
    expect(terminatedWith(pid)).toEqual(['shutdown'])
  })

  it('a trapping server gets EXIT messages in handleInfo, and stops (with terminate) on its parent’s EXIT', async () => {
    class Trapper extends GenServer {
      override init() {
        this.self.trapExit(true)
      }
      override handleInfo(msg: unknown) {
        infos.push(msg)
      }
      override terminate(reason: unknown) {
        terminations.push([this.pid, reason])
      }
    }
    const infos: unknown[] = []
    const got = await inProcess(async (self) => {
      const pid = await GenServer.start(Trapper, null, { link: self })
      const stranger = spawn(async (s) => {
        s.link(pid)
        throw new Error('stranger died')
      })
      await until(() => infos.length === 1)
      const aliveAfterStranger = isAlive(pid)
      self.exit(pid, 'shutdown')
      await until(() => !isAlive(pid))
      return { pid, stranger, aliveAfterStranger }
    })
    expect((infos[0] as ExitMessage).from).toBe(got.stranger)
    expect(got.aliveAfterStranger).toBe(true)
    expect(terminatedWith(got.pid)).toEqual(['shutdown'])
  })
})

describe('mailbox bound on a server', () => {
  it('refuses a call with RangeError when the mailbox is full, under either policy', async () => {
    const pid = await GenServer.start(Counter, 0, { mailboxLimit: 2 })
    const slow = GenServer.call(pid, 'slow', { timeout: 1000 }).catch((e: unknown) => e)
    await sleep(2)
    const a = GenServer.call(pid, 'get')
    const b = GenServer.call(pid, 'get')
    await expect(GenServer.call(pid, 'get')).rejects.toThrow(RangeError)
    GenServer.cast(pid, 'dropped') // drop_newest: silently dropped, counted
    expect(processInfo(pid)!.dropped).toBe(1)
    exit(pid, 'kill')
    expect(await slow).toBeInstanceOf(ExitError)
    await expect(a).rejects.toBeInstanceOf(ExitError)
    await expect(b).rejects.toBeInstanceOf(ExitError)
  })
})

describe('types', () => {
  it('pin the public types of start, call and handlers', async () => {
    const pid = await GenServer.start(Counter, 1)
    expectTypeOf(pid).toEqualTypeOf<Pid>()
    expectTypeOf(GenServer.call<number>(pid, 'get')).toEqualTypeOf<Promise<number>>()
    expectTypeOf(GenServer.call(pid, 'get')).toEqualTypeOf<Promise<unknown>>()
    // @ts-expect-error Counter.init takes a number
    void GenServer.start(Counter, 'one').catch(() => {})
    // @ts-expect-error link takes the process to link with, not `true`
    void GenServer.start(Counter, 1, { link: true }).catch(() => {})
    expectTypeOf(GenServer.noreply).toBeSymbol()
    await GenServer.stop(pid)
  })
})
