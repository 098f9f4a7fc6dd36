import { setTimeout as delay } from 'node:timers/promises'
import { inspect } from 'node:util'
import {
  type DownMessage,
  type ExitMessage,
  ExitError,
  NoProcessError,
  Pid,
  Ref,
  demonitor,
  exit,
  isAlive,
  link,
  monitor,
  node,
  processInfo,
  processes,
  register,
  send,
  spawn,
  spawnLink,
  spawnMonitor,
  state,
  unlink,
  unregister,
  whereis,
} from 'ironwood'
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { captureLogs, inProcess, settle, sleep } from './process-helpers.js'

const isDown = (m: unknown): m is DownMessage => (m as DownMessage)?.type === 'DOWN'
const isExit = (m: unknown): m is ExitMessage => (m as ExitMessage)?.type === 'EXIT'

let logs: ReturnType<typeof captureLogs>
beforeAll(() => {
  logs = captureLogs()
})
afterAll(() => logs.restore())

describe('spawn and lifecycle', () => {
  it('returns a pid at once and runs the function after the caller’s synchronous code', async () => {
    const order: string[] = []
    let seen: Pid | undefined
    const pid = spawn((self) => {
      order.push('ran')
      seen = self.pid
    })
    order.push('returned')
    expect(pid).toBeInstanceOf(Pid)
    expect(isAlive(pid)).toBe(true)
    await settle()
    expect(order).toEqual(['returned', 'ran'])
    expect(seen).toBe(pid)
    expect(isAlive(pid)).toBe(false)
  })

  it('exits normally when the function returns and abnormally (reason = the error) when it throws', async () => {
    const boom = new Error('boom')
    const [ok, bad] = await inProcess(async (self) => {
      const [, okRef] = self.spawnMonitor(async () => {})
      const [, badRef] = self.spawnMonitor(async () => {
        await sleep(1)
        throw boom
      })
      const a = await self.receive<DownMessage>((m) => isDown(m) && m.ref.equals(okRef))
      const b = await self.receive<DownMessage>((m) => isDown(m) && m.ref.equals(badRef))
      return [a, b]
    })
    expect(ok.reason).toBe('normal')
    expect(bad.reason).toBe(boom)
    expect(logs.events.some((e) => e.error === boom && e.pid?.equals(bad.pid))).toBe(true)
  })

  it('starts many processes and they all finish', async () => {
    let ran = 0
    const pids = Array.from({ length: 10_000 }, () => spawn(() => void ran++))
    await settle()
    expect(ran).toBe(10_000)
    expect(pids.some(isAlive)).toBe(false)
  })
})

