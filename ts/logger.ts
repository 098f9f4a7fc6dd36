/**
 * Where ironwood reports what no caller is there to catch: a process that
 * crashed, a supervisor restarting a child, a `functions.cast` that failed.
 * Erlang's logger prints these; by default so do we (`console.error`).
 * @module
 */
import type { Pid } from './pid.js'

/** One report. */
export interface LogEvent {
  /** `'error'` for crashes and failures, `'warn'` for things worth a look. */
  level: 'error' | 'warn'
  /** A one-line description. */
  message: string
  /** The process the report is about, if any. */
  pid?: Pid | undefined
  /** The error or exit reason, if any. */
  error?: unknown
}

/** Receives every {@link LogEvent}. */
export type Logger = (event: LogEvent) => void

const defaultLogger: Logger = (e) => {
  if (e.error === undefined) console.error(`[ironwood] ${e.message}`)
  else console.error(`[ironwood] ${e.message}:`, e.error)
}

let current: Logger = defaultLogger

/**
 * Replaces the logger (pass `null` for the default, which writes to
 * `console.error`). Returns the previous one, so a test can restore it.
 */
export function setLogger(logger: Logger | null): Logger {
  if (logger !== null && typeof logger !== 'function') throw new TypeError('setLogger: expected a function or null')
  const previous = current
  current = logger ?? defaultLogger
  return previous
}

/** @internal Reports an event; a throwing logger never breaks the caller. */
export function log(event: LogEvent): void {
  try {
    current(event)
  } catch {
    // A broken logger must not take a supervisor or a sender down with it.
  }
}
