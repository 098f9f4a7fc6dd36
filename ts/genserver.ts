/**
 * GenServer: a process that serves calls and casts one at a time, with its
 * state in a class instance (Elixir's `GenServer`, OTP's `gen_server`).
 *
 * Differences from OTP, each for JavaScript's sake:
 * - Handlers return the reply (or a promise of it) instead of a tuple; return
 *   `GenServer.noreply` to reply later with `GenServer.reply(from, value)`, and
 *   call `this.stop(reason)` to stop after the current handler.
 * - `terminate(reason)` runs on every exit except a kill: on a handler throw,
 *   on `GenServer.stop`, on an EXIT from the parent when trapping exits, and —
 *   unlike OTP — also after an exit signal kills a server that does not trap
 *   exits (then it runs just after the process died, as cleanup).
 * - `start({ link })` takes the process to link with (`link: self`): there is
 *   no implicit calling process in JavaScript.
 * @module
 */
import { checkOptions, checkTimeout, describe, isThenable } from './check.js'
import { type TimerList, type Timed, cancelTimeout, startTimeout } from './deadlines.js'
import { ExitError, NoProcessError, TimeoutError } from './errors.js'
import { log } from './logger.js'
import { Pid } from './pid.js'
import {
  EMPTY,
  Envelope,
  type ExitMessage,
  type ExitReason,
  type MailboxOverflow,
  type NamedOnNode,
  Process,
  type ProcessContext,
  type ProcessKind,
  actingProcess,
  deliver,
  die,
  exitSignal,
  formatReason,
  linkTo,
  lookup,
  names,
  onExit,
  quickExitError,
  SELF_ENDING,
  spawnProcess,
  takeNow,
} from './process.js'
import { node } from './node.js'
import type { Term } from './terms.js'

const NOREPLY: unique symbol = Symbol('GenServer.noreply')
const NONE: unique symbol = Symbol('none')

/** Options of {@link GenServer.start}. */
export interface GenServerStartOptions {
  /** Register the server under this name (before `init` runs). */
  name?: string | undefined
  /**
   * Link the server with this process (pass your `self`, or a pid). The
   * process becomes the server's parent: if the server traps exits, an EXIT
   * from it stops the server (running `terminate`).
   */
  link?: ProcessContext | Pid | undefined
  /** Milliseconds `init` may take (default `Infinity`); past it the server is killed and `start` rejects with `TimeoutError`. */
  timeout?: number | undefined
  /** See `SpawnOptions.mailboxLimit`. A call that finds the mailbox full is refused with `RangeError` under either policy. */
  mailboxLimit?: number | undefined
  /** See `SpawnOptions.mailboxOverflow` (applies to casts and plain messages). */
  mailboxOverflow?: MailboxOverflow | undefined
}

/** Options of {@link GenServer.call}. */
export interface CallOptions {
  /** Milliseconds to wait for the reply (default 5000; `Infinity` = forever). */
  timeout?: number | undefined
}

/**
 * @internal How calls and casts reach a server on another node; set by
 * remote-genserver.ts (which uses RPC), so this file needs no cluster code.
 */
export interface RemoteServers {
  call(target: Pid | NamedOnNode, request: unknown, timeout: number): Promise<unknown>
  cast(target: Pid | NamedOnNode, message: unknown): void
}

let remoteServers: RemoteServers = {
  call: (target) => Promise.reject(new NoProcessError(`GenServer.call: ${describe(target)} is on another node and the cluster is not loaded`)),
  cast: () => {},
}

/** @internal */
export function setRemoteServers(r: RemoteServers): void {
  remoteServers = r
}

/** A local target as `lookup` takes it (`{ name, node: node() }` is just the name). */
function localTarget(target: Pid | string | NamedOnNode): Pid | string {
  return typeof target === 'object' && !(target instanceof Pid) ? target.name : target
}

/** The target when it lives on another node; `undefined` for a local one. Throws for a bad shape. */
function remoteTarget(target: unknown, what: string): Pid | NamedOnNode | undefined {
  if (target instanceof Pid) return target.home === null ? undefined : target
  if (typeof target === 'string' || target === null || typeof target !== 'object') return undefined
  const { name, node: at } = target as Partial<NamedOnNode>
  if (typeof name !== 'string' || name.length === 0 || typeof at !== 'string' || at.length === 0) {
    throw new TypeError(`${what}: the target must be a Pid, a registered name or { name, node }, got ${describe(target)}`)
  }
  return at === node() ? undefined : { name, node: at }
}

