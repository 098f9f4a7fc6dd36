/**
 * Supervisor: starts children, restarts them by a strategy, and stops them in
 * reverse start order (OTP's `supervisor`). See docs/processes.md.
 * @module
 */
import { checkName, checkOptions } from './check.js'
import {
  type ChildSpec,
  type IntensityOptions,
  type Strategy,
  normalizeChildren,
  normalizeIntensity,
  normalizeSpec,
  normalizeStrategy,
} from './child-spec.js'
import { GenServer, startServer } from './genserver.js'
import type { Pid } from './pid.js'
import type { ExitReason } from './process.js'
import {
  type ChildCounts,
  type ChildInfo,
  type SupervisorReply,
  type SupervisorRequest,
  SupervisorServer,
  type SupervisorTree,
} from './supervisor-server.js'

/** Options of {@link Supervisor.start}. */
export interface SupervisorOptions extends IntensityOptions {
  /** Default `'one_for_one'`. */
  strategy?: Strategy | undefined
  /** Started in order; stopped in reverse order. */
  children?: readonly ChildSpec[] | undefined
  /** Register the supervisor under this name. */
  name?: string | undefined
}

/** @internal Sends a request to a supervisor server and unwraps its reply. */
export async function request(pid: Pid, req: SupervisorRequest): Promise<unknown> {
  const reply = await GenServer.call<SupervisorReply>(pid, req, { timeout: Infinity })
  if (!reply.ok) throw reply.error
  return reply.value
}

/** A running supervisor. */
export class Supervisor {
  /** The supervisor's process. */
  readonly pid: Pid
  readonly #server: SupervisorServer

  /** Use {@link Supervisor.start}. */
  private constructor(pid: Pid, server: SupervisorServer) {
    this.pid = pid
    this.#server = server
  }

  /**
   * Validates the options, starts the supervisor and its children in order,
   * and resolves once all are running. If a child fails to start, the ones
   * already started are stopped and the promise rejects with that child's error.
   */
  static async start(opts: SupervisorOptions): Promise<Supervisor> {
    if (opts === undefined) throw new TypeError('Supervisor.start: options are required ({ strategy, children, ... })')
    checkOptions(opts, 'Supervisor.start options')
    const config = {
      strategy: normalizeStrategy(opts.strategy),
      ...normalizeIntensity(opts),
      children: normalizeChildren(opts.children),
      dynamic: false,
      maxChildren: Infinity,
    }
    if (opts.name !== undefined) checkName(opts.name, 'name')
    const pid = await startServer(SupervisorServer, config, { name: opts.name }, 'supervisor')
    return new Supervisor(pid, serverIn(pid))
  }

  /** The children, in start order. Empty once the supervisor has exited. */
  whichChildren(): ChildInfo[] {
    if (this.pid.proc === null) return []
    return this.#server.list().map((c) => this.#server.info(c))
  }

  /** How many children there are, by kind. */
  countChildren(): ChildCounts {
    if (this.pid.proc === null) return { specs: 0, active: 0, supervisors: 0, workers: 0 }
    return this.#server.counts()
  }

  /** Adds a child and starts it; resolves with its pid. A duplicate id is a `TypeError`. */
  async startChild(spec: ChildSpec): Promise<Pid> {
    return (await request(this.pid, { op: 'start_child', spec: normalizeSpec(spec, 'spec', true) })) as Pid
  }

  /** Stops a child (within its shutdown budget); its spec stays unless it is temporary. */
  async terminateChild(id: string): Promise<void> {
    await request(this.pid, { op: 'terminate_child', id: checkName(id, 'id') })
  }

  /** Starts a stopped child again; resolves with its new pid. */
  async restartChild(id: string): Promise<Pid> {
    return (await request(this.pid, { op: 'restart_child', id: checkName(id, 'id') })) as Pid
  }

  /** Removes a stopped child's spec. */
  async deleteChild(id: string): Promise<void> {
    await request(this.pid, { op: 'delete_child', id: checkName(id, 'id') })
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

/** @internal */
export function serverIn(pid: Pid): SupervisorServer {
  const role = pid.proc?.ext?.role as { server?: unknown } | undefined
  const server = role?.server
  if (!(server instanceof SupervisorServer)) throw new TypeError(`${pid} is not a supervisor`)
  return server
}