describe('receive', () => {
  it('delivers messages in the order they were sent', async () => {
    const got = await inProcess(async (self) => {
      for (let i = 0; i < 5; i++) send(self.pid, i)
      const out: unknown[] = []
      for (let i = 0; i < 5; i++) out.push(await self.receive())
      return out
    })
    expect(got).toEqual([0, 1, 2, 3, 4])
  })

  it('hands a message straight to a process already waiting', async () => {
    let received: unknown
    const pid = spawn(async (self) => {
      received = await self.receive()
    })
    await settle()
    expect(processInfo(pid)?.status).toBe('waiting')
    send(pid, { hello: 'world' })
    await settle()
    expect(received).toEqual({ hello: 'world' })
  })

  it('selective receive takes the first match and leaves the others queued in order', async () => {
    const got = await inProcess(async (self) => {
      for (const m of ['a', 1, 'b', 2, 'c']) send(self.pid, m)
      const first = await self.receive((m) => typeof m === 'number')
      const second = await self.receive((m) => typeof m === 'number')
      const rest: unknown[] = []
      for (let i = 0; i < 3; i++) rest.push(await self.receive())
      return { first, second, rest }
    })
    expect(got).toEqual({ first: 1, second: 2, rest: ['a', 'b', 'c'] })
  })

  it('a waiting selective receive skips non-matching messages, which stay queued', async () => {
    const got = await inProcess(async (self) => {
      const me = self.pid
      setTimeout(() => {
        send(me, 'noise-1')
        send(me, 'noise-2')
        send(me, 'wanted')
      }, 5)
      const wanted = await self.receive((m) => m === 'wanted')
      return [wanted, await self.receive(), await self.receive(), processInfo(me)!.mailboxLength]
    })
    expect(got).toEqual(['wanted', 'noise-1', 'noise-2', 0])
  })

  it('resolves undefined on timeout, keeps non-matching messages, and a later message still arrives', async () => {
    const got = await inProcess(async (self) => {
      send(self.pid, 'other')
      const t0 = Date.now()
      const none = await self.receive((m) => m === 'never', { timeout: 20 })
      const waited = Date.now() - t0
      const immediate = await self.receive(null, { timeout: 0 })
      const empty = await self.receive(null, { timeout: 0 })
      return { none, waited, immediate, empty }
    })
    expect(got.none).toBeUndefined()
    expect(got.waited).toBeGreaterThanOrEqual(15)
    expect(got.immediate).toBe('other')
    expect(got.empty).toBeUndefined()
  })

  it('a message arriving before the timeout cancels it', async () => {
    const got = await inProcess(async (self) => {
      const me = self.pid
      setTimeout(() => send(me, 'in time'), 5)
      const first = await self.receive(null, { timeout: 1000 })
      const second = await self.receive(null, { timeout: 20 })
      return [first, second]
    })
    expect(got).toEqual(['in time', undefined])
  })

  it('a throwing match function fails that receive, in the receiver', async () => {
    const err = await inProcess(async (self) => {
      const me = self.pid
      setTimeout(() => send(me, 'x'), 2)
      try {
        await self.receive(() => {
          throw new Error('bad match')
        })
        return null
      } catch (e) {
        return [(e as Error).message, await self.receive(null, { timeout: 0 })]
      }
    })
    expect(err).toEqual(['bad match', 'x'])
  })

  it('refuses bad arguments', async () => {
    await inProcess(async (self) => {
      expect(() => self.receive('x' as never)).toThrow(TypeError)
      expect(() => self.receive(null, { timeout: -1 })).toThrow(RangeError)
      expect(() => self.receive(null, { timeout: Number.NaN })).toThrow(RangeError)
      expect(() => self.receive(null, { timeout: '10' as never })).toThrow(TypeError)
      expect(() => self.receive(null, 5 as never)).toThrow(TypeError)
      const pending = self.receive(null, { timeout: 10 })
      expect(() => self.receive()).toThrow(/already waiting/)
      await pending
    })
  })
})

describe('send', () => {
  it('refuses undefined, promises and targets that are not a pid or a name', () => {
    const pid = spawn(async (self) => void (await self.receive()))
    expect(() => send(pid, undefined)).toThrow(TypeError)
    expect(() => send(pid, Promise.resolve(1))).toThrow(TypeError)
    expect(() => send(42 as never, 'x')).toThrow(TypeError)
    expect(() => send({ id: 1 } as never, 'x')).toThrow(TypeError)
    expect(() => send(null as never, 'x')).toThrow(TypeError)
    send(pid, null) // null is a fine message
  })

  it('drops messages to a dead pid silently; throws NoProcessError for an unregistered name', async () => {
    const pid = spawn(() => {})
    await settle()
    expect(isAlive(pid)).toBe(false)
    expect(() => send(pid, 'hello?')).not.toThrow()
    expect(() => send('nobody-is-called-this', 'hi')).toThrow(NoProcessError)
  })

  it('does not copy messages to local processes', async () => {
    const msg = { big: new Array(1000).fill(1) }
    const got = await inProcess(async (self) => {
      send(self.pid, msg)
      return self.receive()
    })
    expect(got).toBe(msg)
  })
})