/** Options of {@link GenServer.stop}. */
export interface StopOptions {
  /** Milliseconds to wait (default `Infinity`); past it the server is killed and `stop` rejects with `TimeoutError`. */
  timeout?: number | undefined
}

// Captures a promise's resolve and reject without a closure per promise.
let capturedResolve: (value: unknown) => void = () => {}
let capturedReject: (reason: unknown) => void = () => {}
function captureBoth(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve
  capturedReject = reject
}

/**
 * Who made a call: the second argument of `handleCall`. Pass it to
 * {@link GenServer.reply} to answer later.
 */
export interface From {
  /** The server that was called. */
  readonly server: Pid
}

/**
 * @internal A call: its request, its caller's promise and its timeout. The
 * same object is the message in the server's mailbox and the `from` given
 * to `handleCall` (one allocation per call).
 */
class Call extends Envelope implements Timed, From {
  /** @internal */ request: unknown
  /** @internal */ readonly server: Pid
  /** @internal */ resolve: (value: unknown) => void
  /** @internal */ reject: (reason: unknown) => void
  /** @internal */ done = false
  /** @internal The call's timeout in ms (`Infinity`: none). */
  timeout = Infinity
  /** @internal */ tPrev: Timed | null = null
  /** @internal */ tNext: Timed | null = null
  /** @internal */ tAt = 0
  /** @internal */ tList: TimerList | null = null
  /** @internal Set while the reply is deferred, so the server's death can fail the call. */
  runtime: ServerRuntime | null = null

  constructor(server: Pid, request: unknown) {
    super()
    this.server = server
    this.request = request
    this.resolve = capturedResolve
    this.reject = capturedReject
  }

  /** @internal The server died with the call still queued. */
  abandon(pid: Pid, reason: ExitReason): void {
    settle(this, diedDuringCall(pid, reason), false)
  }

  /** @internal No reply within the timeout. */
  expire(): void {
    settle(this, new TimeoutError(`GenServer.call to ${this.server} timed out after ${this.timeout} ms`, this.timeout), false)
  }
}

function settle(from: Call, value: unknown, ok: boolean): void {
  if (from.done) return
  from.done = true
  if (from.tList !== null) cancelTimeout(from)
  from.request = undefined
  if (from.runtime !== null) {
    from.runtime.deferred?.delete(from)
    from.runtime = null
  }
  if (ok) from.resolve(value)
  else from.reject(value)
}

function diedDuringCall(pid: Pid, reason: ExitReason): ExitError {
  return quickExitError(`GenServer ${pid} exited during the call: ${formatReason(reason)}`, reason)
}

/** A cast's message, told apart from plain messages (which go to `handleInfo`). */
class Cast {
  constructor(readonly message: unknown) {}
}

/** @internal The hub asks for the server's state to hand over (hot swap): answered in mailbox order. */
class HandoffRequest {
  constructor(readonly done: (state: { state?: Term; error?: unknown }) => void) {}
}

/** A request to stop, from {@link GenServer.stop} or `this.stop()`. */
class StopRequest {
  constructor(readonly reason: ExitReason) {}
}

/** @internal The state of a running server, kept out of the user's instance. */
export class ServerRuntime {
  server: GenServer | null = null
  current: Call | null = null
  deferred: Set<Call> | null = null
  busy = false
  stopReason: ExitReason | typeof NONE = NONE
  /** Whether terminate already ran, or must not (init has not succeeded). */
  terminated = true
  started = false
  startTimer: ReturnType<typeof setTimeout> | null = null
  /** The state handed over by a previous instance (hub hot swap): `init`'s second argument. */
  handedOver: unknown = NONE

  constructor(
    readonly Class: new () => GenServer,
    public arg: unknown,
    readonly proc: Process,
    private onStarted: ((pid: Pid) => void) | null,
    private onFailed: ((err: unknown) => void) | null,
  ) {}

  settleStart(err: unknown): void {
    if (this.started) return
    this.started = true
    if (this.startTimer !== null) clearTimeout(this.startTimer)
    const started = this.onStarted!
    const failed = this.onFailed!
    // A long-lived server need not keep its starter's promise functions.
    this.onStarted = null
    this.onFailed = null
    if (err === NONE) started(this.proc.pid)
    else failed(err)
  }
}

