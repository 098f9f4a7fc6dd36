// Pins GenServer.start / call / cast / stop.
import { type From, GenServer, type NamedOnNode, type Pid } from 'ironwood'
import { describe, expectTypeOf, it } from 'vitest'

class Counter extends GenServer {
  n = 0
  override init(start: number) {
    this.n = start
  }
  override handleCall(request: 'get' | 'incr', _from: From): number {
    if (request === 'incr') this.n++
    return this.n
  }
}

class NoInit extends GenServer {
  override handleCall(): string {
    return 'ok'
  }
}

declare const pid: Pid
declare const remote: NamedOnNode

describe('GenServer', () => {
  it('start resolves to a Pid, typed by the init argument', () => {
    expectTypeOf(GenServer.start(Counter, 1)).toEqualTypeOf<Promise<Pid>>()
    expectTypeOf(GenServer.start(Counter, 1, { name: 'counter', link: pid, timeout: 1000 })).toEqualTypeOf<Promise<Pid>>()
    expectTypeOf(GenServer.start(NoInit)).toEqualTypeOf<Promise<Pid>>()
    // @ts-expect-error init takes a number
    void GenServer.start(Counter, 'one')
  })

  it('call<R> resolves to R, unknown by default', () => {
    expectTypeOf(GenServer.call(pid, 'get')).toEqualTypeOf<Promise<unknown>>()
    expectTypeOf(GenServer.call<number>(pid, 'get')).toEqualTypeOf<Promise<number>>()
    expectTypeOf(GenServer.call<{ ok: boolean }>('counter', 'get', { timeout: 100 })).toEqualTypeOf<Promise<{ ok: boolean }>>()
    expectTypeOf(GenServer.call<number>(remote, 'get')).toEqualTypeOf<Promise<number>>()
    expectTypeOf(GenServer.call<number>({ name: 'counter', node: 'b@127.0.0.1:4371' }, 'get')).toEqualTypeOf<Promise<number>>()
    // @ts-expect-error a target is a Pid, a name or { name, node }
    void GenServer.call(42, 'get')
    // @ts-expect-error timeout is a number
    void GenServer.call(pid, 'get', { timeout: '1s' })
  })

  it('cast returns nothing, stop a promise; noreply is a unique symbol', () => {
    expectTypeOf(GenServer.cast(pid, { add: 1 })).toBeVoid()
    expectTypeOf(GenServer.stop(pid)).toEqualTypeOf<Promise<void>>()
    expectTypeOf(GenServer.stop('counter', 'shutdown')).toEqualTypeOf<Promise<void>>()
    expectTypeOf(GenServer.noreply).toBeSymbol()
    expectTypeOf(GenServer.reply).parameters.toEqualTypeOf<[From, unknown]>()
  })
})
