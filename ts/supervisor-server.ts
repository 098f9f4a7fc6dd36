/**
 * The supervisor engine shared by `Supervisor` and `DynamicSupervisor`: a
 * GenServer that traps exits, links to its children, restarts them by its
 * strategy within its restart intensity, and shuts them down in reverse start
 * order within each child's `shutdown` budget (OTP's `supervisor`).
 *
 * Operations from the handles (startChild, terminateChild…) are calls to this
 * server, so they are serialized with restarts, as in OTP.
 * @module
 */
import { describe, isThenable } from './check.js'
import type { ChildType, Intensity, NormalSpec, RestartType, Strategy } from './child-spec.js'
import { pidOfStartResult } from './child-spec.js'
import { GenServer } from './genserver.js'
import { log } from './logger.js'
import { childRestarted, supervisorRestarted } from './metrics-counters.js'
import type { Pid } from './pid.js'
import {
  type ExitMessage,
  type ExitReason,
  Process,
  exitSignal,
  formatReason,
  linkTo,
  onExit,
  removeMessages,
  unlinkFrom,
} from './process.js'

/** Where a child is in its life. */
export type ChildStatus = 'running' | 'restarting' | 'stopped'

/** One child as `whichChildren()` reports it. */
export interface ChildInfo {
  /** The spec's id (`null` for a dynamic child started without one). */
  id: string | null
  /** The running child's pid, or `null` while it is restarting or stopped. */
  pid: Pid | null
  type: ChildType
  restart: RestartType
  status: ChildStatus
}

/** What `countChildren()` reports (OTP's `count_children`). */
export interface ChildCounts {
  /** Child specs held. */
  specs: number
  /** Children running now. */
  active: number
  /** Specs of type 'supervisor'. */
  supervisors: number
  /** Specs of type 'worker'. */
  workers: number
}

/** A supervisor and, recursively, its children, for dashboards. */
export interface SupervisorTree {
  pid: Pid
  name: string | null
  kind: 'supervisor' | 'dynamic_supervisor'
  strategy: Strategy
  children: SupervisedChild[]
}

/** One child in a {@link SupervisorTree}; `tree` is set when the child is a live supervisor. */
export interface SupervisedChild extends ChildInfo {
  tree?: SupervisorTree | undefined
}

/** @internal The configuration a supervisor server starts with. */
export interface SupervisorConfig extends Intensity {
  strategy: Strategy
  children: NormalSpec[]
  dynamic: boolean
  maxChildren: number
}

/** @internal A request from a handle. */
export type SupervisorRequest =
  | { op: 'start_child'; spec: NormalSpec }
  | { op: 'start_children'; specs: NormalSpec[] }
  | { op: 'terminate_pids'; pids: Pid[] }
  | { op: 'terminate_child'; id: string }
  | { op: 'terminate_pid'; pid: Pid }
  | { op: 'restart_child'; id: string }
  | { op: 'delete_child'; id: string }

/** One child's outcome in a batch start: its pid, or why it did not start. */
export type BatchStartResult = { pid: Pid } | { error: unknown }

/** @internal The answer to a {@link SupervisorRequest}: errors travel back as values, so they never crash the supervisor. */
export type SupervisorReply = { ok: true; value: unknown } | { ok: false; error: unknown }

class Child {
  pid: Pid | null = null
  status: ChildStatus = 'stopped'
  constructor(
    readonly key: string,
    readonly spec: NormalSpec,
  ) {}
}

// Live supervisors by pid: what supervisionTree() walks.
const supervisors = new Map<Pid, SupervisorServer>()

function isShutdownReason(reason: ExitReason): boolean {
  return (
    reason === 'normal' ||
    reason === 'shutdown' ||
    (typeof reason === 'object' && reason !== null && 'shutdown' in reason && Object.keys(reason).length === 1)
  )
}

function isExitFrom(msg: unknown, pid: Pid): boolean {
  return typeof msg === 'object' && msg !== null && (msg as ExitMessage).type === 'EXIT' && pid.equals((msg as ExitMessage).from)
}

/** @internal Resolves `true` when `p` exits, or `false` after `ms`. */
function whenDead(p: Process, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | null = null
    onExit(p, () => {
      if (timer !== null) clearTimeout(timer)
      resolve(true)
    })
    if (p.alive && ms !== Infinity) timer = setTimeout(resolve, ms, false)
  })
}

/** @internal */
export class SupervisorServer extends GenServer {
  strategy: Strategy = 'one_for_one'
  dynamic = false
  maxChildren = Infinity
  maxRestarts = 3
  maxSeconds = 5
  /** In start order (a Map keeps insertion order). */
  readonly children = new Map<string, Child>()
  readonly byPid = new Map<Pid, Child>()
  private restarts: number[] = []
  private nextKey = 0

