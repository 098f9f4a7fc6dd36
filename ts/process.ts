/**
 * Processes: lightweight actors on the event loop, Erlang-style. A process is
 * an async function plus a mailbox; it is not a thread, and spawning one costs
 * about a microsecond and a few hundred bytes of our own (the rest is the
 * function's own async frame).
 *
 * Semantics follow Erlang where JavaScript allows:
 * - `send` is asynchronous for the receiver and never blocks the sender;
 *   order between one sender and one receiver is kept.
 * - Messages to local processes are NOT copied (a BEAM copies; a same-thread
 *   JS actor need not, and copying would cost more than the rest of a send).
 *   Treat a sent object as handed over: don't mutate it after sending.
 * - Exit signals and monitors are delivered synchronously: when `exit(pid,
 *   'kill')` returns, the process and every non-trapping process linked to it
 *   are already dead. Propagation runs through a queue, not recursion, so a
 *   long chain of links cannot overflow the stack.
 * - There is no implicit "current process" in JavaScript (no `self()`), so
 *   operations made on behalf of a process (link, monitor, spawnLink…) are
 *   methods of the `self` a process function receives; the root functions of
 *   the same names take that `self` explicitly as their last argument.
 * @module
 */
import { checkName, checkOptions, checkTimeout, describe, isThenable } from './check.js'
import { ExitError, NoProcessError } from './errors.js'
import { log } from './logger.js'
import { counters } from './metrics-counters.js'
import { node } from './node.js'
import { Pid, newLocalPid, releaseLocalPid } from './pid.js'
import { Ref, makeRef } from './ref.js'

/**
 * Why a process exited: `'normal'` (its function returned), `'killed'`
 * (`exit(pid, 'kill')`), `'shutdown'`, `'noproc'`, the error its function
 * threw, or any value passed to `exit`.
 */
export type ExitReason = unknown

/** The message a process that traps exits receives when a linked process exits. */
export interface ExitMessage {
  readonly type: 'EXIT'
  /** The process that exited (or sent the exit signal); `null` for `exit()` called outside any process. */
  readonly from: Pid | null
  readonly reason: ExitReason
}

/** The message a monitor delivers, exactly once, when the monitored process exits. */
export interface DownMessage {
  readonly type: 'DOWN'
  readonly ref: Ref
  readonly pid: Pid
  /** The exit reason, or `'noproc'` if the process was already dead when monitored. */
  readonly reason: ExitReason
}

/** Options of `self.receive`. */
export interface ReceiveOptions {
  /** Milliseconds to wait (≥ 0; `Infinity` = forever, the default). On timeout `receive` resolves `undefined`. */
  timeout?: number | undefined
}

/**
 * What a full mailbox does with a new message: `'drop_newest'` drops it and
 * counts it (see `processInfo(pid).dropped`); `'error'` throws a `RangeError`
 * at the sender.
 */
export type MailboxOverflow = 'drop_newest' | 'error'

/** Options of `spawn`, `spawnLink` and `spawnMonitor`. */
export interface SpawnOptions {
  /** Register the process under this name before it starts. */
  name?: string | undefined
  /** Start trapping exits before the function runs (see `self.trapExit`). */
  trapExit?: boolean | undefined
  /**
   * The most messages the mailbox may hold (a positive integer; default
   * unbounded). Exit and monitor messages are never refused.
   */
  mailboxLimit?: number | undefined
  /** What happens to a message that finds the mailbox full; default `'drop_newest'`. */
  mailboxOverflow?: MailboxOverflow | undefined
}

/** The function a process runs. It ends the process normally by returning, abnormally by throwing. */
export type ProcessFunction = (self: ProcessContext) => unknown