describe('exit signals and links', () => {
  it("'kill' is unconditional, even for a process trapping exits, and links see 'killed'", async () => {
    const got = await inProcess(async (self) => {
      self.trapExit(true)
      const victim = self.spawnLink(
        async (v) => {
          v.trapExit(true)
          await v.receive()
        },
        { trapExit: true },
      )
      const ref = self.monitor(victim)
      await sleep(1)
      exit(victim, 'kill')
      const alive = isAlive(victim)
      const ex = await self.receive(isExit)
      const down = await self.receive<DownMessage>((m) => isDown(m) && m.ref.equals(ref))
      return { alive, ex, down }
    })
    expect(got.alive).toBe(false)
    expect(got.ex.reason).toBe('killed')
    expect(got.down.reason).toBe('killed')
  })

  it('a normal exit does not kill linked processes; an abnormal one does, in a chain', async () => {
    const survivors = await inProcess(async (self) => {
      const a = self.spawnLink(async (s) => void (await s.receive()))
      const b = spawn(async (s) => {
        s.link(a)
        await s.receive()
      })
      const quick = spawn(async (s) => {
        s.link(a)
      })
      await sleep(2)
      const afterNormal = [isAlive(a), isAlive(b), isAlive(quick)]
      self.trapExit(true)
      exit(b, 'crash')
      return { afterNormal, afterCrash: [isAlive(a), isAlive(b)], exitMsg: await self.receive(isExit) }
    })
    expect(survivors.afterNormal).toEqual([true, true, false])
    // b died with 'crash', which killed a (linked, not trapping), which reached us as an EXIT.
    expect(survivors.afterCrash).toEqual([false, false])
    expect(survivors.exitMsg.reason).toBe('crash')
  })

  it('a trapping process gets { type: "EXIT", from, reason } instead of dying', async () => {
    const boom = new Error('child failed')
    const got = await inProcess(async (self) => {
      self.trapExit(true)
      const child = self.spawnLink(() => {
        throw boom
      })
      const msg = await self.receive(isExit)
      return { msg, child, stillAlive: isAlive(self.pid) }
    })
    expect(got.msg).toEqual({ type: 'EXIT', from: got.child, reason: boom })
    expect(got.stillAlive).toBe(true)
  })

  it("exit(pid, 'normal') is ignored unless the target traps exits; another reason kills", async () => {
    const plain = spawn(async (s) => void (await s.receive()))
    const trapping = spawn(async (s) => void (await s.receive()), { trapExit: true })
    await settle()
    exit(plain, 'normal')
    expect(isAlive(plain)).toBe(true)
    exit(trapping, 'normal')
    await settle()
    expect(isAlive(trapping)).toBe(false) // its receive got the EXIT message and it returned
    exit(plain, 'shutdown')
    expect(isAlive(plain)).toBe(false)
  })

  it('exit from a process carries it as `from`; exit(self, normal) ends the caller', async () => {
    const got = await inProcess(async (self) => {
      self.trapExit(true)
      const sender = spawn(async (s) => {
        s.exit(self.pid, 'bye')
        s.exit(s.pid, 'normal')
        await s.receive()
      })
      const msg = await self.receive(isExit)
      await sleep(1)
      return { msg, sender, senderAlive: isAlive(sender) }
    })
    expect(got.msg.from).toBe(got.sender)
    expect(got.msg.reason).toBe('bye')
    expect(got.senderAlive).toBe(false)
  })

  it('linking to a dead pid: EXIT noproc when trapping, NoProcessError otherwise', async () => {
    const dead = spawn(() => {})
    await settle()
    const got = await inProcess(async (self) => {
      let thrown: unknown
      try {
        self.link(dead)
      } catch (e) {
        thrown = e
      }
      self.trapExit(true)
      self.link(dead)
      return { thrown, msg: await self.receive(isExit) }
    })
    expect(got.thrown).toBeInstanceOf(NoProcessError)
    expect(got.msg).toEqual({ type: 'EXIT', from: dead, reason: 'noproc' })
  })

  it('unlink removes the link in both directions', async () => {
    const got = await inProcess(async (self) => {
      const other = self.spawnLink(async (s) => void (await s.receive()))
      self.unlink(other)
      expect(processInfo(other)!.links).toEqual([])
      exit(other, 'crash')
      await sleep(1)
      return isAlive(self.pid)
    })
    expect(got).toBe(true)
  })

  it('a chain of 20,000 linked processes dies at once without overflowing the stack', async () => {
    const pids: Pid[] = [spawn(async (s) => void (await s.receive()))]
    for (let i = 1; i < 20_000; i++) {
      const prev = pids[i - 1]!
      pids.push(
        spawn(async (s) => {
          s.link(prev)
          await s.receive()
        }),
      )
    }
    await settle()
    exit(pids[0]!, 'crash')
    expect(pids.filter(isAlive).length).toBe(0)
  })

  it('the root functions take the acting process explicitly', async () => {
    const got = await inProcess(async (self) => {
      self.trapExit(true)
      const child = spawnLink(() => {
        throw new Error('x')
      }, self)
      const exitMsg = await self.receive(isExit)
      const [mon, ref] = spawnMonitor(() => {}, self)
      const down = await self.receive(isDown)
      const other = spawn(async (s) => void (await s.receive()))
      link(other, self)
      const linked = processInfo(self.pid)!.links.includes(other)
      unlink(other, self.pid)
      const unlinked = !processInfo(self.pid)!.links.includes(other)
      const r = monitor(other, self)
      const cancelled = demonitor(r)
      exit(other, 'kill')
      const noDown = await self.receive(isDown, { timeout: 10 })
      return { child, exitMsg, mon, ref, down, linked, unlinked, cancelled, noDown }
    })
    expect(got.exitMsg.from).toBe(got.child)
    expect(got.down.pid).toBe(got.mon)
    expect(got.down.ref.equals(got.ref)).toBe(true)
    expect(got).toMatchObject({ linked: true, unlinked: true, cancelled: true, noDown: undefined })
  })

  it('the root functions refuse a missing or bad acting process and bad targets', async () => {
    const pid = spawn(async (s) => void (await s.receive()))
    expect(() => link(pid, undefined as never)).toThrow(TypeError)
    expect(() => monitor(pid, {} as never)).toThrow(TypeError)
    expect(() => spawnLink(() => {}, undefined as never)).toThrow(TypeError)
    expect(() => exit('pid' as never, 'kill')).toThrow(TypeError)
    expect(() => exit(pid, undefined)).toThrow(TypeError)
    expect(() => isAlive('x' as never)).toThrow(TypeError)
    expect(() => demonitor('ref' as never)).toThrow(TypeError)
    expect(() => spawn('not a function' as never)).toThrow(TypeError)
    await inProcess(async (self) => {
      expect(() => self.link('x' as never)).toThrow(TypeError)
      expect(() => self.trapExit('yes' as never)).toThrow(TypeError)
    })
    exit(pid, 'kill')
  })
})