  override async init(config: SupervisorConfig): Promise<void> {
    this.self.trapExit(true)
    this.strategy = config.strategy
    this.dynamic = config.dynamic
    this.maxChildren = config.maxChildren
    this.maxRestarts = config.maxRestarts
    this.maxSeconds = config.maxSeconds
    const pid = this.pid
    supervisors.set(pid, this)
    onExit(this.self as Process, () => supervisors.delete(pid))
    for (const spec of config.children) {
      const child = new Child(spec.id!, spec)
      this.children.set(child.key, child)
      try {
        await this.startChild(child)
      } catch (err) {
        log({ level: 'error', message: `supervisor ${pid}: child '${spec.id}' failed to start`, pid, error: err })
        await this.terminateAll()
        throw err
      }
    }
  }

  override async handleCall(request: SupervisorRequest): Promise<SupervisorReply> {
    try {
      return { ok: true, value: await this.perform(request) }
    } catch (error) {
      return { ok: false, error }
    }
  }

  override async handleInfo(msg: unknown): Promise<void> {
    if (typeof msg === 'object' && msg !== null && (msg as ExitMessage).type === 'EXIT') {
      const { from, reason } = msg as ExitMessage
      const child = from === null ? undefined : this.byPid.get(from)
      if (child !== undefined) await this.childExited(child, reason)
      // An EXIT from a process that is no longer (or never was) a child is
      // stale: OTP ignores it too. The parent's EXIT never gets here.
      return
    }
    log({ level: 'warn', message: `supervisor ${this.pid} got an unexpected message: ${describe(msg)}`, pid: this.pid })
  }

  override async terminate(): Promise<void> {
    await this.terminateAll()
  }

  /** Children in start order. */
  list(): Child[] {
    return [...this.children.values()]
  }

  info(child: Child): ChildInfo {
    return { id: child.spec.id, pid: child.pid, type: child.spec.type, restart: child.spec.restart, status: child.status }
  }

  counts(): ChildCounts {
    let active = 0
    let supervisorsCount = 0
    for (const c of this.children.values()) {
      if (c.pid !== null) active++
      if (c.spec.type === 'supervisor') supervisorsCount++
    }
    return { specs: this.children.size, active, supervisors: supervisorsCount, workers: this.children.size - supervisorsCount }
  }

  private async perform(req: SupervisorRequest): Promise<unknown> {
    switch (req.op) {
      case 'start_child': {
        if (this.dynamic && this.children.size >= this.maxChildren) {
          throw new RangeError(`startChild: the supervisor ${this.pid} already has maxChildren (${this.maxChildren}) children`)
        }
        const key = this.dynamic ? `#${++this.nextKey}` : req.spec.id!
        if (this.children.has(key)) {
          const running = this.children.get(key)!.pid !== null
          throw new TypeError(`startChild: a child with id '${key}' is already ${running ? 'running' : 'present'} (ids must be unique)`)
        }
        const child = new Child(key, req.spec)
        this.children.set(key, child)
        try {
          return await this.startChild(child)
        } catch (err) {
          this.children.delete(key)
          throw err
        }
      }
      case 'start_children':
        return await this.startBatch(req.specs)
      case 'terminate_pids': {
        // Every child gets its shutdown signal at once and the budgets run
        // concurrently (OTP's dynamic supervisor does the same at shutdown);
        // a pid that is not (or no longer) a child is ignored.
        const stops: Promise<void>[] = []
        for (const pid of req.pids) {
          const child = this.byPid.get(pid)
          if (child === undefined) continue
          this.children.delete(child.key)
          const stopping = this.stopChild(child)
          if (stopping !== undefined) stops.push(stopping)
        }
        if (stops.length > 0) await Promise.all(stops)
        return undefined
      }
      case 'terminate_child': {
        const child = this.childById(req.id, 'terminateChild')
        await this.stopChild(child)
        if (child.spec.restart === 'temporary') this.children.delete(child.key)
        return undefined
      }
      case 'terminate_pid': {
        const child = this.byPid.get(req.pid)
        if (child === undefined) throw new RangeError(`terminateChild: ${req.pid} is not a child of ${this.pid}`)
        await this.stopChild(child)
        this.children.delete(child.key)
        return undefined
      }
      case 'restart_child': {
        const child = this.childById(req.id, 'restartChild')
        if (child.pid !== null) throw new RangeError(`restartChild: child '${req.id}' is running (terminate it first)`)
        return await this.startChild(child)
      }
      case 'delete_child': {
        const child = this.childById(req.id, 'deleteChild')
        if (child.pid !== null) throw new RangeError(`deleteChild: child '${req.id}' is running (terminate it first)`)
        this.children.delete(child.key)
        return undefined
      }
    }
  }