/** What a process function receives as `self`: its pid, its mailbox and its signals. */
export interface ProcessContext {
  /** This process's pid. */
  readonly pid: Pid
  /**
   * The next message for which `match` returns true (the oldest message if
   * no `match`). Messages that do not match stay queued, in order. With a
   * `timeout`, resolves `undefined` if nothing matched in time.
   */
  receive<T>(match: (message: unknown) => message is T): Promise<T>
  receive<T>(match: (message: unknown) => message is T, opts: ReceiveOptions): Promise<T | undefined>
  receive<T = unknown>(match?: ((message: unknown) => boolean) | null): Promise<T>
  receive<T = unknown>(match: ((message: unknown) => boolean) | null | undefined, opts: ReceiveOptions): Promise<T | undefined>
  /**
   * Trap exits: exit signals from linked processes arrive as
   * `{ type: 'EXIT', from, reason }` messages instead of killing this
   * process ('kill' still kills). Returns the previous setting.
   */
  trapExit(flag: boolean): boolean
  /** Aborted when this process exits for any reason, so long awaits can unwind. Created on first read. */
  readonly signal: AbortSignal
  /** Links this process with `pid`: when either exits abnormally, the other gets the exit signal. */
  link(pid: Pid): void
  /** Removes the link with `pid`, if any. */
  unlink(pid: Pid): void
  /** Monitors `pid`: one `{ type: 'DOWN', ref, pid, reason }` message arrives when it exits. */
  monitor(pid: Pid): Ref
  /** Cancels a monitor; with `flush`, also removes its DOWN message if it already arrived. Returns whether it was active. */
  demonitor(ref: Ref, opts?: { flush?: boolean | undefined }): boolean
  /** Sends an exit signal to `pid` from this process (see the root `exit`). */
  exit(pid: Pid, reason: ExitReason): void
  /** Spawns a process linked to this one (the link exists before it runs). */
  spawnLink(fn: ProcessFunction, opts?: SpawnOptions): Pid
  /** Spawns a process monitored by this one (the monitor exists before it runs). */
  spawnMonitor(fn: ProcessFunction, opts?: SpawnOptions): [Pid, Ref]
}

/** What a process runs: `'process'` for `spawn`, or the behaviour (for introspection). */
export type ProcessKind = 'process' | 'genserver' | 'supervisor' | 'dynamic_supervisor'

/** A process registered under `name` on the node `node` (Erlang's `{Name, Node}`), a target of `send`. */
export interface NamedOnNode {
  readonly name: string
  readonly node: string
}

/**
 * @internal Where the distribution layer (ts/remote.ts) plugs in: operations
 * on pids of other nodes. Registered by that module, so this one does not
 * import it (no import cycle); without it, remote pids behave as dead.
 */
export interface RemoteHooks {
  send(to: Pid | NamedOnNode, message: unknown): void
  link(a: Process, pid: Pid): void
  unlink(a: Process, pid: Pid): void
  monitor(watcher: Process, pid: Pid): Ref
  /** Cancels a monitor of a remote pid; whether `ref` was one. */
  demonitor(ref: Ref): boolean
  exit(from: Pid | null, pid: Pid, reason: ExitReason): void
}

let remote: RemoteHooks | null = null

/** @internal Installs the distribution layer's hooks. */
export function setRemoteHooks(hooks: RemoteHooks | null): void {
  remote = hooks
}

/** @internal One monitor: `watcher` monitors `target`. */
class Monitor {
  constructor(
    readonly ref: Ref,
    readonly watcher: Process,
    readonly target: Process,
  ) {}
}

/**
 * @internal A message that must hear about its receiver's death if it is
 * still queued then (a GenServer call, whose caller is waiting for a reply).
 */
export abstract class Envelope {
  abstract abandon(pid: Pid, reason: ExitReason): void
}

/**
 * @internal The cold part of a process, allocated on first use, so a plain
 * process that never links, monitors, registers or times out stays small.
 */
export class ProcessExt {
  links: Set<Process> | null = null
  /** Monitors this process holds on others. */
  monitors: Set<Monitor> | null = null
  /** Monitors others hold on this process. */
  watchers: Set<Monitor> | null = null
  name: string | null = null
  ac: AbortController | null = null
  timer: ReturnType<typeof setTimeout> | null = null
  trapping = false
  limit = Infinity
  overflowError = false
  dropped = 0
  reason: ExitReason = undefined
  /** The first exit hook, then the others: most processes have one or two, and an array grown by push starts at 17 slots. */
  exitHook: ((reason: ExitReason) => void) | null = null
  exitHooks: Array<(reason: ExitReason) => void> | null = null
  kind: ProcessKind = 'process'
  /** The supervisor (or linking starter) responsible for this process. */
  parent: Pid | null = null
  /** Data of the behaviour running in the process (a GenServer's runtime). */
  role: unknown = null
}

/**
 * @internal A process. It is the `self` its function receives; only the
 * {@link ProcessContext} part is public. Hot fields only: everything else
 * lives in {@link ProcessExt}.
 */
export class Process implements ProcessContext {
  readonly pid: Pid
  /** Queued messages from `qHead` on. */
  q: unknown[] | null = null
  qHead = 0
  /** Set while waiting in `receive`: resolves the pending receive. */
  resolve: ((value: unknown) => void) | null = null
  match: ((message: unknown) => boolean) | null = null
  alive = true
  ext: ProcessExt | null = null

  constructor() {
    this.pid = newLocalPid(this)
  }

  /** The cold part, created on first use. */
  x(): ProcessExt {
    return (this.ext ??= new ProcessExt())
  }

