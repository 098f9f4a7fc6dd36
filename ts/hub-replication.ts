/**
 * The hub's `replication` redundancy strategy (ProcessHub's): each child
 * runs on the ring's `factor` best nodes for its id, one replica per node
 * (a replica *slot* is a node). Under `active_passive` exactly one replica
 * is active: the one on the best live owner, which every node computes the
 * same way from the same membership, so no coordination picks it. See
 * docs/hub.md, "Replication".
 *
 * Everything here is a pure function of the ring and the registry, so every
 * node reaches the same answer on the same inputs.
 * @module
 */
import type { NormalReplication } from './hub-config.js'
import type { HubRing } from './hub-ring.js'
import type { Pid } from './pid.js'
import { send } from './process.js'

/** A replica's role under `active_passive` (every replica is `'active'` under `active_active`). */
export type HubReplicaRole = 'active' | 'passive'

/**
 * The `handleInfo` message a replica gets at start and whenever a membership
 * change flips its role (ProcessHub's `{:process_hub, :redundancy_signal, mode}`).
 */
export interface HubRedundancySignal {
  type: 'redundancy_signal'
  /** The hub's id. */
  hub: string
  /** The child's id. */
  id: string
  mode: HubReplicaRole
}

/** @internal The replication rules of one hub. */
export class HubReplicas {
  readonly #cfg: NormalReplication
  readonly #hub: string
  // The last role each local replica was told (by child id), so a signal goes
  // out only when it flips.
  readonly #told = new Map<string, { pid: Pid; role: HubReplicaRole }>()

  constructor(hubId: string, cfg: NormalReplication) {
    this.#hub = hubId
    this.#cfg = cfg
  }

  /** Whether only one replica is active. */
  get activePassive(): boolean {
    return this.#cfg.mode === 'active_passive'
  }

  /** Replicas per child for a ring of `size` members (never more than the members). */
  factor(size: number): number {
    const f = this.#cfg.factor === 'cluster_size' ? size : this.#cfg.factor
    return Math.max(1, Math.min(f, size))
  }

  /** The nodes that hold `id`'s replicas, best first (the first is the active one). */
  owners(ring: HubRing, id: string): string[] {
    if (ring.size === 0) return []
    return ring.owners(id, this.factor(ring.size))
  }

  /** The owners of each id (one native call per id: the addon has no batch k-owner call). */
  ownersMany(ring: HubRing, ids: readonly string[]): string[][] {
    if (ring.size === 0) return ids.map(() => [])
    const k = this.factor(ring.size)
    if (k === 1) return ring.ownerMany(ids).map((o) => (o === undefined ? [] : [o]))
    return ids.map((id) => ring.owners(id, k))
  }

  /** The role of the replica on `node`. */
  roleOf(ring: HubRing, id: string, node: string): HubReplicaRole {
    if (!this.activePassive) return 'active'
    return ring.size > 0 && ring.owners(id, 1)[0] === node ? 'active' : 'passive'
  }

  /**
   * Where the replica on `self`, which no longer owns `id`, goes: the owners
   * that hold no replica yet, paired in order with the holders that are no
   * longer owners (sorted by name), so two nodes never pick the same slot.
   * `undefined`: no free slot (the replica is surplus and just stops).
   */
  slotFor(owners: readonly string[], holders: readonly string[], self: string): string | undefined {
    const free = owners.filter((o) => o !== self && !holders.includes(o))
    const leaving = holders.filter((h) => !owners.includes(h)).sort()
    if (!leaving.includes(self)) leaving.push(self)
    return free[leaving.indexOf(self)]
  }

  /**
   * Tells the local replica `id` (at `pid`) its role if it changed since it
   * was last told (a new pid is always told), per `redundancySignal`.
   */
  signal(id: string, pid: Pid, role: HubReplicaRole): void {
    const last = this.#told.get(id)
    if (last !== undefined && last.role === role && last.pid.equals(pid)) return
    this.#told.set(id, { pid, role })
    const which = this.#cfg.signal
    if (which === 'none' || (which !== 'all' && which !== role)) return
    const msg: HubRedundancySignal = { type: 'redundancy_signal', hub: this.#hub, id, mode: role }
    send(pid, msg)
  }

  /** The local replica `id` stopped: forget what it was told. */
  forget(id: string): void {
    this.#told.delete(id)
  }
}
