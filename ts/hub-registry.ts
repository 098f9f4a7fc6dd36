/**
 * The hub's replicated registry: child id → where it runs and how to start
 * it again. The entries (spec, metadata, node, pid) are kept in a named
 * native table (`Table.open('ironwood.hub:<id>')`), readable from worker
 * threads too; this thread also keeps two indexes in JS that every write
 * updates in the same call: id → { node, pid } for `whereIs` (a native read
 * plus decoding a Pid costs ≈ 3 µs, far from the 1,000,000 lookups/s the hub
 * needs; see docs/hub.md), and node → ids, so a node's children are found
 * without a scan when it goes down. Each node is the only writer of its own
 * children's entries (docs/hub.md, "The registry and its consistency model").
 *
 * Under `replication` an id has one entry per replica node: the first is
 * kept in the stored form's `n`/`p` (so a singularity hub's entries keep
 * their shape and cost) and the others in `x`; each replica is written and
 * removed only by its own node.
 * @module
 */
import type { HubHooks } from './hub-hooks.js'
import type { HubRestart, NormalChild } from './hub-config.js'
import { Pid } from './pid.js'
import { Table } from './state.js'
import type { Term } from './terms.js'

/** One registry entry: a child, its node and pid, and its spec. */
export interface RegEntry {
  id: string
  node: string
  pid: Pid
  child: NormalChild
}

/** The stored form (short keys: this is copied out on every lookup). */
interface Stored {
  n: string
  p: Pid
  s: [string, Term[]]
  r: HubRestart
  m: Record<string, Term>
  /** Replicas after the first (replication only). */
  x?: Array<[string, Pid]>
  [k: string]: Term
}

/** Where one replica of a child runs. */
export interface Loc {
  node: string
  pid: Pid
}

function toStored(e: RegEntry): Stored {
  return { n: e.node, p: e.pid, s: e.child.start, r: e.child.restart, m: e.child.metadata }
}

function storedWith(e: RegEntry, locs: readonly Loc[]): Stored {
  const s: Stored = { n: locs[0]!.node, p: locs[0]!.pid, s: e.child.start, r: e.child.restart, m: e.child.metadata }
  if (locs.length > 1) s.x = locs.slice(1).map((l) => [l.node, l.pid])
  return s
}

function fromStored(id: string, s: Stored): RegEntry {
  return { id, node: s.n, pid: s.p, child: { id, start: s.s, restart: s.r, metadata: s.m } }
}

/** @internal */
export class HubRegistry {
  readonly #table: Table<Stored>
  readonly #byNode = new Map<string, Set<string>>()
  readonly #loc = new Map<string, { node: string; pid: Pid }>()
  // Replication only: every replica of an id (the first is also in #loc).
  readonly #reps = new Map<string, Loc[]>()
  readonly #hooks: HubHooks
  readonly #replicated: boolean

  /** `replicated`: an id may have one entry per node (redundancy `replication`). */
  constructor(hubId: string, hooks: HubHooks, replicated = false) {
    this.#table = Table.open<Stored>(`ironwood.hub:${hubId}`)
    // A hub restarted in the same process starts from an empty registry.
    this.#table.clear()
    this.#hooks = hooks
    this.#replicated = replicated
  }

  /** The table's name (for docs and tests). */
  get tableName(): string {
    return this.#table.name
  }

