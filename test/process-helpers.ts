// Shared helpers for the process-model tests. Test code is not a process, so
// these run a function inside one and hand back its result.
import { type ProcessContext, type SpawnOptions, setLogger, spawn } from 'ironwood'
import type { LogEvent } from 'ironwood'

/** Runs `fn` in a new process; resolves with what it returns, rejects with what it throws. */
export function inProcess<T>(fn: (self: ProcessContext) => Promise<T> | T, opts?: SpawnOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    spawn(async (self) => {
      try {
        resolve(await fn(self))
      } catch (err) {
        reject(err)
      }
    }, opts)
  })
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Lets every pending microtask and one macrotask run. */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Polls `cond` every few ms until it holds (or fails after `ms`). */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(2)
  }
}

/** Silences the logger and records what it was given. Call the returned function to restore it. */
export function captureLogs(): { events: LogEvent[]; restore: () => void } {
  const events: LogEvent[] = []
  const previous = setLogger((e) => events.push(e))
  return { events, restore: () => setLogger(previous) }
}