  receive<T = unknown>(match?: ((message: unknown) => boolean) | null, opts?: ReceiveOptions): Promise<T> {
    if (match !== undefined && match !== null && typeof match !== 'function') {
      throw new TypeError(`receive: match must be a function, got ${describe(match)}`)
    }
    let timeout = Infinity
    if (opts !== undefined) {
      checkOptions(opts, 'receive options')
      if (opts.timeout !== undefined) timeout = checkTimeout(opts.timeout, 'receive timeout')
    }
    // A process that was killed while doing something else gets no more
    // messages: its code just stops here. A fresh promise each time, so
    // nothing keeps the abandoned frame alive and it is garbage collected.
    if (!this.alive) return new Promise<T>(ignore)
    if (this.resolve !== null) {
      throw new TypeError(`receive: ${this.pid} is already waiting in receive (a process receives one message at a time)`)
    }
    const q = this.q
    if (q !== null && this.qHead < q.length) {
      if (match === undefined || match === null) return Promise.resolve(takeAt(this, this.qHead) as T)
      for (let i = this.qHead; i < q.length; i++) {
        if (match(q[i])) return Promise.resolve(takeAt(this, i) as T)
      }
    }
    if (timeout === 0) return Promise.resolve(undefined as T)
    const promise = new Promise(captureResolve)
    this.resolve = captured
    this.match = match ?? null
    if (timeout !== Infinity) this.x().timer = setTimeout(receiveTimedOut, timeout, this)
    return promise as Promise<T>
  }

  trapExit(flag: boolean): boolean {
    if (typeof flag !== 'boolean') throw new TypeError(`trapExit: flag must be a boolean, got ${describe(flag)}`)
    const x = this.x()
    const previous = x.trapping
    x.trapping = flag
    return previous
  }

  get signal(): AbortSignal {
    // A process that died without its cold part died normally (see die).
    const reason = this.ext === null ? 'normal' : this.ext.reason
    const x = this.x()
    if (x.ac === null) {
      x.ac = new AbortController()
      if (!this.alive) x.ac.abort(exitError(this.pid, reason))
    }
    return x.ac.signal
  }

  link(pid: Pid): void {
    linkTo(this, checkPid(pid, 'link'))
  }

  unlink(pid: Pid): void {
    unlinkFrom(this, checkPid(pid, 'unlink'))
  }

  monitor(pid: Pid): Ref {
    return monitorOf(this, checkPid(pid, 'monitor'))
  }

  demonitor(ref: Ref, opts?: { flush?: boolean | undefined }): boolean {
    checkOptions(opts, 'demonitor options')
    return demonitorRef(checkRef(ref), opts?.flush === true ? this : null)
  }

  exit(pid: Pid, reason: ExitReason): void {
    exitFrom(this.pid, pid, reason)
  }

  spawnLink(fn: ProcessFunction, opts?: SpawnOptions): Pid {
    const child = spawnProcess(fn, opts)
    linkTo(this, child.pid)
    return child.pid
  }

  spawnMonitor(fn: ProcessFunction, opts?: SpawnOptions): [Pid, Ref] {
    const child = spawnProcess(fn, opts)
    return [child.pid, monitorOf(this, child.pid)]
  }
}

// ---------------------------------------------------------------------------
// Receiving

// One executor for every receive: it hands the resolve function over through
// a module variable, so a receive allocates no closure of its own.
let captured: ((value: unknown) => void) | null = null
function captureResolve(resolve: (value: unknown) => void): void {
  captured = resolve
}

/**
 * Settles a pending receive as failed through its resolve function (a process
 * keeps only that one). A thenable rather than `Promise.reject(err)`, which
 * would be tracked as an unhandled rejection until the receive adopts it.
 */
class Failure {
  constructor(readonly error: unknown) {}
  then(_: unknown, reject: (error: unknown) => void): void {
    reject(this.error)
  }
}

function ignore(): void {}

function receiveTimedOut(p: Process): void {
  const resolve = p.resolve
  if (resolve === null) return
  p.resolve = null
  p.match = null
  p.ext!.timer = null
  resolve(undefined)
}

function stopWaiting(p: Process): void {
  p.resolve = null
  p.match = null
  const x = p.ext
  if (x !== null && x.timer !== null) {
    clearTimeout(x.timer)
    x.timer = null
  }
}

/** Removes and returns the queued message at index `i`. */
function takeAt(p: Process, i: number): unknown {
  const q = p.q!
  const m = q[i]
  if (i !== p.qHead) {
    q.splice(i, 1)
    return m
  }
  q[i] = undefined
  const head = i + 1
  if (head === q.length) {
    q.length = 0
    p.qHead = 0
  } else if (head > 1024 && head * 2 > q.length) {
    // Reclaim the consumed front now and then instead of shifting per message.
    q.splice(0, head)
    p.qHead = 0
  } else {
    p.qHead = head
  }
  return m
}