  /**
   * Inserts or replaces `e`; fires `registryPidInsert` when the node or pid
   * changed. Replicated: inserts or replaces the replica on `e.node` only.
   */
  put(e: RegEntry): void {
    if (this.#replicated) return this.#putReplica(e)
    const old = this.#loc.get(e.id)
    if (old !== undefined && old.node !== e.node) this.#byNode.get(old.node)?.delete(e.id)
    this.#table.set(e.id, toStored(e))
    this.#loc.set(e.id, { node: e.node, pid: e.pid })
    let set = this.#byNode.get(e.node)
    if (set === undefined) this.#byNode.set(e.node, (set = new Set()))
    set.add(e.id)
    if (old === undefined || old.node !== e.node || !old.pid.equals(e.pid)) {
      if (this.#hooks.has('registryPidInsert')) this.#hooks.emit('registryPidInsert', { id: e.id, nodes: [{ node: e.node, pid: e.pid }] })
    }
  }

  #putReplica(e: RegEntry): void {
    const locs = this.#reps.get(e.id) ?? []
    const i = locs.findIndex((l) => l.node === e.node)
    if (i >= 0 && locs[i]!.pid.equals(e.pid)) {
      this.#table.set(e.id, storedWith(e, locs)) // the spec may have changed
      return
    }
    const next = [...locs]
    if (i >= 0) next[i] = { node: e.node, pid: e.pid }
    else next.push({ node: e.node, pid: e.pid })
    this.#setReplicas(e, next)
    let set = this.#byNode.get(e.node)
    if (set === undefined) this.#byNode.set(e.node, (set = new Set()))
    set.add(e.id)
    if (this.#hooks.has('registryPidInsert')) this.#hooks.emit('registryPidInsert', { id: e.id, nodes: next.map((l) => ({ ...l })) })
  }

  #setReplicas(e: RegEntry, locs: Loc[]): void {
    this.#table.set(e.id, storedWith(e, locs))
    this.#reps.set(e.id, locs)
    this.#loc.set(e.id, locs[0]!)
  }

  /** Every replica of `id` (`[]` if unknown); under singularity, at most one. */
  locations(id: string): Loc[] {
    if (this.#replicated) return this.#reps.get(id) ?? []
    const l = this.#loc.get(id)
    return l === undefined ? [] : [l]
  }

  /** The replica of `id` on `node`. */
  locationOn(id: string, node: string): Loc | undefined {
    return this.locations(id).find((l) => l.node === node)
  }

  /** Removes `id` if it is registered on `node` (any node when omitted); whether it was. Replicated: only that node's replica. */
  remove(id: string, node?: string): boolean {
    if (this.#replicated) return this.#removeReplica(id, node)
    const old = this.#loc.get(id)
    if (old === undefined || (node !== undefined && old.node !== node)) return false
    this.#table.delete(id)
    this.#loc.delete(id)
    this.#byNode.get(old.node)?.delete(id)
    if (this.#hooks.has('registryPidRemove')) this.#hooks.emit('registryPidRemove', { id })
    return true
  }

  #removeReplica(id: string, node?: string, known?: RegEntry): boolean {
    const locs = this.#reps.get(id)
    if (locs === undefined) return false
    const next = node === undefined ? [] : locs.filter((l) => l.node !== node)
    if (next.length === locs.length) return false
    for (const l of locs) if (node === undefined || l.node === node) this.#byNode.get(l.node)?.delete(id)
    if (next.length === 0) {
      this.#table.delete(id)
      this.#loc.delete(id)
      this.#reps.delete(id)
      if (this.#hooks.has('registryPidRemove')) this.#hooks.emit('registryPidRemove', { id })
      return true
    }
    const e = known ?? this.get(id)!
    this.#setReplicas(e, next)
    if (this.#hooks.has('registryPidInsert')) this.#hooks.emit('registryPidInsert', { id, nodes: next.map((l) => ({ ...l })) })
    return true
  }

  /** The entry of `id` (its first replica). */
  get(id: string): RegEntry | undefined {
    const s = this.#table.get(id)
    return s === undefined ? undefined : fromStored(id, s)
  }

  /** Where `id` runs (from the JS index: no native call, no decoding). */
  location(id: string): { node: string; pid: Pid } | undefined {
    return this.#loc.get(id)
  }

  /** The entries of `node`'s replicas of `ids` (absent ones skipped). */
  entriesOn(ids: readonly string[], node: string): RegEntry[] {
    if (!this.#replicated) return this.entries(ids).filter((e) => e.node === node)
    const out: RegEntry[] = []
    for (const e of this.entries(ids)) {
      const l = this.locationOn(e.id, node)
      if (l !== undefined) out.push({ id: e.id, node, pid: l.pid, child: e.child })
    }
    return out
  }

  /** Every registered id (from the JS index: no native call). */
  ids(): IterableIterator<string> {
    return this.#loc.keys()
  }

  /** The ids registered on `node`. */
  idsOn(node: string): string[] {
    return [...(this.#byNode.get(node) ?? [])]
  }

  /** How many ids are registered on `node`. */
  countOn(node: string): number {
    return this.#byNode.get(node)?.size ?? 0
  }

  /** The entries of `ids` (absent ones skipped), read in one batch. */
  entries(ids: readonly string[]): RegEntry[] {
    const out: RegEntry[] = []
    const chunk = 4096
    for (let i = 0; i < ids.length; i += chunk) {
      const part = ids.slice(i, i + chunk)
      const got = this.#table.getMany(part)
      for (const id of part) {
        const s = got[id] as Stored | undefined
        if (s !== undefined) out.push(fromStored(id, s))
      }
    }
    return out
  }

  /** Every entry, sorted by id. */
  all(): RegEntry[] {
    return this.entries(this.#table.keys())
  }

  /** The nodes that have entries. */
  nodes(): string[] {
    return [...this.#byNode].filter(([, s]) => s.size > 0).map(([n]) => n)
  }

  /** Makes `node`'s entries exactly `list` (a full sync from that node); returns how many changed. */
  replaceNode(node: string, list: RegEntry[]): number {
    const keep = new Set(list.map((e) => e.id))
    let changed = 0
    for (const id of this.idsOn(node)) {
      if (!keep.has(id) && this.remove(id, node)) changed++
    }
    for (const e of list) {
      const old = this.#replicated ? this.locationOn(e.id, node) : this.location(e.id)
      if (old === undefined || old.node !== e.node || !old.pid.equals(e.pid)) {
        this.put(e)
        changed++
      }
    }
    return changed
  }

  /** Removes every entry (replicated: every replica) of `node` and returns them. */
  dropNode(node: string): RegEntry[] {
    const list = this.entriesOn(this.idsOn(node), node)
    // Replicated: the entries just read carry the spec, so each removal needs no second read.
    for (const e of list) {
      if (this.#replicated) this.#removeReplica(e.id, node, e)
      else this.remove(e.id, node)
    }
    this.#byNode.delete(node)
    return list
  }

  /** How many entries. */
  size(): number {
    return this.#loc.size
  }

  /** Removes everything (on hub stop). */
  clear(): void {
    this.#table.clear()
    this.#loc.clear()
    this.#reps.clear()
    this.#byNode.clear()
  }
}