let constructing: Process | null = null

/** The type of the argument a server class's `init` takes. */
export type InitArg<T extends GenServer> = T extends { init(arg: infer A): unknown } ? A : unknown

/**
 * The base class of servers. Override the handlers you need; all may be
 * async. Calls, casts and messages are handled one at a time, in arrival order.
 */
export abstract class GenServer {
  /** The server's process (set before the constructor body runs, when started with `GenServer.start`). */
  readonly self: ProcessContext

  constructor() {
    this.self = constructing as ProcessContext
  }

  /** The server's pid. */
  get pid(): Pid {
    return this.self.pid
  }

  /**
   * Runs first, with `start`'s argument. Throw (or reject) to fail the start:
   * `GenServer.start` rejects with that error. A hub child started by a hot
   * swap with `handover` also gets the previous instance's {@link handoff}
   * result as `handedOver` (absent otherwise).
   */
  init?(arg: unknown, handedOver?: Term): unknown
  /** Answers a call: return the reply (or a promise of it), or {@link GenServer.noreply} and reply later. */
  handleCall?(request: unknown, from: From): unknown
  /** Handles a cast. */
  handleCast?(message: unknown): unknown
  /** Handles any other message sent to the server's pid (and EXIT/DOWN messages). */
  handleInfo?(message: unknown): unknown
  /** Runs when the server exits (not when killed). */
  terminate?(reason: ExitReason): unknown
  /**
   * The state to hand over when the server migrates (the Hub's hot swap with
   * `handover: true`): a term (or a promise of one), given to the new
   * instance's `init(arg, handedOver)`. It runs in mailbox order, like a
   * handler; messages handled after it do not reach the new instance.
   */
  handoff?(): Term | Promise<Term>

  /** Stops the server with `reason` after the current handler (a call still gets its reply). */
  stop(reason: ExitReason = 'normal'): void {
    const p = this.self as unknown
    const rt = p instanceof Process ? p.ext?.role : undefined
    if (!(rt instanceof ServerRuntime)) throw new TypeError('stop: this server was not started with GenServer.start')
    if (rt.busy) rt.stopReason = reason
    else deliver(p as Process, new StopRequest(reason), true)
  }

  /** Return it from `handleCall` to reply later with {@link GenServer.reply}. */
  static readonly noreply: typeof NOREPLY = NOREPLY

  /**
   * Starts a server: spawns its process, constructs `Class`, runs
   * `init(arg)`, and resolves with the pid once `init` has finished. If
   * `init` throws, rejects with that error (and the process exits with it).
   */
  static start<T extends GenServer>(Class: new () => T, arg?: InitArg<T>, opts?: GenServerStartOptions): Promise<Pid> {
    return startServer(Class, arg, opts, 'genserver')
  }

  /**
   * Calls the server and waits for its reply. Rejects with `TimeoutError`
   * (no reply in time), `NoProcessError` (dead pid or unknown name),
   * `ExitError` (the server exited before replying; carries the reason), or
   * `RangeError` (its mailbox is full).
   */
  static call<R = unknown>(target: Pid | string | NamedOnNode, request: unknown, opts?: CallOptions): Promise<R> {
    let p: Process | null
    let timeout = 5000
    try {
      if (request === undefined) throw new TypeError('GenServer.call: the request must not be undefined')
      if (opts !== undefined) {
        checkOptions(opts, 'call options')
        if (opts.timeout !== undefined) timeout = checkTimeout(opts.timeout, 'call timeout')
      }
      const remote = remoteTarget(target, 'GenServer.call')
      if (remote !== undefined) return remoteServers.call(remote, request, timeout) as Promise<R>
      p = lookup(localTarget(target), 'GenServer.call')
      if (p === null) throw new NoProcessError(`GenServer.call: ${String(target)} is not alive`)
    } catch (err) {
      return Promise.reject(err)
    }
    // A call cannot be dropped silently (its caller waits for a reply), so a
    // full mailbox refuses it under either overflow policy.
    if (p.ext !== null && mailboxFull(p)) {
      return Promise.reject(
        new RangeError(`GenServer.call: the mailbox of ${p.pid} is full (mailboxLimit ${p.ext.limit}); the call was refused`),
      )
    }
    const promise = new Promise(captureBoth) as Promise<R>
    const from = new Call(p.pid, request)
    deliver(p, from, false)
    if (timeout !== Infinity) {
      from.timeout = timeout
      startTimeout(from, timeout)
    }
    return promise
  }