/** @internal Returned by {@link takeNow} when the mailbox is empty. */
export const EMPTY: unique symbol = Symbol('ironwood.empty')

/** @internal The oldest queued message, synchronously (GenServer's loop drains with it). */
export function takeNow(p: Process): unknown {
  const q = p.q
  return q !== null && p.qHead < q.length ? takeAt(p, p.qHead) : EMPTY
}

/** @internal Removes every queued message for which `pred` holds. */
export function removeMessages(p: Process, pred: (message: unknown) => boolean): void {
  const q = p.q
  if (q === null) return
  // One compacting pass: linear however many messages match.
  let w = p.qHead
  for (let r = p.qHead; r < q.length; r++) {
    const m = q[r]
    if (!pred(m)) q[w++] = m
  }
  q.length = w
}

/** @internal The number of queued messages. */
export function mailboxLength(p: Process): number {
  return p.q === null ? 0 : p.q.length - p.qHead
}

/**
 * @internal Puts a message in `p`'s mailbox, or hands it straight to a
 * waiting `receive` (no queueing, no extra promise). System messages (EXIT,
 * DOWN, stop requests) skip the mailbox limit.
 */
export function deliver(p: Process, message: unknown, system: boolean): void {
  if (!p.alive) return
  if (counters.on) counters.messagesReceived++
  const resolve = p.resolve
  if (resolve !== null) {
    const match = p.match
    if (match === null) {
      stopWaiting(p)
      resolve(message)
      return
    }
    let matched: boolean
    try {
      matched = match(message)
    } catch (err) {
      // The receiver's own match function failed: its receive fails (in the
      // receiver, not in the sender), and the message stays queued.
      stopWaiting(p)
      resolve(new Failure(err))
      matched = false
    }
    if (matched) {
      stopWaiting(p)
      resolve(message)
      return
    }
  }
  let q = p.q
  if (q === null) q = p.q = []
  else if (!system && p.ext !== null && q.length - p.qHead >= p.ext.limit) return overflow(p, p.ext)
  q.push(message)
}

function overflow(p: Process, x: ProcessExt): void {
  if (x.overflowError) {
    throw new RangeError(`the mailbox of ${p.pid} is full (mailboxLimit ${x.limit}); the message was refused`)
  }
  if (x.dropped++ === 0) {
    log({ level: 'warn', message: `the mailbox of ${p.pid} is full (mailboxLimit ${x.limit}); dropping new messages`, pid: p.pid })
  }
}

// ---------------------------------------------------------------------------
// Spawning and running

const runQueue: Array<Process | ProcessFunction> = []
let runScheduled = false

// New processes start together in one microtask, after the spawner's current
// synchronous code: spawn returns the pid first, as in Erlang.
function runSpawned(): void {
  let i = 0
  try {
    for (; i < runQueue.length; i += 2) start(runQueue[i] as Process, runQueue[i + 1] as ProcessFunction)
    runQueue.length = 0
    runScheduled = false
  } catch (err) {
    // start() catches what user code throws; this is a bug of ours. Never
    // leave the queue stuck because of it.
    log({ level: 'error', message: 'internal error while starting a process', error: err })
    runQueue.splice(0, i + 2)
    runScheduled = runQueue.length > 0
    if (runScheduled) queueMicrotask(runSpawned)
  }
}

/**
 * @internal What a process function returns when it has started work that
 * ends the process itself on every path and never rejects (a GenServer's
 * loop): nothing is attached to it, which saves two bound functions and a
 * promise per process.
 */
export const SELF_ENDING: unique symbol = Symbol('ironwood.selfEnding')

function start(p: Process, fn: ProcessFunction): void {
  if (!p.alive) return // killed before it ran
  try {
    const result = fn(p)
    if (result === SELF_ENDING) return
    if (isThenable(result)) {
      // Bound functions, not closures: the smallest way to learn when an
      // async function settles (this is most of a process's fixed cost).
      result.then(returned.bind(p), crashed.bind(p))
      return
    }
  } catch (err) {
    crashed.call(p, err)
    return
  }
  die(p, 'normal', false)
}

function returned(this: Process): void {
  if (this.alive) die(this, 'normal', false)
}

function crashed(this: Process, err: unknown): void {
  if (!this.alive) return // already dead: this is its frame unwinding after a kill
  log({ level: 'error', message: `process ${this.pid} crashed`, pid: this.pid, error: err })
  die(this, err, false)
}

