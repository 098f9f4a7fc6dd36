/**
 * Introspection for dashboards and debugging: every live process with its
 * mailbox, links, monitors and state, and the supervision trees. Read-only
 * snapshots; cost is proportional to what is listed.
 * @module
 */
import { Pid, livePids } from './pid.js'
import { type Process, type ProcessKind, checkPid, mailboxLength } from './process.js'

export { type SupervisedChild, type SupervisorTree, supervisionTree } from './supervisor-server.js'

/** A snapshot of one live process. */
export interface ProcessInfo {
  pid: Pid
  /** Its registered name, or `null`. */
  name: string | null
  /** `'process'` for `spawn`, or the behaviour it runs. */
  kind: ProcessKind
  /** Messages waiting in the mailbox. */
  mailboxLength: number
  /** The mailbox bound (`Infinity` if none). */
  mailboxLimit: number
  /** Messages dropped because the mailbox was full (policy `'drop_newest'`). */
  dropped: number
  /** `'waiting'` while blocked in `receive` (a GenServer between messages), else `'running'`. */
  status: 'running' | 'waiting'
  trapExit: boolean
  /** Processes linked with it. */
  links: Pid[]
  /** Processes it monitors. */
  monitors: Pid[]
  /** Processes monitoring it. */
  monitoredBy: Pid[]
  /** Its supervisor (or the process that linked it at start), if any. */
  parent: Pid | null
}

function infoOf(p: Process): ProcessInfo {
  const x = p.ext
  return {
    pid: p.pid,
    name: x?.name ?? null,
    kind: x?.kind ?? 'process',
    mailboxLength: mailboxLength(p),
    mailboxLimit: x?.limit ?? Infinity,
    dropped: x?.dropped ?? 0,
    status: p.resolve !== null ? 'waiting' : 'running',
    trapExit: x?.trapping ?? false,
    links: x?.links ? [...x.links].map((l) => l.pid) : [],
    monitors: x?.monitors ? [...x.monitors].map((m) => m.target.pid) : [],
    monitoredBy: x?.watchers ? [...x.watchers].map((m) => m.watcher.pid) : [],
    parent: x?.parent ?? null,
  }
}

/** A snapshot of the process `pid`, or `undefined` if it is not alive. */
export function processInfo(pid: Pid): ProcessInfo | undefined {
  const p = checkPid(pid, 'processInfo').proc
  return p === null ? undefined : infoOf(p)
}

/** Snapshots of every live local process, in spawn order. */
export function processes(): ProcessInfo[] {
  const out: ProcessInfo[] = []
  for (const pid of livePids()) if (pid.proc !== null) out.push(infoOf(pid.proc))
  return out
}
