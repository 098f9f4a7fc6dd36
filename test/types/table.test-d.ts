// Pins the generics of Table and the default `state` table.
import { type Pid, Table, type Term, state } from 'ironwood'
import { describe, expectTypeOf, it } from 'vitest'

interface Session {
  user: number
  roles: string[]
  createdAt: Date
  meta: { ip: string; agent: string | null }
  owner?: Pid
}
type Point = { x: number; y: number }

describe('Table.open<V>', () => {
  it('defaults to Term and is the type of state', () => {
    expectTypeOf(Table.open('t')).toEqualTypeOf<Table<Term>>()
    expectTypeOf(state).toEqualTypeOf<Table<Term>>()
    expectTypeOf(state.get('k')).toEqualTypeOf<Term | undefined>()
  })

  it('carries V into every method', () => {
    const t = Table.open<Point>('points')
    expectTypeOf(t).toEqualTypeOf<Table<Point>>()
    expectTypeOf(t.get('origin')).toEqualTypeOf<Point | undefined>()
    expectTypeOf(t.getMany(['a', 'b'])).toEqualTypeOf<Record<string, Point | undefined>>()
    expectTypeOf(t.set).parameter(1).toEqualTypeOf<Point>()
    expectTypeOf(t.setNew).parameter(1).toEqualTypeOf<Point>()
    expectTypeOf(t.set('o', { x: 0, y: 0 }, { ttl: 1000 })).toBeVoid()
    expectTypeOf(t.setNew('o', { x: 0, y: 0 })).toBeBoolean()
    // @ts-expect-error a value of another type
    t.set('o', { x: 0 })
    // @ts-expect-error undefined is not a term
    t.set('o', undefined)
  })

  it('accepts value types declared as interfaces (no index signature needed)', () => {
    const sessions = Table.open<Session>('sessions')
    expectTypeOf(sessions.get('abc')).toEqualTypeOf<Session | undefined>()
    expectTypeOf(Table.open<Session[]>('lists').get('k')).toEqualTypeOf<Session[] | undefined>()
  })

  it('refuses value types that are not terms', () => {
    // @ts-expect-error a function property
    Table.open<{ onClose: () => void }>('bad')
    // @ts-expect-error a symbol property
    Table.open<{ s: symbol }>('bad')
    // @ts-expect-error a property that may be undefined
    Table.open<{ u: number | undefined }>('bad')
    // @ts-expect-error a class instance with methods
    Table.open<URL>('bad')
    // @ts-expect-error undefined
    Table.open<undefined>('bad')
  })

  it('get<T> narrows within V only', () => {
    expectTypeOf(state.get<{ name: string }>('user:42')).toEqualTypeOf<{ name: string } | undefined>()
    expectTypeOf(state.get<number>('n')).toEqualTypeOf<number | undefined>()
    const points = Table.open<Point | string>('mixed')
    expectTypeOf(points.get<string>('label')).toEqualTypeOf<string | undefined>()
    // @ts-expect-error number is not part of Point | string
    points.get<number>('n')
  })

  it('types counters, keys, TTLs and sizes', () => {
    expectTypeOf(state.incr('n')).toBeNumber()
    expectTypeOf(state.decr('n', 2)).toBeNumber()
    expectTypeOf(state.keys('p:')).toEqualTypeOf<string[]>()
    expectTypeOf(state.ttl('k')).toEqualTypeOf<number | undefined>()
    expectTypeOf(state.expire('k', 10)).toBeBoolean()
    expectTypeOf(state.delete('k')).toBeBoolean()
    expectTypeOf(state.size()).toBeNumber()
    expectTypeOf(Table.names()).toEqualTypeOf<string[]>()
    // @ts-expect-error keys are strings
    state.get(42)
  })
})