/** @internal Validates spawn options, then creates and schedules a process. */
export function spawnProcess(fn: ProcessFunction, opts: SpawnOptions | undefined, kind?: ProcessKind): Process {
  if (typeof fn !== 'function') throw new TypeError(`spawn: expected a function, got ${describe(fn)}`)
  let limit = Infinity
  let overflowError = false
  let name: string | undefined
  if (opts !== undefined) {
    checkOptions(opts, 'spawn options')
    if (opts.mailboxLimit !== undefined) {
      limit = opts.mailboxLimit
      if (typeof limit !== 'number') throw new TypeError(`mailboxLimit must be a number, got ${describe(limit)}`)
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`mailboxLimit must be a positive integer, got ${limit}`)
    }
    if (opts.mailboxOverflow !== undefined) {
      if (opts.mailboxOverflow !== 'drop_newest' && opts.mailboxOverflow !== 'error') {
        throw new TypeError(`mailboxOverflow must be 'drop_newest' or 'error', got ${describe(opts.mailboxOverflow)}`)
      }
      overflowError = opts.mailboxOverflow === 'error'
    }
    if (opts.trapExit !== undefined && typeof opts.trapExit !== 'boolean') {
      throw new TypeError(`trapExit must be a boolean, got ${describe(opts.trapExit)}`)
    }
    if (opts.name !== undefined) {
      name = checkName(opts.name)
      const holder = names.get(name)
      if (holder !== undefined) throw new TypeError(`the name '${name}' is already registered to ${holder.pid}`)
    }
  }
  const p = new Process()
  if (opts !== undefined || kind !== undefined) {
    if (limit !== Infinity || overflowError || opts?.trapExit === true || name !== undefined || kind !== undefined) {
      const x = p.x()
      x.limit = limit
      x.overflowError = overflowError
      x.trapping = opts?.trapExit === true
      if (kind !== undefined) x.kind = kind
    }
    if (name !== undefined) registerName(name, p)
  }
  runQueue.push(p, fn)
  if (!runScheduled) {
    runScheduled = true
    queueMicrotask(runSpawned)
  }
  return p
}

/**
 * Starts a process running `fn(self)` and returns its pid at once; the
 * function starts after the caller's current synchronous code.
 */
export function spawn(fn: ProcessFunction, opts?: SpawnOptions): Pid {
  return spawnProcess(fn, opts).pid
}

/**
 * Spawns a process linked to `self` (the process on whose behalf it is
 * spawned; inside a process function that is its `self` argument).
 */
export function spawnLink(fn: ProcessFunction, self: ProcessContext | Pid, opts?: SpawnOptions): Pid {
  const owner = actingProcess(self, 'spawnLink')
  return owner.spawnLink(fn, opts)
}

/** Spawns a process monitored by `self`; returns its pid and the monitor's ref. */
export function spawnMonitor(fn: ProcessFunction, self: ProcessContext | Pid, opts?: SpawnOptions): [Pid, Ref] {
  const owner = actingProcess(self, 'spawnMonitor')
  return owner.spawnMonitor(fn, opts)
}

// ---------------------------------------------------------------------------
// Exiting, exit signals, links and monitors

function exitError(pid: Pid, reason: ExitReason): ExitError {
  return quickExitError(`process ${pid} exited: ${formatReason(reason)}`, reason)
}

/**
 * @internal An ExitError without a stack trace: it is made by the runtime when
 * a process dies, where a stack would only show ironwood's internals, and
 * capturing one costs more than the rest of a process's death.
 */