  private childById(id: string, what: string): Child {
    const child = this.children.get(id)
    if (child === undefined) throw new RangeError(`${what}: the supervisor ${this.pid} has no child with id '${id}'`)
    return child
  }

  /** Starts one child, links to it and records its pid. */
  private async startChild(child: Child): Promise<Pid> {
    let result = child.spec.start()
    if (isThenable(result)) result = await result
    return this.adopt(child, result)
  }

  /**
   * Starts a batch of dynamic children in one request: every `start()` is
   * called at once and their promises awaited together, so N children cost
   * one call to this server instead of N, and their inits run concurrently.
   * Each child succeeds or fails on its own (a failure is its entry).
   */
  private async startBatch(specs: NormalSpec[]): Promise<BatchStartResult[]> {
    const out = new Array<BatchStartResult>(specs.length)
    const children = new Array<Child | null>(specs.length)
    let pending: Array<PromiseLike<unknown>> | null = null
    let pendingAt: number[] | null = null
    for (let i = 0; i < specs.length; i++) {
      children[i] = null
      if (this.children.size >= this.maxChildren) {
        out[i] = { error: new RangeError(`startChild: the supervisor ${this.pid} already has maxChildren (${this.maxChildren}) children`) }
        continue
      }
      const child = new Child(`#${++this.nextKey}`, specs[i]!)
      this.children.set(child.key, child)
      children[i] = child
      let result: unknown
      try {
        result = child.spec.start()
      } catch (error) {
        this.children.delete(child.key)
        children[i] = null
        out[i] = { error }
        continue
      }
      if (isThenable(result)) {
        ;(pending ??= []).push(result)
        ;(pendingAt ??= []).push(i)
      } else out[i] = { pid: result as Pid } // adopted below, in order
    }
    if (pending !== null) {
      const settled = await Promise.allSettled(pending)
      for (let j = 0; j < settled.length; j++) {
        const s = settled[j]!
        out[pendingAt![j]!] = s.status === 'fulfilled' ? { pid: s.value as Pid } : { error: s.reason }
      }
    }
    for (let i = 0; i < out.length; i++) {
      const child = children[i]
      const r = out[i]!
      if (child === null || child === undefined) continue
      if ('error' in r) {
        this.children.delete(child.key)
        continue
      }
      try {
        out[i] = { pid: this.adopt(child, r.pid) }
      } catch (error) {
        this.children.delete(child.key)
        out[i] = { error }
      }
    }
    return out
  }

  /** Links to a started child and records its pid (`result`: what its start returned). */
  private adopt(child: Child, result: unknown): Pid {
    const label = child.spec.id ?? child.key
    const pid = pidOfStartResult(result)
    if (pid === null) {
      throw new TypeError(`child '${label}': start() must return a Pid (or a promise of one, or an object with a pid), got ${describe(result)}`)
    }
    const me = this.self as Process
    if (!me.alive) {
      // Killed while the child was starting: don't leave it orphaned.
      if (pid.proc !== null) exitSignal(pid.proc, null, 'kill', false)
      return pid
    }
    // A child that already died arrives as an EXIT 'noproc' (we trap exits),
    // which restarts it like any other exit.
    linkTo(me, pid)
    if (pid.proc !== null) pid.proc.x().parent = me.pid
    child.pid = pid
    child.status = 'running'
    this.byPid.set(pid, child)
    return pid
  }

  /**
   * OTP's shutdown: unlink, ask it to stop ('shutdown'), wait up to its
   * budget, then kill. Returns `undefined` when the child is already gone
   * (the common case: a worker that does not trap exits dies at once), so
   * stopping many children costs no promise per child.
   */
  private stopChild(child: Child): Promise<void> | undefined {
    const pid = child.pid
    child.status = 'stopped'
    if (pid === null) return undefined
    child.pid = null
    this.byPid.delete(pid)
    const me = this.self as Process
    unlinkFrom(me, pid)
    const p = pid.proc
    if (p === null) {
      // Only a child that already exited can have an EXIT queued here: it is
      // no longer news. (Scanning the mailbox for every stop made stopping
      // many children with many requests queued quadratic.)
      removeMessages(me, (m) => isExitFrom(m, pid))
      return undefined
    }
    const budget = child.spec.shutdown
    if (budget === 'brutal_kill') {
      exitSignal(p, me.pid, 'kill', false)
      return undefined
    }
    exitSignal(p, me.pid, 'shutdown', false)
    if (!p.alive) return undefined
    return this.awaitStop(child, p, budget)
  }

