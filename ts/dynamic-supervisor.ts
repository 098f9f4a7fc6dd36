/**
 * DynamicSupervisor: a supervisor that starts with no children and adds them
 * on demand, each named by its pid (Elixir's `DynamicSupervisor`). Children
 * restart one for one; a child that is not restarted is removed.
 * @module
 */
import { checkName, checkOptions, describe } from './check.js'
import { type DynamicChildSpec, type IntensityOptions, normalizeIntensity, normalizeSpec } from './child-spec.js'
import { GenServer, startServer } from './genserver.js'
import { Pid } from './pid.js'
import type { ExitReason } from './process.js'
import { request, serverIn } from './supervisor.js'
import { type BatchStartResult, type ChildCounts, type ChildInfo, SupervisorServer, type SupervisorTree } from './supervisor-server.js'

export type { BatchStartResult } from './supervisor-server.js'

/** Options of {@link DynamicSupervisor.start}. */
export interface DynamicSupervisorOptions extends IntensityOptions {
  /** The most children at once (default `Infinity`); `startChild` beyond it rejects with `RangeError`. */
  maxChildren?: number | undefined
  /** Register the supervisor under this name. */
  name?: string | undefined
}

/** A running dynamic supervisor. */
export class DynamicSupervisor {
  /** The supervisor's process. */
  readonly pid: Pid
  readonly #server: SupervisorServer

  /** Use {@link DynamicSupervisor.start}. */
  private constructor(pid: Pid, server: SupervisorServer) {
    this.pid = pid
    this.#server = server
  }

  /** Starts a dynamic supervisor with no children. */
  static async start(opts: DynamicSupervisorOptions = {}): Promise<DynamicSupervisor> {
    checkOptions(opts, 'DynamicSupervisor.start options')
    const maxChildren = opts.maxChildren ?? Infinity
    if (typeof maxChildren !== 'number') throw new TypeError(`maxChildren must be a number, got ${describe(maxChildren)}`)
    if (!(maxChildren === Infinity || (Number.isInteger(maxChildren) && maxChildren >= 0))) {
      throw new RangeError(`maxChildren must be an integer ≥ 0 (or Infinity), got ${maxChildren}`)
    }
    if (opts.name !== undefined) checkName(opts.name, 'name')
    const config = { strategy: 'one_for_one' as const, ...normalizeIntensity(opts), children: [], dynamic: true, maxChildren }
    const pid = await startServer(SupervisorServer, config, { name: opts.name }, 'dynamic_supervisor')
    return new DynamicSupervisor(pid, serverIn(pid))
  }

  /** Starts a child; resolves with its pid. Rejects with `RangeError` at `maxChildren`, or with the child's start error. */
  async startChild(spec: DynamicChildSpec): Promise<Pid> {
    return (await request(this.pid, { op: 'start_child', spec: normalizeSpec(spec, 'spec', false) })) as Pid
  }

  /**
   * Starts many children in one request to the supervisor (instead of one
   * request each): every `start` is called at once and their inits run
   * concurrently. Resolves with one entry per spec, in order: `{ pid }`, or
   * `{ error }` for a child that failed to start (or found `maxChildren`
   * reached); the others are not affected. A malformed spec is a `TypeError`
   * before anything starts.
   */
  async startChildren(specs: readonly DynamicChildSpec[]): Promise<BatchStartResult[]> {
    if (!Array.isArray(specs)) throw new TypeError(`startChildren: expected an array of child specs, got ${describe(specs)}`)
    const normal = specs.map((s, i) => normalizeSpec(s, `specs[${i}]`, false))
    if (normal.length === 0) return []
    return (await request(this.pid, { op: 'start_children', specs: normal })) as BatchStartResult[]
  }

  /**
   * Stops many children in one request: each gets its shutdown signal at
   * once and their shutdown budgets run concurrently. Pids that are not (or
   * no longer) children are ignored. Resolves once every one has stopped.
   */
  async terminateChildren(pids: readonly Pid[]): Promise<void> {
    if (!Array.isArray(pids)) throw new TypeError(`terminateChildren: expected an array of pids, got ${describe(pids)}`)
    for (const p of pids) if (!(p instanceof Pid)) throw new TypeError(`terminateChildren: expected a Pid, got ${describe(p)}`)
    if (pids.length === 0) return
    await request(this.pid, { op: 'terminate_pids', pids: [...pids] })
  }

  /** Stops the child `pid` (within its shutdown budget) and forgets it. `RangeError` if it is not a child. */
  async terminateChild(pid: Pid): Promise<void> {
    if (!(pid instanceof Pid)) throw new TypeError(`terminateChild: expected a Pid, got ${describe(pid)}`)
    await request(this.pid, { op: 'terminate_pid', pid })
  }

  /** The children, in start order. */
  whichChildren(): ChildInfo[] {
    if (this.pid.proc === null) return []
    return this.#server.list().map((c) => this.#server.info(c))
  }

  /** How many children there are, by kind. */
  countChildren(): ChildCounts {
    if (this.pid.proc === null) return { specs: 0, active: 0, supervisors: 0, workers: 0 }
    return this.#server.counts()
  }

  /** Stops every child in reverse start order, then the supervisor. */
  async stop(reason: ExitReason = 'normal'): Promise<void> {
    await GenServer.stop(this.pid, reason)
  }

  /** This supervisor and its children, recursively. */
  tree(): SupervisorTree {
    return this.#server.tree()
  }
}
