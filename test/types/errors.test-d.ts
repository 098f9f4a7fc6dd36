// Pins the error classes: their hierarchy, codes and extra fields.
import {
  ConnectionError,
  ExitError,
  IronwoodError,
  type IronwoodErrorCode,
  NoFunctionError,
  NoProcessError,
  RemoteError,
  TimeoutError,
} from 'ironwood'
import { describe, expectTypeOf, it } from 'vitest'

describe('error classes', () => {
  it('all extend IronwoodError, which extends Error, with a code from the table', () => {
    expectTypeOf<IronwoodErrorCode>().toEqualTypeOf<'ETIMEOUT' | 'ENOCONNECTION' | 'EREMOTE' | 'ENOFUNCTION' | 'ENOPROC' | 'EEXIT'>()
    expectTypeOf<IronwoodError>().toMatchTypeOf<Error>()
    expectTypeOf<IronwoodError['code']>().toEqualTypeOf<IronwoodErrorCode>()
    for (const E of [TimeoutError, ConnectionError, RemoteError, NoFunctionError, NoProcessError, ExitError]) {
      expectTypeOf<InstanceType<typeof E>>().toMatchTypeOf<IronwoodError>()
    }
  })

  it('each class has its code and its own fields', () => {
    expectTypeOf<TimeoutError['code']>().toEqualTypeOf<'ETIMEOUT'>()
    expectTypeOf<TimeoutError['timeout']>().toEqualTypeOf<number>()
    expectTypeOf<ConnectionError['code']>().toEqualTypeOf<'ENOCONNECTION'>()
    expectTypeOf<ConnectionError['node']>().toEqualTypeOf<string>()
    expectTypeOf<RemoteError['code']>().toEqualTypeOf<'EREMOTE'>()
    expectTypeOf<RemoteError['remoteName']>().toEqualTypeOf<string>()
    expectTypeOf<RemoteError['remoteMessage']>().toEqualTypeOf<string>()
    expectTypeOf<RemoteError['remoteStack']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<RemoteError['node']>().toEqualTypeOf<string>()
    expectTypeOf<NoFunctionError['code']>().toEqualTypeOf<'ENOFUNCTION'>()
    expectTypeOf<NoFunctionError['functionName']>().toEqualTypeOf<string>()
    expectTypeOf<NoProcessError['code']>().toEqualTypeOf<'ENOPROC'>()
    expectTypeOf<ExitError['code']>().toEqualTypeOf<'EEXIT'>()
    expectTypeOf<ExitError['reason']>().toEqualTypeOf<unknown>()
  })

  it('the fields are read-only', () => {
    const e = new TimeoutError('late', 100)
    // @ts-expect-error readonly
    e.code = 'EEXIT'
    // @ts-expect-error readonly
    e.timeout = 5
  })

  it('narrows by instanceof and by code', () => {
    const e: unknown = new ExitError('killed', 'kill')
    if (e instanceof RemoteError) expectTypeOf(e.remoteStack).toEqualTypeOf<string | undefined>()
    if (e instanceof IronwoodError && e.code === 'ETIMEOUT') expectTypeOf(e.code).toEqualTypeOf<'ETIMEOUT'>()
  })
})
