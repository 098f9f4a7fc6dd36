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
import { type ChildCounts, type ChildInfo, SupervisorServer, type SupervisorTree } from './supervisor-server.js'

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
