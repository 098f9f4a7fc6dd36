/**
 * Process identifiers. A `Pid` is a small immutable value naming a process on
 * some node. It is a term: it can be stored in a table, sent in messages and
 * (later) sent to other nodes, and it decodes back to an equal `Pid`.
 *
 * Printed as `#PID<node.id>`, e.g. `#PID<nonode@nohost.42>`: the node name
 * is spelled out (Erlang's `<0.42.0>` hides it behind a node index, which
 * means nothing outside one VM).
 *
 * Identity: pids of this node are interned, so `===` works between any two
 * `Pid` objects for the same local process, including copies decoded from a
 * table. Pids of other nodes compare with {@link Pid.equals}.
 *
 * Incarnations: like Erlang's *creation*, every OS process picks a random
 * 32-bit creation number that travels with its pids. A node restarted under
 * the same name (and port) has a new creation, so a pid that a peer kept from
 * before the restart decodes as a dead pid there (sends are dropped, monitors
 * get `DOWN` with `noproc`, links exit with `noproc`) and never reaches an
 * unrelated new process that happens to have the same number.
 * @module
 */
import { node, wasOwnName } from './node.js'
import type { Process } from './process.js'
import { ExtType, defineTermClass, type termClass } from './terms.js'

const inspectCustom = Symbol.for('nodejs.util.inspect.custom')

/** This OS process's creation number (non-zero), stamped on its pids. */
const CREATION = (globalThis.crypto.getRandomValues(new Uint32Array(1))[0]! >>> 1) + 1

/** The identifier of a process, local or on another node. */
export class Pid {
  /** Brands the class as a term (set on the prototype by `defineTermClass`). */
  declare readonly [termClass]: true
  /** The process number, unique on its node for the node's lifetime (never reused). */
  readonly id: number
  /** @internal The node name of a remote pid; `null` for a pid of this node. */
  readonly home: string | null
  /** @internal The live local process, or `null` once it exited (or for a remote pid). */
  proc: Process | null
  /** @internal The incarnation of the node the pid was made on (see the module docs). */
  readonly creation: number

  /** Pids are made by `spawn` and by decoding, never by users. */
  private constructor(id: number, home: string | null, proc: Process | null, creation: number) {
    this.id = id
    this.home = home
    this.proc = proc
    this.creation = creation
  }

  /** The name of the node the process runs on. */
  get node(): string {
    return this.home ?? node()
  }

  /** Whether the pid names a process of this node. */
  get isLocal(): boolean {
    return this.home === null
  }

  /** Value equality: same node (and incarnation of it) and same process number. */
  equals(other: unknown): boolean {
    return other === this || (other instanceof Pid && other.id === this.id && other.creation === this.creation && other.node === this.node)
  }

  /** `#PID<node.id>`, e.g. `#PID<nonode@nohost.42>`. */
  toString(): string {
    return `#PID<${this.node}.${this.id}>`
  }

  /** The printed form, so logs and `JSON.stringify` show something readable. */
  toJSON(): string {
    return this.toString()
  }

  /** @internal Node's `util.inspect` (and console.log) print the readable form. */
  [inspectCustom](): string {
    return this.toString()
  }

  /** @internal */
  static make(id: number, home: string | null, proc: Process | null, creation = CREATION): Pid {
    return new Pid(id, home, proc, creation)
  }
}

// The live local processes by number: how a decoded pid finds its process,
// and what introspection lists.
const live = new Map<number, Pid>()
let lastId = 0

/** @internal A fresh local pid for a new process. */
export function newLocalPid(proc: Process): Pid {
  const pid = Pid.make(++lastId, null, proc)
  live.set(pid.id, pid)
  return pid
}

/** @internal Forgets a local process that exited; its pid stays a valid (dead) value. */
export function releaseLocalPid(pid: Pid): void {
  live.delete(pid.id)
  pid.proc = null
}

/** @internal The pids of every live local process, in spawn order. */
export function livePids(): IterableIterator<Pid> {
  return live.values()
}

/** @internal The number of live local processes. */
export function liveCount(): number {
  return live.size
}

// Interning of pids that outlive their process. Only a pid that has been
// encoded can come back from a decode, so encoding is where a pid is
// remembered (weakly: once nobody holds it, no copy can be compared with it).
// This keeps spawn and exit free of any interning cost.
const weakLocal = new Map<number, WeakRef<Pid>>()
const weakRemote = new Map<string, WeakRef<Pid>>()
const forget = new FinalizationRegistry<number | string>((key) => {
  const map: Map<number | string, WeakRef<Pid>> = typeof key === 'number' ? weakLocal : weakRemote
  if (map.get(key)?.deref() === undefined) map.delete(key)
})

function remember(map: Map<number | string, WeakRef<Pid>>, key: number | string, pid: Pid): void {
  if (map.get(key)?.deref() === pid) return
  map.set(key, new WeakRef(pid))
  forget.register(pid, key)
}

function intern(nodeName: string, id: number, creation: number): Pid {
  if (nodeName === node() && creation !== CREATION) {
    // A pid of an earlier incarnation of this node's name: dead here, and
    // never equal to a live pid with the same number.
    const key = `\u0000${id}\u0000${creation}`
    const known = weakRemote.get(key)?.deref()
    if (known !== undefined) return known
    const pid = Pid.make(id, null, null, creation)
    remember(weakRemote as Map<number | string, WeakRef<Pid>>, key, pid)
    return pid
  }
  if (creation === CREATION && wasOwnName(nodeName)) {
    // Ours, whatever the node was called when it was encoded (e.g. stored in
    // a table before cluster.start, as nonode@nohost).
    const alive = live.get(id)
    if (alive !== undefined) return alive
    const known = weakLocal.get(id)?.deref()
    if (known !== undefined) return known
    const pid = Pid.make(id, null, null)
    remember(weakLocal as Map<number | string, WeakRef<Pid>>, id, pid)
    return pid
  }
  const key = `${nodeName}\u0000${id}\u0000${creation}`
  const known = weakRemote.get(key)?.deref()
  if (known !== undefined) return known
  const pid = Pid.make(id, nodeName, null, creation)
  remember(weakRemote as Map<number | string, WeakRef<Pid>>, key, pid)
  return pid
}

defineTermClass({
  Class: Pid as unknown as abstract new () => Pid,
  type: ExtType.pid,
  write: (pid: Pid) => {
    if (pid.creation !== CREATION) remember(weakRemote as Map<number | string, WeakRef<Pid>>, `${pid.home ?? ''}\u0000${pid.id}\u0000${pid.creation}`, pid)
    else if (pid.home === null) remember(weakLocal as Map<number | string, WeakRef<Pid>>, pid.id, pid)
    else remember(weakRemote as Map<number | string, WeakRef<Pid>>, `${pid.home}\u0000${pid.id}\u0000${pid.creation}`, pid)
    return [pid.node, pid.id, pid.creation]
  },
  read: (data: unknown) => {
    if (
      !Array.isArray(data) ||
      typeof data[0] !== 'string' ||
      !Number.isSafeInteger(data[1]) ||
      data[1] < 0 ||
      !Number.isInteger(data[2]) ||
      data[2] < 1 ||
      data[2] > 0xffffffff
    ) {
      throw new TypeError('malformed pid in encoded term')
    }
    return intern(data[0], data[1] as number, data[2] as number)
  },
})
