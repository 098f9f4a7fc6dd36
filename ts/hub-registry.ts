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
  [k: string]: Term
}

function toStored(e: RegEntry): Stored {
  return { n: e.node, p: e.pid, s: e.child.start, r: e.child.restart, m: e.child.metadata }
}

function fromStored(id: string, s: Stored): RegEntry {
  return { id, node: s.n, pid: s.p, child: { id, start: s.s, restart: s.r, metadata: s.m } }
}

/** @internal */
export class HubRegistry {
  readonly #table: Table<Stored>
  readonly #byNode = new Map<string, Set<string>>()
  readonly #loc = new Map<string, { node: string; pid: Pid }>()
  readonly #hooks: HubHooks

  constructor(hubId: string, hooks: HubHooks) {
    this.#table = Table.open<Stored>(`ironwood.hub:${hubId}`)
    // A hub restarted in the same process starts from an empty registry.
    this.#table.clear()
    this.#hooks = hooks
  }

  /** The table's name (for docs and tests). */
  get tableName(): string {
    return this.#table.name
  }

  /** Inserts or replaces `e`; fires `registryPidInsert` when the node or pid changed. */
  put(e: RegEntry): void {
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

  /** Removes `id` if it is registered on `node` (any node when omitted); whether it was. */
  remove(id: string, node?: string): boolean {
    const old = this.#loc.get(id)
    if (old === undefined || (node !== undefined && old.node !== node)) return false
    this.#table.delete(id)
    this.#loc.delete(id)
    this.#byNode.get(old.node)?.delete(id)
    if (this.#hooks.has('registryPidRemove')) this.#hooks.emit('registryPidRemove', { id })
    return true
  }

  /** The entry of `id`. */
  get(id: string): RegEntry | undefined {
    const s = this.#table.get(id)
    return s === undefined ? undefined : fromStored(id, s)
  }

  /** Where `id` runs (from the JS index: no native call, no decoding). */
  location(id: string): { node: string; pid: Pid } | undefined {
    return this.#loc.get(id)
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
      const old = this.location(e.id)
      if (old === undefined || old.node !== e.node || !old.pid.equals(e.pid)) {
        this.put(e)
        changed++
      }
    }
    return changed
  }

  /** Removes every entry of `node` and returns them. */
  dropNode(node: string): RegEntry[] {
    const list = this.entries(this.idsOn(node))
    for (const e of list) this.remove(e.id, node)
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
    this.#byNode.clear()
  }
}