export function quickExitError(message: string, reason: ExitReason): ExitError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new ExitError(message, reason)
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** @internal A short readable form of an exit reason. */
export function formatReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`
  try {
    return JSON.stringify(reason) ?? String(reason)
  } catch {
    return String(reason)
  }
}

/**
 * @internal Ends `p` with `reason`: frees its name, fails its queued calls,
 * aborts its signal, fires its monitors and sends exit signals over its
 * links. `external`: the exit came from a signal, not from its own code, so a
 * pending receive is failed to let the frame unwind.
 */
export function die(p: Process, reason: ExitReason, external: boolean): void {
  if (!p.alive) return
  p.alive = false
  releaseLocalPid(p.pid)
  const resolve = p.resolve
  p.resolve = null
  p.match = null
  const q = p.q
  p.q = null
  // Only an abnormal exit pays for the cold part, to keep its reason: a dead
  // process without one exited 'normal'.
  const x = p.ext ?? (reason === 'normal' ? null : p.x())
  if (x !== null) {
    x.reason = reason
    if (x.timer !== null) {
      clearTimeout(x.timer)
      x.timer = null
    }
    if (x.name !== null) {
      names.delete(x.name)
      x.name = null
    }
  }
  if (q !== null) {
    for (let i = p.qHead; i < q.length; i++) {
      const m = q[i]
      if (m instanceof Envelope) m.abandon(p.pid, reason)
    }
  }
  if (x !== null) {
    if (x.ac !== null) x.ac.abort(exitError(p.pid, reason))
    if (x.monitors !== null) {
      for (const m of x.monitors) {
        m.target.ext!.watchers!.delete(m)
        monitorsByRef.delete(m.ref.id)
      }
      x.monitors = null
    }
    if (x.watchers !== null) {
      const watchers = x.watchers
      x.watchers = null
      for (const m of watchers) {
        monitorsByRef.delete(m.ref.id)
        m.watcher.ext!.monitors!.delete(m)
        deliver(m.watcher, { type: 'DOWN', ref: m.ref, pid: p.pid, reason } satisfies DownMessage, true)
      }
    }
    if (x.links !== null) {
      const links = x.links
      x.links = null
      for (const l of links) {
        l.ext!.links!.delete(p)
        exitSignal(l, p.pid, reason, true)
      }
    }
    const first = x.exitHook
    if (first !== null) {
      const rest = x.exitHooks
      x.exitHook = null
      x.exitHooks = null
      runExitHook(p, first, reason)
      if (rest !== null) for (const hook of rest) runExitHook(p, hook, reason)
    }
  }
  if (external && resolve !== null) resolve(new Failure(exitError(p.pid, reason)))
}

function runExitHook(p: Process, hook: (reason: ExitReason) => void, reason: ExitReason): void {
  try {
    hook(reason)
  } catch (err) {
    log({ level: 'error', message: `an exit hook of ${p.pid} failed`, pid: p.pid, error: err })
  }
}

/** @internal Runs `hook(reason)` when `p` exits (at once if it already has). Hooks run in the order added. */
export function onExit(p: Process, hook: (reason: ExitReason) => void): void {
  if (!p.alive) {
    hook(p.ext?.reason)
    return
  }
  const x = p.x()
  if (x.exitHook === null) x.exitHook = hook
  else if (x.exitHooks === null) x.exitHooks = [hook]
  else x.exitHooks.push(hook)
}

// Exit signals go through a queue so that a cascade over many links is a loop,
// not a recursion.
const signals: unknown[] = []
let signalling = false

/** @internal Sends an exit signal to `target`; `viaLink` when a linked process exited. */
export function exitSignal(target: Process, from: Pid | null, reason: ExitReason, viaLink: boolean): void {
  signals.push(target, from, reason, viaLink)
  if (signalling) return
  signalling = true
  try {
    for (let i = 0; i < signals.length; i += 4) {
      applySignal(signals[i] as Process, signals[i + 1] as Pid | null, signals[i + 2], signals[i + 3] as boolean)
    }
  } finally {
    signals.length = 0
    signalling = false
  }
}

function applySignal(t: Process, from: Pid | null, reason: ExitReason, viaLink: boolean): void {
  if (!t.alive) return
  // 'kill' sent with exit() cannot be trapped; over a link it arrives as 'killed'.
  if (reason === 'kill' && !viaLink) return die(t, 'killed', true)
  const x = t.ext
  if (x !== null && x.trapping) {
    deliver(t, { type: 'EXIT', from, reason } satisfies ExitMessage, true)
    return
  }
  if (reason === 'normal') {
    // A normal exit does not kill linked processes; only exit(self, 'normal') ends the caller.
    if (!viaLink && from === t.pid) die(t, 'normal', true)
    return
  }
  die(t, reason, true)
}

function exitFrom(from: Pid | null, pid: Pid, reason: ExitReason): void {
  checkPid(pid, 'exit')
  if (reason === undefined) throw new TypeError('exit: a reason is required (e.g. "shutdown" or "kill")')
  const t = pid.proc
  if (t !== null) exitSignal(t, from, reason, false)
  else if (pid.home !== null && remote !== null) remote.exit(from, pid, reason)
}

/**
 * Sends an exit signal to `pid` (Erlang's `exit/2`). `'kill'` kills it
 * unconditionally (links see `'killed'`); `'normal'` is ignored unless the
 * target traps exits; any other reason kills a process that does not trap
 * exits, or arrives as an EXIT message in one that does. A dead pid is ignored.
 * `self`, if given, is the sender (the `from` of the EXIT message).
 */
export function exit(pid: Pid, reason: ExitReason, self?: ProcessContext | Pid): void {
  exitFrom(self === undefined ? null : actingProcess(self, 'exit').pid, pid, reason)
}

/** @internal Links `a` with the process of `pid`. */
export function linkTo(a: Process, pid: Pid): void {
  if (!a.alive) return
  const b = pid.proc
  if (b === a) return
  if (b === null && pid.home !== null && remote !== null) return remote.link(a, pid)
  if (b === null) {
    // Erlang: a trapping caller hears 'noproc' as an EXIT; any other caller fails.
    if (a.ext !== null && a.ext.trapping) {
      deliver(a, { type: 'EXIT', from: pid, reason: 'noproc' } satisfies ExitMessage, true)
      return
    }
    throw new NoProcessError(`cannot link ${a.pid} to ${pid}: no such process`)
  }
  ;(a.x().links ??= new Set()).add(b)
  ;(b.x().links ??= new Set()).add(a)
}

/** @internal Removes the link between `a` and the process of `pid`. */
export function unlinkFrom(a: Process, pid: Pid): void {
  const b = pid.proc
  if (b === null && pid.home !== null && remote !== null) return remote.unlink(a, pid)
  if (b === null) return
  a.ext?.links?.delete(b)
  b.ext?.links?.delete(a)
}

const monitorsByRef = new Map<number, Monitor>()

/** @internal `watcher` starts monitoring the process of `pid`. */
export function monitorOf(watcher: Process, pid: Pid): Ref {
  if (pid.home !== null && remote !== null) return remote.monitor(watcher, pid)
  const ref = makeRef()
  const target = pid.proc
  if (target === null) {
    deliver(watcher, { type: 'DOWN', ref, pid, reason: 'noproc' } satisfies DownMessage, true)
    return ref
  }
  if (!watcher.alive) return ref
  const m = new Monitor(ref, watcher, target)
  monitorsByRef.set(ref.id, m)
  ;(watcher.x().monitors ??= new Set()).add(m)
  ;(target.x().watchers ??= new Set()).add(m)
  return ref
}

function demonitorRef(ref: Ref, flushFrom: Process | null): boolean {
  const m = ref.home === null ? monitorsByRef.get(ref.id) : undefined
  if (m !== undefined) {
    monitorsByRef.delete(ref.id)
    m.watcher.ext!.monitors!.delete(m)
    m.target.ext!.watchers!.delete(m)
  }
  const active = m !== undefined || (ref.home === null && remote !== null && remote.demonitor(ref))
  if (flushFrom !== null) {
    removeMessages(flushFrom, (msg) => {
      const down = msg as DownMessage | null
      return typeof down === 'object' && down !== null && down.type === 'DOWN' && down.ref instanceof Ref && down.ref.equals(ref)
    })
  }
  return active
}

/** Links `pid` with `self` (the calling process). See `ProcessContext.link`. */
export function link(pid: Pid, self: ProcessContext | Pid): void {
  linkTo(actingProcess(self, 'link'), checkPid(pid, 'link'))
}

/** Removes the link between `pid` and `self`. */
export function unlink(pid: Pid, self: ProcessContext | Pid): void {
  unlinkFrom(actingProcess(self, 'unlink'), checkPid(pid, 'unlink'))
}

/**
 * `self` starts monitoring `pid`: exactly one `{ type: 'DOWN', ref, pid,
 * reason }` message arrives in `self`'s mailbox when it exits (at once, with
 * reason `'noproc'`, if it is already dead).
 */
export function monitor(pid: Pid, self: ProcessContext | Pid): Ref {
  return monitorOf(actingProcess(self, 'monitor'), checkPid(pid, 'monitor'))
}

/** Cancels the monitor `ref`; returns whether it was active. (To also flush its DOWN message, use `self.demonitor(ref, { flush: true })`.) */
export function demonitor(ref: Ref): boolean {
  return demonitorRef(checkRef(ref), null)
}

/**
 * Whether the process of `pid` is alive. Local only, like Erlang's
 * `is_process_alive/1`: a pid of another node is always `false` (ask with a
 * monitor instead, which answers `'noproc'` for a dead remote process).
 */
export function isAlive(pid: Pid): boolean {
  return checkPid(pid, 'isAlive').proc !== null
}

// ---------------------------------------------------------------------------
// Sending

/**
 * Sends `message` to a process by pid, by registered name, or by
 * `{ name, node }` (a name registered on that node). Never blocks.
 * A dead pid drops the message silently (Erlang semantics); an unregistered
 * local name throws `NoProcessError`. The message is not copied (see the
 * module notes); `undefined` and promises cannot be sent (`TypeError`).
 * To a pid of another node or `{ name, node }` of another node, the message
 * must be a term (`TypeError` naming the offending path); it is dropped
 * silently if the node is not connected or the name not registered there.
 */
export function send(target: Pid | string | NamedOnNode, message: unknown): void {
  if (message === undefined) throw new TypeError('send: the message must not be undefined')
  if (typeof message === 'object' && message !== null && typeof (message as { then?: unknown }).then === 'function') {
    // receive would await it instead of returning it
    throw new TypeError('send: a promise (or other thenable) cannot be sent as a message; send its result')
  }
  if (counters.on) counters.messagesSent++
  let p: Process | null | undefined
  if (target instanceof Pid) {
    p = target.proc
    if (p === null) {
      // dead, or on another node
      if (target.home !== null && remote !== null) remote.send(target, message)
      return
    }
  } else if (typeof target === 'string') {
    p = names.get(target)
    if (p === undefined) throw new NoProcessError(`send: no process is registered as '${target}'`)
  } else if (isNamedOnNode(target)) {
    if (target.node !== node()) {
      if (remote !== null) remote.send(target, message)
      return
    }
    p = names.get(target.name)
    if (p === undefined) throw new NoProcessError(`send: no process is registered as '${target.name}'`)
  } else {
    throw new TypeError(`send: the target must be a Pid, a registered name or { name, node }, got ${describe(target)}`)
  }
  deliver(p, message, false)
}

function isNamedOnNode(target: unknown): target is NamedOnNode {
  if (typeof target !== 'object' || target === null || Array.isArray(target)) return false
  const { name, node: nodeName } = target as { name?: unknown; node?: unknown }
  if (name === undefined && nodeName === undefined) return false
  if (typeof name !== 'string' || name.length === 0 || typeof nodeName !== 'string' || nodeName.length === 0) {
    throw new TypeError(`send: a { name, node } target needs a non-empty string name and node, got ${describe(target)}`)
  }
  return true
}

// ---------------------------------------------------------------------------
// Names

/** @internal Registered names of local processes. */
export const names = new Map<string, Process>()

function registerName(name: string, p: Process): void {
  names.set(name, p)
  p.x().name = name
}

/**
 * Registers `pid` under `name` (a non-empty string) until it exits or is
 * unregistered. A name already in use, or a process that already has a name,
 * is a `TypeError`; a dead pid is a `NoProcessError`.
 */
export function register(name: string, pid: Pid): void {
  checkName(name)
  const p = checkPid(pid, 'register').proc
  if (p === null) throw new NoProcessError(`register: ${pid} is not alive`)
  const holder = names.get(name)
  if (holder === p) return
  if (holder !== undefined) throw new TypeError(`register: the name '${name}' is already registered to ${holder.pid}`)
  const own = p.ext?.name ?? null
  if (own !== null) throw new TypeError(`register: ${pid} is already registered as '${own}'`)
  registerName(name, p)
}

/** Removes a registered name; returns whether it was registered. */
export function unregister(name: string): boolean {
  checkName(name)
  const p = names.get(name)
  if (p === undefined) return false
  names.delete(name)
  p.ext!.name = null
  return true
}

/** The pid registered under `name`, or `undefined`. */
export function whereis(name: string): Pid | undefined {
  checkName(name)
  return names.get(name)?.pid
}

// ---------------------------------------------------------------------------
// Argument helpers

/** @internal */
export function checkPid(pid: unknown, what: string): Pid {
  if (!(pid instanceof Pid)) throw new TypeError(`${what}: expected a Pid, got ${describe(pid)}`)
  return pid
}

function checkRef(ref: unknown): Ref {
  if (!(ref instanceof Ref)) throw new TypeError(`demonitor: expected a Ref, got ${describe(ref)}`)
  return ref
}

/** @internal The live local process a `self` argument stands for. */
export function actingProcess(self: unknown, what: string): Process {
  if (self instanceof Process) return self
  if (self instanceof Pid) {
    if (self.proc !== null) return self.proc
    throw new NoProcessError(`${what}: the calling process ${self} is not alive`)
  }
  throw new TypeError(
    `${what}: pass the calling process as the last argument (the \`self\` your process function received), ` +
      `or call self.${what}(...) — JavaScript has no implicit current process; got ${describe(self)}`,
  )
}

/** @internal The live local process named by a pid or registered name, or `null` if it is dead. */
export function lookup(target: unknown, what: string): Process | null {
  if (target instanceof Pid) return target.proc
  if (typeof target === 'string') {
    const p = names.get(target)
    if (p === undefined) throw new NoProcessError(`${what}: no process is registered as '${target}'`)
    return p
  }
  throw new TypeError(`${what}: the target must be a Pid or a registered name, got ${describe(target)}`)
}