  /** The rest of {@link stopChild} for a child that traps exits (or is mid-cascade): wait, then kill. */
  private async awaitStop(child: Child, p: Process, budget: number): Promise<void> {
    if (await whenDead(p, budget)) return
    const me = this.self as Process
    log({ level: 'warn', message: `supervisor ${me.pid}: child '${child.spec.id ?? p.pid}' did not stop within ${budget} ms; killed`, pid: me.pid })
    exitSignal(p, me.pid, 'kill', false)
  }

  private async terminateAll(): Promise<void> {
    const children = this.list()
    for (let i = children.length - 1; i >= 0; i--) {
      const stopping = this.stopChild(children[i]!)
      if (stopping !== undefined) await stopping
    }
  }

  private async childExited(child: Child, reason: ExitReason): Promise<void> {
    this.byPid.delete(child.pid!)
    child.pid = null
    child.status = 'stopped'
    const { restart } = child.spec
    if (restart === 'temporary' || (restart === 'transient' && isShutdownReason(reason))) {
      if (restart === 'temporary' || this.dynamic) this.children.delete(child.key)
      return
    }
    log({
      level: 'warn',
      message: `supervisor ${this.pid}: child '${child.spec.id ?? child.key}' exited (${formatReason(reason)}); restarting`,
      pid: this.pid,
    })
    await this.restart(child)
  }

  /** Records a restart; false when the intensity is exceeded. */
  private addRestart(): boolean {
    const now = performance.now()
    supervisorRestarted(this.pid)
    const restarts = this.restarts
    restarts.push(now)
    const since = now - this.maxSeconds * 1000
    while (restarts.length > 0 && restarts[0]! <= since) restarts.shift()
    return restarts.length <= this.maxRestarts
  }

  private giveUp(): void {
    log({
      level: 'error',
      message: `supervisor ${this.pid}: more than ${this.maxRestarts} restarts in ${this.maxSeconds} s; shutting down`,
      pid: this.pid,
    })
    this.stop('shutdown')
  }

  private async restart(crashed: Child): Promise<void> {
    if (!this.addRestart()) return this.giveUp()
    // The group that restarts together, in start order.
    let group: Child[]
    if (this.strategy === 'one_for_one' || this.dynamic) group = [crashed]
    else {
      const all = this.list()
      group = this.strategy === 'one_for_all' ? all : all.slice(all.indexOf(crashed))
      for (let i = group.length - 1; i >= 0; i--) {
        const c = group[i]!
        if (c !== crashed && c.pid !== null) await this.stopChild(c)
      }
      // Temporary children are never restarted (OTP removes them here).
      group = group.filter((c) => {
        if (c.spec.restart !== 'temporary' || c === crashed) return true
        this.children.delete(c.key)
        return false
      })
    }
    for (const c of group) c.status = 'restarting'
    for (;;) {
      const started: Child[] = []
      try {
        for (const c of group) {
          if (this.children.get(c.key) !== c || c.pid !== null) continue
          await this.startChild(c)
          started.push(c)
        }
        for (const c of started) childRestarted(c, c.pid)
        return
      } catch (err) {
        log({ level: 'error', message: `supervisor ${this.pid}: a child failed to restart`, pid: this.pid, error: err })
        for (let i = started.length - 1; i >= 0; i--) await this.stopChild(started[i]!)
        for (const c of group) c.status = 'restarting'
        if (!(this.self as Process).alive) return
        if (!this.addRestart()) {
          for (const c of group) c.status = 'stopped'
          return this.giveUp()
        }
      }
    }
  }

  tree(): SupervisorTree {
    const me = this.self as Process
    return {
      pid: me.pid,
      name: me.ext?.name ?? null,
      kind: this.dynamic ? 'dynamic_supervisor' : 'supervisor',
      strategy: this.strategy,
      children: this.list().map((c) => {
        const node: SupervisedChild = this.info(c)
        const sub = c.pid === null ? undefined : supervisors.get(c.pid)
        if (sub !== undefined && (sub.self as Process).alive) node.tree = sub.tree()
        return node
      }),
    }
  }
}

/** @internal The live supervisor server of `pid`, if any. */
export function supervisorServer(pid: Pid): SupervisorServer | undefined {
  return supervisors.get(pid)
}

/**
 * Every live supervision tree, one per top-level supervisor (a supervisor
 * that is not the child of another live supervisor).
 */
export function supervisionTree(): SupervisorTree[] {
  const roots: SupervisorTree[] = []
  for (const [pid, server] of supervisors) {
    const parent = pid.proc?.ext?.parent ?? null
    if (parent === null || !supervisors.has(parent)) roots.push(server.tree())
  }
  return roots
}