  /** Sends a cast (fire and forget). A dead pid or unknown name is ignored, as in OTP. */
  static cast(target: Pid | string | NamedOnNode, message: unknown): void {
    if (message === undefined) throw new TypeError('GenServer.cast: the message must not be undefined')
    const remote = remoteTarget(target, 'GenServer.cast')
    if (remote !== undefined) return remoteServers.cast(remote, message)
    target = localTarget(target)
    let p: Process | null | undefined
    if (target instanceof Pid) p = target.proc
    else if (typeof target === 'string') p = names.get(target)
    else throw new TypeError(`GenServer.cast: the target must be a Pid or a registered name, got ${describe(target)}`)
    if (p === null || p === undefined) return
    deliver(p, new Cast(message), false)
  }

  /**
   * Stops the server: it finishes the current message, runs
   * `terminate(reason)` and exits with `reason`. Resolves once it is dead.
   * Rejects with `NoProcessError` if it is not alive; with `TimeoutError`
   * past `timeout` (the server is then killed).
   */
  static stop(target: Pid | string, reason: ExitReason = 'normal', opts?: StopOptions): Promise<void> {
    let p: Process | null
    let timeout = Infinity
    try {
      if (opts !== undefined) {
        checkOptions(opts, 'stop options')
        if (opts.timeout !== undefined) timeout = checkTimeout(opts.timeout, 'stop timeout')
      }
      p = lookup(target, 'GenServer.stop')
      if (p === null) throw new NoProcessError(`GenServer.stop: ${String(target)} is not alive`)
      if (!(p.ext?.role instanceof ServerRuntime)) {
        throw new TypeError(`GenServer.stop: ${p.pid} is not a GenServer (use exit(pid, reason))`)
      }
    } catch (err) {
      return Promise.reject(err)
    }
    const proc = p
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null
      onExit(proc, () => {
        if (timer !== null) clearTimeout(timer)
        resolve()
      })
      if (timeout !== Infinity) {
        timer = setTimeout(() => {
          reject(new TimeoutError(`GenServer.stop: ${proc.pid} did not stop within ${timeout} ms; it was killed`, timeout))
          exitSignal(proc, null, 'kill', false)
        }, timeout)
      }
      deliver(proc, new StopRequest(reason), true)
    })
  }

  /** Answers a call whose `handleCall` returned {@link GenServer.noreply}. A second reply, or one after the caller gave up, is ignored. */
  static reply(from: From, value: unknown): void {
    if (!(from instanceof Call)) throw new TypeError(`GenServer.reply: expected the \`from\` given to handleCall, got ${describe(from)}`)
    settle(from, value, true)
  }
}

function mailboxFull(p: Process): boolean {
  const q = p.q
  return q !== null && q.length - p.qHead >= p.ext!.limit
}

/**
 * @internal Starts a server and resolves with its pid (GenServer.start, and
 * supervisors, which run as servers of their own kind).
 */
export function startServer(
  Class: new () => GenServer,
  arg: unknown,
  opts: GenServerStartOptions | undefined,
  kind: ProcessKind,
  handedOver: unknown = NONE,
): Promise<Pid> {
  let timeout = Infinity
  let linkWith: Process | null = null
  try {
    if (typeof Class !== 'function' || !(Class.prototype instanceof GenServer)) {
      throw new TypeError(`GenServer.start: expected a class that extends GenServer, got ${describe(Class)}`)
    }
    checkOptions(opts, 'GenServer.start options')
    if (opts?.timeout !== undefined) timeout = checkTimeout(opts.timeout, 'start timeout')
    if (opts?.link !== undefined) linkWith = actingProcess(opts.link, 'GenServer.start({ link })')
  } catch (err) {
    return Promise.reject(err)
  }
  return new Promise<Pid>((resolve, reject) => {
    const p = spawnProcess(
      serverMain,
      { name: opts?.name, mailboxLimit: opts?.mailboxLimit, mailboxOverflow: opts?.mailboxOverflow },
      kind,
    )
    const rt = new ServerRuntime(Class, arg, p, resolve, reject)
    rt.handedOver = handedOver
    const x = p.x()
    x.role = rt
    onExit(p, serverExited.bind(rt))
    if (linkWith !== null) {
      linkTo(linkWith, p.pid)
      x.parent = linkWith.pid
    }
    if (timeout !== Infinity) rt.startTimer = setTimeout(startTimedOut, timeout, rt, timeout)
  })
}