describe('monitors', () => {
  it('deliver DOWN exactly once, with the exit reason', async () => {
    const got = await inProcess(async (self) => {
      const target = spawn(async (s) => void (await s.receive()))
      const ref = self.monitor(target)
      expect(ref).toBeInstanceOf(Ref)
      send(target, 'go')
      const down = await self.receive(isDown)
      const again = await self.receive(isDown, { timeout: 20 })
      return { down, again, target, ref }
    })
    expect(got.down).toEqual({ type: 'DOWN', ref: got.ref, pid: got.target, reason: 'normal' })
    expect(got.again).toBeUndefined()
  })

  it("on an already-dead pid deliver DOWN with reason 'noproc'", async () => {
    const dead = spawn(() => {})
    await settle()
    const down = await inProcess(async (self) => {
      const ref = self.monitor(dead)
      const msg = await self.receive(isDown)
      return { msg, ref }
    })
    expect(down.msg.reason).toBe('noproc')
    expect(down.msg.pid).toBe(dead)
    expect(down.msg.ref.equals(down.ref)).toBe(true)
  })

  it('two monitors on one process each fire once; demonitor with flush removes a delivered DOWN', async () => {
    const got = await inProcess(async (self) => {
      const target = spawn(async (s) => void (await s.receive()))
      const r1 = self.monitor(target)
      const r2 = self.monitor(target)
      exit(target, 'bye')
      const flushed = self.demonitor(r1, { flush: true })
      const left = await self.receive(isDown)
      const nothing = await self.receive(isDown, { timeout: 10 })
      return { flushed, left, r2, nothing }
    })
    expect(got.flushed).toBe(false) // it had already fired
    expect(got.left.ref.equals(got.r2)).toBe(true)
    expect(got.nothing).toBeUndefined()
  })
})

