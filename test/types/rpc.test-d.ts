// Pins rpc.call<T> and the rest of the rpc API.
import { type MulticallResult, type Term, rpc } from 'ironwood'
import { describe, expectTypeOf, it } from 'vitest'

interface Prediction {
  label: string
  score: number
}

describe('rpc', () => {
  it('call<T> resolves to T, Term by default', () => {
    expectTypeOf(rpc.call('b@127.0.0.1:4371', 'ml_model', 'predict', [1])).toEqualTypeOf<Promise<Term>>()
    expectTypeOf(rpc.call<number>('b@127.0.0.1:4371', 'math', 'add', [1, 2])).toEqualTypeOf<Promise<number>>()
    expectTypeOf(rpc.call<Prediction>('b@127.0.0.1:4371', 'ml_model', 'predict', [[0.1, 0.2]], { timeout: 30_000 })).toEqualTypeOf<
      Promise<Prediction>
    >()
    expectTypeOf(rpc.call('b@127.0.0.1:4371', 'm', 'f')).toEqualTypeOf<Promise<Term>>()
    // @ts-expect-error the result is a term: no function properties
    void rpc.call<{ onDone: () => void }>('b@127.0.0.1:4371', 'm', 'f')
  })

  it('arguments are terms', () => {
    // @ts-expect-error a function is not a term
    void rpc.call('b@127.0.0.1:4371', 'm', 'f', [() => 1])
    // @ts-expect-error undefined is not a term
    rpc.cast('b@127.0.0.1:4371', 'm', 'f', [undefined])
    // @ts-expect-error args is an array
    void rpc.call('b@127.0.0.1:4371', 'm', 'f', 1)
  })

  it('cast returns nothing; multicall gives one result per node, narrowed by ok', async () => {
    expectTypeOf(rpc.cast('b@127.0.0.1:4371', 'logger', 'log', ['info', 'User logged in', { user_id: 123 }])).toBeVoid()
    expectTypeOf(rpc.register('m', { f: () => 1 })).toBeVoid()
    expectTypeOf(rpc.unregister('m')).toBeBoolean()
    const results = await rpc.multicall(['a@127.0.0.1:1', 'b@127.0.0.1:2'], 'm', 'f', [], { timeout: 1000 })
    expectTypeOf(results).toEqualTypeOf<MulticallResult[]>()
    const r = results[0]!
    expectTypeOf(r.node).toBeString()
    if (r.ok) expectTypeOf(r.value).toEqualTypeOf<Term>()
    else expectTypeOf(r.error).toEqualTypeOf<Error>()
  })
})