function startTimedOut(rt: ServerRuntime, timeout: number): void {
  if (rt.started) return
  rt.settleStart(new TimeoutError(`GenServer.start: ${rt.Class.name}.init did not finish within ${timeout} ms; the server was killed`, timeout))
  exitSignal(rt.proc, null, 'kill', false)
}

// Runs when the server's process exits, however it exits.
function serverExited(this: ServerRuntime, reason: ExitReason): void {
  const pid = this.proc.pid
  if (!this.started) this.settleStart(new ExitError(`GenServer ${pid} exited during init: ${formatReason(reason)}`, reason))
  if (this.current !== null) settle(this.current, diedDuringCall(pid, reason), false)
  if (this.deferred !== null) for (const from of [...this.deferred]) settle(from, diedDuringCall(pid, reason), false)
  const server = this.server
  if (!this.terminated && server !== null && reason !== 'killed' && typeof server.terminate === 'function') {
    // Killed by an exit signal while not trapping exits: clean up after the fact.
    this.terminated = true
    runTerminate(server, reason, pid).catch(() => {})
  }
}

async function runTerminate(server: GenServer, reason: ExitReason, pid: Pid): Promise<void> {
  try {
    const r = server.terminate!(reason)
    if (isThenable(r)) await r
  } catch (err) {
    log({ level: 'error', message: `terminate of GenServer ${pid} (${server.constructor.name}) threw`, pid, error: err })
  }
}

// Not an async function: a server whose init is synchronous (the usual case)
// goes straight into its loop, so a running server holds one suspended async
// frame (the loop's) and no promise of its own for the start.
function serverMain(self: ProcessContext): Promise<void> | typeof SELF_ENDING | undefined {
  const p = self as Process
  const rt = p.ext!.role as ServerRuntime
  let server: GenServer
  let r: unknown
  try {
    constructing = p
    try {
      server = new rt.Class()
    } finally {
      constructing = null
    }
    rt.server = server
    if (typeof server.init === 'function') {
      const arg = rt.arg
      const handedOver = rt.handedOver
      // Not kept for the server's whole life.
      rt.arg = undefined
      rt.handedOver = NONE
      r = handedOver === NONE ? server.init(arg) : server.init(arg, handedOver as Term)
    }
  } catch (err) {
    initFailed(p, rt, err)
    return undefined
  }
  if (isThenable(r)) return afterInit(p, rt, server, r)
  if (!begin(p, rt)) return undefined
  // The loop ends the process on every path and never rejects (see its
  // catch), so nothing needs to watch its promise.
  void serverLoop(p, rt, server)
  return SELF_ENDING
}

async function afterInit(p: Process, rt: ServerRuntime, server: GenServer, init: PromiseLike<unknown>): Promise<void> {
  try {
    await init
  } catch (err) {
    initFailed(p, rt, err)
    return
  }
  if (!begin(p, rt)) return
  return serverLoop(p, rt, server)
}

function initFailed(p: Process, rt: ServerRuntime, err: unknown): void {
  if (!p.alive) return
  // OTP: no terminate when init fails (rt.terminated is still true); the starter gets the error.
  rt.settleStart(err)
  die(p, err, false)
}

/** After a successful init: whether the server is still alive to serve. */
function begin(p: Process, rt: ServerRuntime): boolean {
  if (!p.alive) return false
  rt.terminated = false // from now on, terminate runs on exit
  rt.settleStart(NONE)
  return true
}

function isParentExit(p: Process, msg: unknown): msg is ExitMessage {
  if (typeof msg !== 'object' || msg === null || (msg as ExitMessage).type !== 'EXIT') return false
  const from = (msg as ExitMessage).from
  const parent = p.ext!.parent
  // A server nobody linked treats exit() from outside any process as its parent's.
  return parent === null ? from === null : parent.equals(from)
}

