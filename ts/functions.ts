/**
 * Registered functions: named functions any part of the program (and, with
 * the cluster, other nodes' `rpc`) can call by name.
 * @module
 */
import { checkName, describe } from './check.js'
import { NoFunctionError } from './errors.js'
import { log } from './logger.js'

/** A registered function: sync or async, any arguments. */
export type RegisteredFunction = (...args: never[]) => unknown

const registry = new Map<string, (...args: unknown[]) => unknown>()

function checkFunctionName(name: unknown): string {
  return checkName(name, 'function name')
}

/** The registry of named functions. */
export const functions = {
  /** Registers `fn` under `name`, replacing any function registered under it. */
  register(name: string, fn: RegisteredFunction): void {
    checkFunctionName(name)
    if (typeof fn !== 'function') throw new TypeError(`functions.register('${name}'): expected a function, got ${describe(fn)}`)
    registry.set(name, fn as (...args: unknown[]) => unknown)
  },

  /** Removes `name`; returns whether it was registered. */
  unregister(name: string): boolean {
    checkFunctionName(name)
    return registry.delete(name)
  },

  /** The registered names, sorted. */
  registered(): string[] {
    return [...registry.keys()].sort()
  },

  /**
   * Calls the function registered as `name` and resolves with its result.
   * Rejects with `NoFunctionError` if there is none, and with exactly what
   * the function threw (or rejected with) otherwise.
   */
  async call<R = unknown>(name: string, ...args: unknown[]): Promise<R> {
    checkFunctionName(name)
    const fn = registry.get(name)
    if (fn === undefined) throw new NoFunctionError(`functions.call: no function is registered as '${name}'`, name)
    return (await fn(...args)) as R
  },

  /**
   * Runs the function registered as `name` later (fire and forget). Never
   * throws, not even for a bad or unknown name: failures go to the logger
   * (see `setLogger`).
   */
  cast(name: string, ...args: unknown[]): void {
    queueMicrotask(() => {
      let fn: ((...args: unknown[]) => unknown) | undefined
      try {
        checkFunctionName(name)
        fn = registry.get(name)
        if (fn === undefined) throw new NoFunctionError(`functions.cast: no function is registered as '${name}'`, String(name))
        Promise.resolve(fn(...args)).catch((err: unknown) => failed(name, err))
      } catch (err) {
        failed(name, err)
      }
    })
  },
}

function failed(name: unknown, error: unknown): void {
  log({ level: 'error', message: `functions.cast('${String(name)}') failed`, error })
}
