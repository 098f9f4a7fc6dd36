import { NoFunctionError, functions } from 'ironwood'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { captureLogs, sleep, until } from './process-helpers.js'

let logs: ReturnType<typeof captureLogs>
beforeAll(() => {
  logs = captureLogs()
})
afterAll(() => logs.restore())

describe('registered functions', () => {
  it('calls sync and async functions by name with their arguments', async () => {
    functions.register('fn-add', (a: number, b: number) => a + b)
    functions.register('fn-slow-double', async (x: number) => {
      await sleep(2)
      return x * 2
    })
    expect(await functions.call('fn-add', 1, 2)).toBe(3)
    expect(await functions.call<number>('fn-slow-double', 21)).toBe(42)
    expect(functions.registered()).toEqual(expect.arrayContaining(['fn-add', 'fn-slow-double']))
  })

  it('rejects with exactly what the function threw or rejected with', async () => {
    const thrown = new RangeError('sync failure')
    const rejected = { not: 'an error' }
    functions.register('fn-throws', () => {
      throw thrown
    })
    functions.register('fn-rejects', async () => {
      throw rejected
    })
    await expect(functions.call('fn-throws')).rejects.toBe(thrown)
    await expect(functions.call('fn-rejects')).rejects.toBe(rejected)
  })

  it('NoFunctionError for an unknown name, carrying the name', async () => {
    const err = await functions.call('fn-nobody', 1).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NoFunctionError)
    expect((err as NoFunctionError).code).toBe('ENOFUNCTION')
    expect((err as NoFunctionError).functionName).toBe('fn-nobody')
  })

  it('register replaces; unregister removes and says whether it was there', async () => {
    functions.register('fn-version', () => 1)
    functions.register('fn-version', () => 2)
    expect(await functions.call('fn-version')).toBe(2)
    expect(functions.unregister('fn-version')).toBe(true)
    expect(functions.unregister('fn-version')).toBe(false)
    expect(functions.registered()).not.toContain('fn-version')
    await expect(functions.call('fn-version')).rejects.toBeInstanceOf(NoFunctionError)
  })

  it('registered() is sorted', () => {
    functions.register('fn-z', () => 0)
    functions.register('fn-a', () => 0)
    const names = functions.registered()
    expect(names).toEqual([...names].sort())
    expect(names.indexOf('fn-a')).toBeLessThan(names.indexOf('fn-z'))
  })

  it('cast runs the function later and never throws at the caller', async () => {
    const seen: unknown[] = []
    functions.register('fn-record', (...args: unknown[]) => {
      seen.push(args)
    })
    functions.cast('fn-record', 'user_login', { user_id: 123 })
    expect(seen).toEqual([]) // not run in the caller's stack
    await until(() => seen.length === 1)
    expect(seen).toEqual([['user_login', { user_id: 123 }]])
  })

  it('cast failures (sync throw, rejection, unknown or bad name) go to the logger', async () => {
    const before = logs.events.length
    const syncErr = new Error('cast sync failure')
    const asyncErr = new Error('cast async failure')
    functions.register('fn-cast-throws', () => {
      throw syncErr
    })
    functions.register('fn-cast-rejects', async () => {
      await sleep(1)
      throw asyncErr
    })
    expect(() => functions.cast('fn-cast-throws')).not.toThrow()
    expect(() => functions.cast('fn-cast-rejects')).not.toThrow()
    expect(() => functions.cast('fn-cast-nobody')).not.toThrow()
    expect(() => functions.cast(42 as never)).not.toThrow()
    await until(() => logs.events.length - before === 4)
    const errors = logs.events.slice(before).map((e) => e.error)
    expect(errors).toContain(syncErr)
    expect(errors).toContain(asyncErr)
    expect(errors.some((e) => e instanceof NoFunctionError && e.functionName === 'fn-cast-nobody')).toBe(true)
    expect(errors.some((e) => e instanceof TypeError)).toBe(true)
    expect(logs.events.slice(before).every((e) => e.level === 'error')).toBe(true)
  })

  it('refuses bad names and non-functions with TypeError', async () => {
    expect(() => functions.register('', () => 0)).toThrow(TypeError)
    expect(() => functions.register(7 as never, () => 0)).toThrow(TypeError)
    expect(() => functions.register('fn-not-a-function', 'nope' as never)).toThrow(TypeError)
    expect(() => functions.unregister(null as never)).toThrow(TypeError)
    await expect(functions.call('' as never)).rejects.toThrow(TypeError)
    await expect(functions.call({} as never)).rejects.toThrow(TypeError)
    expect(functions.registered()).not.toContain('fn-not-a-function')
  })
})