// The server's loop: drain the mailbox synchronously while handlers are
// synchronous; await only an empty mailbox or a handler's promise.
async function serverLoop(p: Process, rt: ServerRuntime, server: GenServer): Promise<void> {
  try {
    for (;;) {
      let msg = takeNow(p)
      if (msg === EMPTY) {
        msg = await p.receive()
        if (!p.alive) return
      }
      rt.busy = true
      if (msg instanceof Call) {
        rt.current = msg
        if (typeof server.handleCall !== 'function') {
          throw new TypeError(`${rt.Class.name} received a call but defines no handleCall`)
        }
        let reply = server.handleCall(msg.request, msg)
        if (isThenable(reply)) {
          reply = await reply
          if (!p.alive) return
        }
        rt.current = null
        if (reply !== NOREPLY) settle(msg, reply, true)
        else if (!msg.done) {
          msg.runtime = rt
          ;(rt.deferred ??= new Set()).add(msg)
        }
      } else if (msg instanceof Cast) {
        if (typeof server.handleCast !== 'function') {
          throw new TypeError(`${rt.Class.name} received a cast but defines no handleCast`)
        }
        const r = server.handleCast(msg.message)
        if (isThenable(r)) {
          await r
          if (!p.alive) return
        }
      } else if (msg instanceof StopRequest) {
        await shutdown(p, rt, server, msg.reason)
        return
      } else if (msg instanceof HandoffRequest) {
        await answerHandoff(server, msg)
        if (!p.alive) return
      } else if (isParentExit(p, msg)) {
        await shutdown(p, rt, server, msg.reason)
        return
      } else if (typeof server.handleInfo === 'function') {
        const r = server.handleInfo(msg)
        if (isThenable(r)) {
          await r
          if (!p.alive) return
        }
      } else {
        log({ level: 'warn', message: `GenServer ${p.pid} (${rt.Class.name}) got a message but defines no handleInfo`, pid: p.pid })
      }
      rt.busy = false
      if (rt.stopReason !== NONE) {
        await shutdown(p, rt, server, rt.stopReason)
        return
      }
    }
  } catch (err) {
    if (!p.alive) return // killed while awaiting: its receive or handler failed as it unwound
    log({ level: 'error', message: `GenServer ${p.pid} (${rt.Class.name}) crashed`, pid: p.pid, error: err })
    try {
      await shutdown(p, rt, server, err)
    } catch (error) {
      // Not expected (terminate's errors are caught); never leave the
      // server alive, nor this promise rejected (nobody watches it).
      if (p.alive) die(p, error, false)
    }
  }
}

async function shutdown(p: Process, rt: ServerRuntime, server: GenServer, reason: ExitReason): Promise<void> {
  rt.busy = true
  if (!rt.terminated) {
    rt.terminated = true
    if (typeof server.terminate === 'function') await runTerminate(server, reason, p.pid)
  }
  die(p, reason, false)
}

async function answerHandoff(server: GenServer, req: HandoffRequest): Promise<void> {
  if (typeof server.handoff !== 'function') return req.done({})
  try {
    let state = server.handoff()
    if (isThenable(state)) state = await state
    req.done({ state })
  } catch (error) {
    req.done({ error })
  }
}

/**
 * @internal Starts a hub child that takes over `handedOver` (hot swap): like
 * GenServer.start, with `init(arg, handedOver)`.
 */
export function startHandedOver(Class: new () => GenServer, arg: unknown, handedOver: Term): Promise<Pid> {
  return startServer(Class, arg, undefined, 'genserver', handedOver)
}

/**
 * @internal Asks the server at `pid` for its `handoff()` state, in mailbox
 * order. `{}` when it defines no handoff, is not a local GenServer, or dies
 * first; `{ error }` when handoff threw.
 */
export function requestHandoff(pid: Pid): Promise<{ state?: Term; error?: unknown }> {
  const p = pid.proc
  if (p === null || !p.alive || !(p.ext?.role instanceof ServerRuntime)) return Promise.resolve({})
  return new Promise((resolve) => {
    let settled = false
    const done = (r: { state?: Term; error?: unknown }): void => {
      if (settled) return
      settled = true
      resolve(r)
    }
    onExit(p, () => done({}))
    deliver(p, new HandoffRequest(done), false)
  })
}

/** @internal The server instance running in `pid`, if it is a live GenServer. */
export function serverOf(pid: Pid): GenServer | null {
  const rt = pid.proc?.ext?.role
  return rt instanceof ServerRuntime ? rt.server : null
}