describe('self.signal', () => {
  it('aborts when the process is killed, so long awaits unwind and finally blocks run', async () => {
    const events: string[] = []
    let signal: AbortSignal | undefined
    const pid = spawn(async (self) => {
      signal = self.signal
      try {
        await delay(60_000, undefined, { signal: self.signal })
        events.push('slept')
      } catch (e) {
        events.push((e as Error).name)
      } finally {
        events.push('finally')
      }
    })
    await settle()
    expect(signal?.aborted).toBe(false)
    exit(pid, 'kill')
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBeInstanceOf(ExitError)
    expect((signal?.reason as ExitError).reason).toBe('killed')
    await settle()
    expect(events).toEqual(['AbortError', 'finally'])
  })

  it('aborts on a normal exit too, and is already aborted when first read after death', async () => {
    let ctx: { signal: AbortSignal } | undefined
    let early: AbortSignal | undefined
    spawn((self) => {
      ctx = self
    })
    spawn((self) => {
      early = self.signal
    })
    await settle()
    expect(early?.aborted).toBe(true)
    expect(ctx!.signal.aborted).toBe(true)
    expect((ctx!.signal.reason as ExitError).reason).toBe('normal')
  })

  it('a pending receive fails when the process is killed, and a killed process receives nothing more', async () => {
    const events: string[] = []
    const pid = spawn(async (self) => {
      try {
        await self.receive()
      } catch (e) {
        events.push((e as ExitError).code)
      }
      await self.receive() // never settles: the process is gone
      events.push('unreachable')
    })
    await settle()
    exit(pid, 'shutdown')
    await sleep(5)
    expect(events).toEqual(['EEXIT'])
  })
})

describe('names', () => {
  it('register, whereis, send by name, unregister', async () => {
    const got: unknown[] = []
    const pid = spawn(async (self) => {
      got.push(await self.receive())
      got.push(await self.receive())
    })
    register('names-test-1', pid)
    expect(whereis('names-test-1')).toBe(pid)
    expect(processInfo(pid)?.name).toBe('names-test-1')
    send('names-test-1', 'by name')
    send(pid, 'by pid')
    await settle()
    expect(got).toEqual(['by name', 'by pid'])
    expect(whereis('names-test-1')).toBeUndefined() // freed when it exited
    const other = spawn(async (s) => void (await s.receive()))
    register('names-test-1', other)
    expect(unregister('names-test-1')).toBe(true)
    expect(unregister('names-test-1')).toBe(false)
    expect(() => send('names-test-1', 'x')).toThrow(NoProcessError)
    exit(other, 'kill')
  })

  it('refuses a taken name, a second name, a dead pid, and bad names', async () => {
    const a = spawn(async (s) => void (await s.receive()), { name: 'names-test-2' })
    const b = spawn(async (s) => void (await s.receive()))
    expect(whereis('names-test-2')).toBe(a)
    expect(() => register('names-test-2', b)).toThrow(TypeError)
    expect(() => spawn(() => {}, { name: 'names-test-2' })).toThrow(TypeError)
    expect(() => register('names-test-3', a)).toThrow(/already registered/)
    const dead = spawn(() => {})
    await settle()
    expect(() => register('names-test-4', dead)).toThrow(NoProcessError)
    expect(() => register('', b)).toThrow(TypeError)
    expect(() => register(7 as never, b)).toThrow(TypeError)
    expect(() => register('names-test-5', 'b' as never)).toThrow(TypeError)
    expect(() => whereis(undefined as never)).toThrow(TypeError)
    exit(a, 'kill')
    exit(b, 'kill')
  })
})

