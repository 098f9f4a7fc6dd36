/**
 * Argument checks shared by the process modules: a bad argument is a
 * `TypeError` (wrong kind of value) or a `RangeError` (right kind, bad value),
 * thrown at the call that received it, with the argument's name.
 * @module
 */

/** @internal A timeout in milliseconds: a number ≥ 0; `Infinity` means none. */
export function checkTimeout(value: unknown, what: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${what} must be a number of milliseconds, got ${value === null ? 'null' : typeof value}`)
  }
  if (!(value >= 0)) throw new RangeError(`${what} must be ≥ 0 milliseconds (or Infinity), got ${value}`)
  return value
}

/** @internal A registered name: a non-empty string. */
export function checkName(value: unknown, what = 'name'): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${value === null ? 'null' : typeof value}`)
  if (value.length === 0) throw new TypeError(`${what} must not be empty`)
  return value
}

/** @internal An options argument: `undefined` or an object. */
export function checkOptions(value: unknown, what = 'options'): void {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new TypeError(`${what} must be an object, got ${value === null ? 'null' : typeof value}`)
  }
}

/** @internal Whether `value` is a promise or another thenable (what `await` would unwrap). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** @internal A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`
  return `${typeof value} ${String(value)}`
}
