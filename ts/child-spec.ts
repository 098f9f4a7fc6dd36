/**
 * Child specifications and supervisor options: their types, defaults and
 * validation. A spec that is wrong in kind (missing, not a function, unknown
 * name, duplicate id) is a `TypeError`; a number out of range is a
 * `RangeError`. Both name the offending field, e.g. `children[2].start`.
 * @module
 */
import { describe } from './check.js'
import { Pid } from './pid.js'

/** When a child is restarted: always, only after an abnormal exit, or never. */
export type RestartType = 'permanent' | 'transient' | 'temporary'
/** A worker, or a supervisor (whose default shutdown is `Infinity`). */
export type ChildType = 'worker' | 'supervisor'
/** Milliseconds a child gets to stop after `'shutdown'` before it is killed, or `'brutal_kill'`. */
export type Shutdown = number | 'brutal_kill'
/** Which children restart when one exits. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one'

/** What a child's `start` may return: its pid, or an object carrying one (such as a `Supervisor`). */
export type StartResult = Pid | { readonly pid: Pid }

/** How to start and supervise one child. */
export interface ChildSpec {
  /** Unique within its supervisor. */
  id: string
  /** Starts the child and returns its pid (or a promise of it). The supervisor links to the pid. */
  start: () => StartResult | PromiseLike<StartResult>
  /** Default `'permanent'`. */
  restart?: RestartType | undefined
  /** Default 5000 for a worker, `Infinity` for a supervisor. */
  shutdown?: Shutdown | undefined
  /** Default `'worker'`. */
  type?: ChildType | undefined
}

/** A child spec for a `DynamicSupervisor`: the id is optional (children are named by pid). */
export type DynamicChildSpec = Omit<ChildSpec, 'id'> & { id?: string | undefined }

/** @internal A validated spec with its defaults filled in. */
export interface NormalSpec {
  id: string | null
  start: () => unknown
  restart: RestartType
  shutdown: Shutdown
  type: ChildType
}

const RESTARTS: readonly string[] = ['permanent', 'transient', 'temporary']
const TYPES: readonly string[] = ['worker', 'supervisor']
const STRATEGIES: readonly string[] = ['one_for_one', 'one_for_all', 'rest_for_one']

function oneOf(value: unknown, allowed: readonly string[], what: string): string {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new TypeError(`${what} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`)
  }
  return value
}

/** @internal Validates one child spec (`idRequired` for a static supervisor). */
export function normalizeSpec(spec: unknown, what: string, idRequired: boolean): NormalSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`${what} must be a child spec object, got ${describe(spec)}`)
  const s = spec as Partial<ChildSpec>
  let id: string | null = null
  if (s.id !== undefined || idRequired) {
    if (s.id === undefined) throw new TypeError(`${what}.id is missing (every child of a Supervisor needs a unique id)`)
    if (typeof s.id !== 'string' || s.id.length === 0) throw new TypeError(`${what}.id must be a non-empty string, got ${describe(s.id)}`)
    id = s.id
  }
  if (typeof s.start !== 'function') {
    throw new TypeError(`${what}.start must be a function returning the child's pid, got ${s.start === undefined ? 'nothing' : describe(s.start)}`)
  }
  const restart = s.restart === undefined ? 'permanent' : (oneOf(s.restart, RESTARTS, `${what}.restart`) as RestartType)
  const type = s.type === undefined ? 'worker' : (oneOf(s.type, TYPES, `${what}.type`) as ChildType)
  let shutdown: Shutdown = type === 'supervisor' ? Infinity : 5000
  if (s.shutdown !== undefined) {
    if (s.shutdown === 'brutal_kill') shutdown = 'brutal_kill'
    else if (typeof s.shutdown !== 'number') {
      throw new TypeError(`${what}.shutdown must be milliseconds or 'brutal_kill', got ${describe(s.shutdown)}`)
    } else if (!(s.shutdown >= 0)) {
      throw new RangeError(`${what}.shutdown must be ≥ 0 milliseconds (or Infinity), got ${s.shutdown}`)
    } else shutdown = s.shutdown
  }
  return { id, start: s.start, restart, shutdown, type }
}

/** Restart intensity: more than `maxRestarts` restarts within `maxSeconds` stops the supervisor. */
export interface IntensityOptions {
  /** Default 3. */
  maxRestarts?: number | undefined
  /** Default 5. */
  maxSeconds?: number | undefined
}

/** @internal Validated intensity. */
export interface Intensity {
  maxRestarts: number
  maxSeconds: number
}

/** @internal */
export function normalizeIntensity(opts: IntensityOptions): Intensity {
  const { maxRestarts = 3, maxSeconds = 5 } = opts
  if (typeof maxRestarts !== 'number') throw new TypeError(`maxRestarts must be a number, got ${describe(maxRestarts)}`)
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0) throw new RangeError(`maxRestarts must be an integer ≥ 0, got ${maxRestarts}`)
  if (typeof maxSeconds !== 'number') throw new TypeError(`maxSeconds must be a number, got ${describe(maxSeconds)}`)
  if (!(maxSeconds > 0) || maxSeconds === Infinity) {
    throw new RangeError(`maxSeconds must be a positive, finite number of seconds, got ${maxSeconds}`)
  }
  return { maxRestarts, maxSeconds }
}

/** @internal */
export function normalizeStrategy(strategy: unknown): Strategy {
  if (strategy === undefined) return 'one_for_one'
  return oneOf(strategy, STRATEGIES, 'strategy') as Strategy
}

/** @internal Validates a list of static children (ids present and unique). */
export function normalizeChildren(children: unknown): NormalSpec[] {
  if (children === undefined) return []
  if (!Array.isArray(children)) throw new TypeError(`children must be an array of child specs, got ${describe(children)}`)
  const seen = new Set<string>()
  return children.map((c, i) => {
    const spec = normalizeSpec(c, `children[${i}]`, true)
    if (seen.has(spec.id!)) throw new TypeError(`children[${i}].id '${spec.id}' is a duplicate (child ids must be unique)`)
    seen.add(spec.id!)
    return spec
  })
}

/** @internal The pid a child's `start` produced, or `null` if it produced something else. */
export function pidOfStartResult(result: unknown): Pid | null {
  if (result instanceof Pid) return result
  if (typeof result === 'object' && result !== null && (result as { pid?: unknown }).pid instanceof Pid) {
    return (result as { pid: Pid }).pid
  }
  return null
}