describe('mailbox limit', () => {
  it("'drop_newest' (the default) keeps the first messages and counts the dropped ones", async () => {
    const events = logs.events.length
    const pid = spawn(async (s) => void (await s.receive((m) => m === 'never')), { mailboxLimit: 3 })
    await settle()
    for (let i = 0; i < 10; i++) send(pid, i)
    const info = processInfo(pid)!
    expect(info.mailboxLength).toBe(3)
    expect(info.mailboxLimit).toBe(3)
    expect(info.dropped).toBe(7)
    expect(logs.events.slice(events).filter((e) => e.level === 'warn' && /full/.test(e.message))).toHaveLength(1)
    // Exit and monitor messages are never dropped.
    exit(pid, 'kill')
  })

  it('system messages pass a full mailbox; the queued messages are the oldest ones', async () => {
    const got = await inProcess(
      async (self) => {
        for (let i = 0; i < 5; i++) send(self.pid, i)
        const child = spawn(() => {})
        self.monitor(child)
        const down = await self.receive(isDown)
        const rest = [await self.receive(), await self.receive(), await self.receive(null, { timeout: 0 })]
        return { down: down.reason, rest, dropped: processInfo(self.pid)!.dropped }
      },
      { mailboxLimit: 2 },
    )
    expect(got).toEqual({ down: 'normal', rest: [0, 1, undefined], dropped: 3 })
  })

  it("'error' throws a RangeError at the sender", async () => {
    const pid = spawn(async (s) => void (await s.receive((m) => m === 'never')), {
      mailboxLimit: 2,
      mailboxOverflow: 'error',
    })
    await settle()
    send(pid, 1)
    send(pid, 2)
    expect(() => send(pid, 3)).toThrow(RangeError)
    expect(processInfo(pid)!.dropped).toBe(0)
    expect(processInfo(pid)!.mailboxLength).toBe(2)
    exit(pid, 'kill')
  })

  it('refuses bad limits and policies', () => {
    expect(() => spawn(() => {}, { mailboxLimit: 0 })).toThrow(RangeError)
    expect(() => spawn(() => {}, { mailboxLimit: 1.5 })).toThrow(RangeError)
    expect(() => spawn(() => {}, { mailboxLimit: '5' as never })).toThrow(TypeError)
    expect(() => spawn(() => {}, { mailboxOverflow: 'drop_oldest' as never })).toThrow(TypeError)
    expect(() => spawn(() => {}, 'opts' as never)).toThrow(TypeError)
  })
})

describe('Pid and Ref as terms', () => {
  it('print readably, compare by value, and local pids are interned', async () => {
    const pid = spawn(async (s) => void (await s.receive()))
    expect(String(pid)).toBe(`#PID<${node()}.${pid.id}>`)
    expect(node()).toBe('nonode@nohost')
    expect(pid.node).toBe('nonode@nohost')
    expect(inspect({ pid })).toContain(`#PID<nonode@nohost.${pid.id}>`)
    expect(JSON.stringify({ pid })).toBe(`{"pid":"#PID<nonode@nohost.${pid.id}>"}`)
    expect(pid.equals(pid)).toBe(true)
    const other = spawn(() => {})
    expect(pid.equals(other)).toBe(false)
    expect(pid.equals(pid.id)).toBe(false)
    exit(pid, 'kill')
  })

  it('round-trip through the table: live and dead pids come back ===, refs come back equal', async () => {
    const live = spawn(async (s) => void (await s.receive()))
    const [dying, ref] = await inProcess(async (self) => self.spawnMonitor(async (s) => void (await s.receive())))
    state.set('process-test:pids', { live, dying, list: [live, dying], ref })
    exit(dying, 'kill')
    const back = state.get<{ live: Pid; dying: Pid; list: Pid[]; ref: Ref }>('process-test:pids')!
    expect(back.live).toBe(live)
    expect(back.dying).toBe(dying)
    expect(back.list[0]).toBe(live)
    expect(back.dying.equals(dying)).toBe(true)
    expect(isAlive(back.live)).toBe(true)
    expect(isAlive(back.dying)).toBe(false)
    expect(back.ref).toBeInstanceOf(Ref)
    expect(back.ref).not.toBe(ref)
    expect(back.ref.equals(ref)).toBe(true)
    expect(String(back.ref)).toBe(String(ref))
    // A decoded pid is a working address.
    send(back.live, 'wake')
    await settle()
    expect(isAlive(live)).toBe(false)
    state.delete('process-test:pids')
  })

  it('a pid decoded after its process exited (and was encoded before) is still the same object', async () => {
    const pid = spawn(() => {})
    state.set('process-test:dead', pid)
    await settle()
    expect(isAlive(pid)).toBe(false)
    expect(state.get('process-test:dead')).toBe(pid)
    expect(state.get('process-test:dead')).toBe(state.get('process-test:dead'))
    state.delete('process-test:dead')
  })
})

describe('introspection', () => {
  it('processes() lists live processes with name, mailbox, links, monitors, status and trapExit', async () => {
    const waiting = spawn(async (s) => void (await s.receive((m) => m === 'go')), { name: 'introspect-w', trapExit: true })
    const watcher = spawn(async (s) => {
      s.link(waiting)
      s.monitor(waiting)
      await s.receive()
    })
    await settle()
    send(waiting, 'queued')
    const all = processes()
    const w = all.find((p) => p.pid === waiting)!
    const v = all.find((p) => p.pid === watcher)!
    expect(w).toMatchObject({
      name: 'introspect-w',
      kind: 'process',
      mailboxLength: 1,
      dropped: 0,
      status: 'waiting',
      trapExit: true,
      links: [watcher],
      monitors: [],
      monitoredBy: [watcher],
    })
    expect(v).toMatchObject({ name: null, links: [waiting], monitors: [waiting], trapExit: false })
    exit(waiting, 'kill')
    expect(processInfo(waiting)).toBeUndefined()
    expect(processes().some((p) => p.pid === waiting || p.pid === watcher)).toBe(false)
    expect(() => processInfo('x' as never)).toThrow(TypeError)
  })
})

describe('types', () => {
  it('receive is typed by its type guard and by whether a timeout can leave it empty', async () => {
    await inProcess(async (self) => {
      send(self.pid, 1)
      send(self.pid, 2)
      send(self.pid, 3)
      const a = await self.receive((m): m is number => typeof m === 'number')
      expectTypeOf(a).toEqualTypeOf<number>()
      const b = await self.receive((m): m is number => typeof m === 'number', { timeout: 0 })
      expectTypeOf(b).toEqualTypeOf<number | undefined>()
      const c = await self.receive<number>()
      expectTypeOf(c).toEqualTypeOf<number>()
      expect([a, b, c]).toEqual([1, 2, 3])
      expectTypeOf(self.spawnMonitor(() => {})).toEqualTypeOf<[Pid, Ref]>()
    })
  })
})
