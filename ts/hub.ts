/**
 * The process hub (Elixir's ProcessHub): many GenServer children spread over
 * the nodes of a cluster by consistent (rendezvous) hashing, exactly one of
 * each alive, found by id from any node through a replicated registry, and
 * moved when nodes join or leave. See docs/hub.md for placement, the
 * registry's consistency model and every hook.
 *
 * Every node runs the same rules on the same inputs: the ring owner of an id
 * is the one node that may start it, each node is the only writer of its own
 * children's registry entries, and a membership change makes every node
 * compute the same moves with no coordinator.
 * @module
 */
import { addListener, removeListener } from './cluster-events.js'
import { type SendResult, offFrame, onFrame, sendFrame } from './cluster-frames.js'
import { nodes as clusterNodes, redial } from './cluster.js'
import { DynamicSupervisor } from './dynamic-supervisor.js'
import { ConnectionError, TimeoutError } from './errors.js'
import { GenServer, startHandedOver } from './genserver.js'
import {
  type HubChildSpec,
  type HubConfig,
  type HubStartOptions,
  type HubStopOptions,
  type NormalChild,
  type NormalConfig,
  type NormalStartOptions,
  normalizeChild,
  normalizeConfig,
  normalizeStartOptions,
  normalizeStopOptions,
} from './hub-config.js'
import { HubError } from './hub-errors.js'
import { VersionBook, pickRecipients } from './hub-gossip.js'
import { Quorum } from './hub-quorum.js'
import { collectStates, handoverFrames } from './hub-handover.js'
import { type HubChildNodes, type HubHookHandler, type HubHookName, type HubHookOptions, HubHooks } from './hub-hooks.js'
import { type GossipList, HubFrame, type Payloads, type WireChild, type WireEntry, type WireResult, decodePayload, encodePayload } from './hub-protocol.js'
import { HubRegistry, type Loc, type RegEntry } from './hub-registry.js'
import { HubReplicas } from './hub-replication.js'
import { HubRing } from './hub-ring.js'
import { log } from './logger.js'
import { node as localNode } from './node.js'
import type { Pid } from './pid.js'
import { type ExitReason, onExit } from './process.js'
import type { Term } from './terms.js'

export type { HubChildSpec, HubConfig, HubRestart, HubStartOptions, HubStopOptions } from './hub-config.js'
export type { ChildData, HubChildNodes, HubHookHandler, HubHookName, HubHookOptions, HubHookPayloads } from './hub-hooks.js'
export { HubError, type HubErrorCode } from './hub-errors.js'
export type { HubHotSwap, HubReplication } from './hub-config.js'
export type { HubRedundancySignal, HubReplicaRole } from './hub-replication.js'

/** A child and where it runs. */
export type HubChild = HubChildNodes

/** One child's failure in a batch: which child, which node, why. */
export interface HubChildError {
  id: string
  node: string
  /** `'already_started'`, `'not_found'`, `'timeout'`, `'noconnection'`, `'bad_nodes'`, or `'start_failed: <message>'`. */
  reason: string
  /** For `'already_started'`: the running child's pid. */
  pid?: Pid | undefined
}

/** The awaited result of `startChildren`. */
export interface HubStartResult {
  status: 'ok' | 'error'
  started: HubChild[]
  errors: HubChildError[]
  /** Whether the children that did start were stopped again (`onFailure: 'rollback'`). */
  rollback: boolean
}

/** The awaited result of `stopChildren`. */
export interface HubStopResult {
  status: 'ok' | 'error'
  stopped: HubChild[]
  errors: HubChildError[]
}

/** `{ await: false }`: the request was sent; results are not awaited. */
export interface HubInitiated {
  status: 'start_initiated' | 'stop_initiated'
}

/** A registry entry as `hub.registry()` and `childLookup(id, { withMetadata: true })` report it. */
export interface HubRegistryEntry extends HubChild {
  metadata: Record<string, Term>
}

type GenServerClass = new () => GenServer

const behaviours = new Map<string, GenServerClass>()
const running = new Map<string, Hub>()
/** Frames for one hub share a lane so that, per pair of nodes, they arrive in the order sent. */
const LANE = 7
/** Children per Start/Update/Sync/Migrate frame: far below the 8 MiB frame limit. */
const CHUNK = 5000
/** How long a member lost to a fault is re-dialed (every discoverInterval) before it is given up: an hour. */
const LOST_REDIAL_MS = 3_600_000
/** How long a deliberately stopped child's tombstone is kept (and sent with full lists): an hour. */
const TOMB_MS = 3_600_000

interface LocalChild {
  child: NormalChild
  /** The behaviour's class when it started (a later `Hub.define` affects new children only). */
  Class: GenServerClass
  pid: Pid | null
  stopping: boolean
  /** Hot swap: the node this child is being handed to (its old instance runs until that one has started). */
  handingTo?: string | undefined
  /** Hot swap: the state handed over for its first start. */
  handedOver?: Term | undefined
  /**
   * Hot swap, on the receiving node: the node handing this child over, and
   * until when (ms). Its old instance still runs and is still registered
   * there meanwhile; that is not a duplicate to resolve against this copy.
   */
  takingFrom?: string | undefined
  takingUntil?: number | undefined
  /**
   * Replication: started by this node to fill a slot it found empty in the
   * registry, not by a request. A start request for it that was already on
   * its way when the slot was filled is answered by this replica.
   */
  filled?: boolean | undefined
}

interface PendingReq {
  node: string
  ids: string[]
  resolve: (results: WireResult[]) => void
  timer: ReturnType<typeof setTimeout>
}

function isNormalExit(reason: ExitReason): boolean {
  return (
    reason === 'normal' ||
    reason === 'shutdown' ||
    (typeof reason === 'object' && reason !== null && 'shutdown' in reason && Object.keys(reason).length === 1)
  )
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

let wired = false
/** Routes hub frames and cluster events to the running hubs (once per process). */
function wire(): void {
  if (wired) return
  wired = true
  const route = <K extends keyof Payloads>(kind: K, handle: (hub: Hub, from: string, p: Payloads[K]) => void): void => {
    onFrame(HubFrame[kind], (from, bytes, start, end) => {
      const p = decodePayload(kind, bytes.subarray(start, end))
      if (typeof p === 'string') {
        log({ level: 'warn', message: `hub: dropped a ${kind} frame from ${from}: ${p}` })
        return
      }
      const hub = running.get(p.h)
      if (hub === undefined) return
      hub._refreshSelf()
      handle(hub, from, p)
    })
  }
  route('Hello', (h, from, p) => h._onHello(from, p))
  route('Leave', (h, from) => h._onLeave(from))
  route('Start', (h, from, p) => h._onStart(from, p))
  route('StartReply', (h, from, p) => h._onReply(from, p))
  route('Stop', (h, from, p) => h._onStop(from, p))
  route('StopReply', (h, from, p) => h._onReply(from, p))
  route('Update', (h, from, p) => h._onUpdate(from, p))
  route('Sync', (h, from, p) => h._onSync(from, p))
  route('Migrate', (h, from, p) => h._onMigrate(from, p))
  addListener('nodeup', onNodeUp)
  addListener('nodedown', onNodeDown)
}

function onNodeUp(n: string): void {
  for (const h of running.values()) {
    h._refreshSelf()
    h._announce(n)
  }
}
function onNodeDown(n: string): void {
  for (const h of running.values()) {
    h._refreshSelf()
    h._memberLeft(n, 'nodedown')
  }
}

function unwire(): void {
  if (!wired || running.size > 0) return
  wired = false
  for (const k of Object.values(HubFrame)) offFrame(k)
  removeListener('nodeup', onNodeUp)
  removeListener('nodedown', onNodeDown)
}

/**
 * A running hub on this node. Every node that joins the hub calls
 * `Hub.define` for the same behaviours and `Hub.start` with the same `id`.
 */
export class Hub {
  /** The hub's id. */
  readonly id: string
  readonly #cfg: NormalConfig
  readonly #hooks: HubHooks
  readonly #ring: HubRing
  readonly #reg: HubRegistry
  /** Null under `singularity`. */
  readonly #rep: HubReplicas | null
  #sup!: DynamicSupervisor
  #self: string
  readonly #local = new Map<string, LocalChild>()
  #alive = true
  #locks = 0
  #lockTimer: ReturnType<typeof setTimeout> | undefined
  #lockWaiters: Array<() => void> = []
  readonly #pending = new Map<number, PendingReq>()
  #nextRef = 1
  readonly #timers: Array<ReturnType<typeof setInterval>> = []
  #outPut = new Map<string, WireEntry>()
  #outDel = new Set<string>()
  #outTombs = new Set<string>()
  #flushQueued = false
  readonly #syncIn = new Map<string, RegEntry[]>()
  // Hub peers, updated as soon as a Hello or a loss arrives (the ring follows
  // in the serialized membership step): registry frames from a peer that
  // said Hello are accepted even before the ring has it.
  readonly #peers = new Set<string>()
  // Serializes membership changes so each runs to its end before the next.
  #membership: Promise<void> = Promise.resolve()
  // Partition tolerance (docs/hub.md, Partitions): the quorum rules, and the
  // specs of the children this node holds while partitioned (its own,
  // stopped, and those it learnt of from lost or migrating nodes), started
  // or handed to their owners when quorum returns.
  readonly #quorum: Quorum
  #dormant = new Map<string, NormalChild>()
  #quorumTimer: ReturnType<typeof setTimeout> | undefined
  readonly #syncSeen = new Map<string, number>()
  // The peers whose full list has arrived since they (last) joined, and the
  // members each peer's latest full list named: a node has the whole picture
  // (see #settled) only when it has heard from every one of them.
  readonly #synced = new Set<string>()
  readonly #membersOf = new Map<string, string[]>()
  // Replication: a join happened and this node may own slots nobody will
  // move to it ('cluster_size', or more owners than holders); filled once
  // every member's full list has arrived (see #settled), so a replica being
  // handed over still counts and is not started twice from its spec.
  #fillAfterJoin = false
  // Children handed to a node (Migrate) whose registry entry from it has not
  // arrived yet: if that node is lost first (a split, or several nodes lost
  // at once), they are placed again with its orphans instead of vanishing.
  readonly #handed = new Map<string, Map<string, NormalChild>>()
  // Registry versions per writer (docs/hub.md, Gossip): stamped on this
  // node's updates and full lists, checked on relayed lists.
  readonly #versions = new VersionBook(Date.now())
  // Members lost to a fault (not a graceful leave), with when: re-dialed every
  // discoverInterval for LOST_REDIAL_MS, so a split that outlasts the
  // transport's own reconnection (reconnectFor) still heals.
  readonly #lostMembers = new Map<string, number>()
  // Members that said they are partitioned: counted for quorum, out of the ring.
  readonly #idle = new Set<string>()
  // Tombstones: ids stopped on purpose (stopChild, a transient or temporary
  // exit) here or, as their updates said, on another member, with when;
  // sent with this node's full lists for TOMB_MS so a node recovering from a
  // partition does not bring them back from the specs it kept, whichever
  // member it hears from first. And the ids reported so to a dormant node.
  readonly #tombs = new Map<string, number>()
  readonly #tombsSeen = new Set<string>()

  /** Use {@link Hub.start}. */
  private constructor(cfg: NormalConfig) {
    this.id = cfg.id
    this.#cfg = cfg
    this.#hooks = new HubHooks(cfg.id)
    for (const [name, fn] of cfg.hooks) this.#hooks.on(name, fn as never)
    this.#self = localNode()
    this.#ring = new HubRing([this.#self])
    this.#reg = new HubRegistry(cfg.id, this.#hooks, cfg.replication !== null)
    this.#quorum = new Quorum(cfg.partition, 1, Date.now())
    this.#rep = cfg.replication === null ? null : new HubReplicas(cfg.id, cfg.replication)
  }

  /**
   * Defines the GenServer class that children started as `[name, args]`
   * run. Call it with the same names on every node of the hub. Redefining a
   * name replaces its class for children started afterwards.
   */
  static define(name: string, Class: GenServerClass): void {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('Hub.define: name must be a non-empty string')
    if (typeof Class !== 'function' || !(Class.prototype instanceof GenServer)) {
      throw new TypeError(`Hub.define('${name}'): expected a class that extends GenServer`)
    }
    behaviours.set(name, Class)
  }

  /**
   * Starts this node's part of hub `config.id` (one per id per process):
   * announces it to every connected node, starts the static `children` on
   * their owners, and resolves once this node is serving. TypeError/RangeError
   * for a bad config, including strategies not implemented yet.
   */
  static async start(config: HubConfig): Promise<Hub> {
    const cfg = normalizeConfig(config, (n) => behaviours.has(n))
    if (running.has(cfg.id)) throw new Error(`Hub.start: hub '${cfg.id}' is already running on this node`)
    const hub = new Hub(cfg)
    running.set(cfg.id, hub)
    try {
      hub.#sup = await DynamicSupervisor.start({ maxRestarts: cfg.maxRestarts, maxSeconds: cfg.maxSeconds })
    } catch (error) {
      running.delete(cfg.id)
      throw error
    }
    hub.#watchSupervisor()
    wire()
    for (const n of clusterNodes()) hub._announce(n)
    hub.#timers.push(setInterval(() => hub.#periodicSync(), cfg.syncInterval))
    hub.#timers.push(setInterval(() => hub.#discover(), cfg.discoverInterval))
    for (const t of hub.#timers) t.unref()
    if (hub.#quorum.partitioned) {
      // Below quorum from the start (startupConfirm, initialClusterSize): the
      // static children wait with the hub and start when quorum is reached.
      hub.#hooks.emit('lockChanged', { locked: true, reason: 'partitioned' })
      for (const c of cfg.children) hub.#dormant.set(c.id, c)
    } else if (cfg.children.length > 0) {
      // Each static child is started by whichever node owns it; a node that
      // joins later starts the ones it comes to own (duplicates are refused).
      const r = (await hub.startChildren(cfg.children as HubChildSpec[], { await: true })) as HubStartResult
      for (const e of r.errors) {
        if (e.reason !== 'already_started') log({ level: 'warn', message: `hub ${cfg.id}: static child ${e.id} did not start on ${e.node}: ${e.reason}` })
      }
    }
    return hub
  }

  // ---------------------------------------------------------------- public API

  /** Starts one child on its owner. See {@link HubStartOptions}; throws {@link HubError}, TimeoutError or ConnectionError when awaited. */
  async startChild(spec: HubChildSpec, opts?: HubStartOptions): Promise<HubChild | HubInitiated> {
    const r = await this.startChildren([spec], opts)
    if ('started' in r) {
      const e = r.errors[0]
      if (e !== undefined) throw this.#errorOf(e, normalizeStartOptions(opts, 'hub.startChild').timeout)
      return r.started[0]!
    }
    return r
  }

  /**
   * Starts a batch: each child on its owner, one frame per node (not one
   * per child). Awaited: `{ status, started, errors, rollback }`; a node that
   * does not answer within `timeout` is an error entry per child, not a hang.
   */
  async startChildren(specs: HubChildSpec[], opts?: HubStartOptions): Promise<HubStartResult | HubInitiated> {
    this.#checkAlive('startChildren')
    const o = normalizeStartOptions(opts, 'hub.startChildren')
    if (!Array.isArray(specs)) throw new TypeError('hub.startChildren: expected an array of child specs')
    const seen = new Set<string>()
    const children = specs.map((s, i) => {
      const c = normalizeChild(s, `hub.startChildren: specs[${i}]`, (n) => behaviours.has(n))
      if (seen.has(c.id)) throw new TypeError(`hub.startChildren: specs[${i}].id '${c.id}' appears twice in the batch`)
      seen.add(c.id)
      return c
    })
    if (this.#cfg.guided && (o.nodes === undefined || o.nodes.length === 0)) {
      throw new TypeError("hub.startChildren: the 'guided' distribution needs { nodes: [...] } in the options")
    }
    if (this.#quorum.partitioned) {
      // Below quorum: refused here, whatever the owner (docs/hub.md, Partitions).
      const errors = children.map((c) => ({ id: c.id, node: this.#self, reason: 'partitioned' }))
      return o.await ? { status: 'error', started: [], errors, rollback: false } : { status: 'start_initiated' }
    }
    const work = this.#startRouted(children, o)
    if (!o.await) {
      work.catch((error: unknown) => log({ level: 'error', message: `hub ${this.id}: an unawaited start failed`, error }))
      return { status: 'start_initiated' }
    }
    return work
  }

  /** Stops one child wherever it runs; throws {@link HubError} `ENOTFOUND` for an unknown id. */
  async stopChild(id: string, opts?: HubStopOptions): Promise<HubChild | HubInitiated> {
    const r = await this.stopChildren([id], opts)
    if ('stopped' in r) {
      const e = r.errors[0]
      if (e !== undefined) throw this.#errorOf(e, normalizeStopOptions(opts, 'hub.stopChild').timeout)
      return r.stopped[0]!
    }
    return r
  }

  /** Stops a batch, one frame per node. Awaited: `{ status, stopped, errors }`. */
  async stopChildren(ids: string[], opts?: HubStopOptions): Promise<HubStopResult | HubInitiated> {
    this.#checkAlive('stopChildren')
    const o = normalizeStopOptions(opts, 'hub.stopChildren')
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id.length === 0)) {
      throw new TypeError('hub.stopChildren: expected an array of non-empty child ids')
    }
    const work = this.#stopRouted([...new Set(ids)], o.timeout)
    if (!o.await) {
      work.catch((error: unknown) => log({ level: 'error', message: `hub ${this.id}: an unawaited stop failed`, error }))
      return { status: 'stop_initiated' }
    }
    return work
  }

  /** The pid of child `id`, from this node's registry (no network); under `replication`, the active (first) replica's. */
  whereIs(id: string): Pid | undefined {
    if (this.#rep === null) return this.#reg.location(id)?.pid
    return this.#activeOf(id)?.pid
  }

  /** The active replica: on the best owner that runs one (`active_passive`), else the first registered. */
  #activeOf(id: string): Loc | undefined {
    const locs = this.#reg.locations(id)
    if (locs.length <= 1 || !this.#rep!.activePassive) return locs[0]
    for (const o of this.#rep!.owners(this.#ring, id)) {
      const l = locs.find((x) => x.node === o)
      if (l !== undefined) return l
    }
    return locs[0]
  }

  /** Every replica of `id`, as `{ node, pid }` copies. */
  #nodesOf(id: string): Array<{ node: string; pid: Pid }> {
    return this.#reg.locations(id).map((l) => ({ node: l.node, pid: l.pid }))
  }

  /** Where child `id` runs (`[]` if unknown); with `withMetadata`, also its metadata. */
  childLookup(id: string): Array<{ node: string; pid: Pid }>
  childLookup(id: string, opts: { withMetadata: true }): { nodes: Array<{ node: string; pid: Pid }>; metadata: Record<string, Term> } | undefined
  childLookup(id: string, opts?: { withMetadata?: boolean }): unknown {
    this.#refreshSelf()
    if (opts?.withMetadata === true) {
      const e = this.#reg.get(id)
      return e === undefined ? undefined : { nodes: this.#nodesOf(id), metadata: e.child.metadata }
    }
    return this.#nodesOf(id)
  }

  /** Every child (`'global'`, from the registry, sorted by id) or this node's (`'local'`). */
  processList(scope: 'global' | 'local' = 'global'): HubChild[] {
    this.#refreshSelf()
    checkScope(scope, 'processList')
    if (scope === 'global') return this.#reg.all().map((e) => ({ id: e.id, nodes: this.#nodesOf(e.id) }))
    return this.#reg.entriesOn([...this.#local.keys()].sort(), this.#self).map((e) => ({ id: e.id, nodes: [{ node: e.node, pid: e.pid }] }))
  }

  /** `'local'`: this node's children; `'global'`: every node's, grouped by node. */
  whichChildren(scope: 'global' | 'local' = 'local'): Array<{ node: string; children: Array<{ id: string; pid: Pid }> }> {
    this.#refreshSelf()
    checkScope(scope, 'whichChildren')
    const byNode = new Map<string, Array<{ id: string; pid: Pid }>>()
    const entries = scope === 'global' ? this.#reg.all() : this.#reg.entriesOn([...this.#local.keys()].sort(), this.#self)
    for (const e of entries) {
      for (const l of scope === 'global' ? this.#reg.locations(e.id) : [e]) {
        let list = byNode.get(l.node)
        if (list === undefined) byNode.set(l.node, (list = []))
        list.push({ id: e.id, pid: l.pid })
      }
    }
    return [...byNode].sort(([a], [b]) => (a < b ? -1 : 1)).map(([node, children]) => ({ node, children }))
  }

  /** The whole registry of this node, sorted by id. */
  registry(): HubRegistryEntry[] {
    this.#refreshSelf()
    return this.#reg.all().map((e) => ({ id: e.id, nodes: this.#nodesOf(e.id), metadata: e.child.metadata }))
  }

  /** The children whose `metadata.tag` is `tag` (a scan of the registry). */
  tagQuery(tag: string): HubChild[] {
    this.#refreshSelf()
    if (typeof tag !== 'string') throw new TypeError('hub.tagQuery: tag must be a string')
    return this.#reg
      .all()
      .filter((e) => e.child.metadata.tag === tag)
      .map((e) => ({ id: e.id, nodes: this.#nodesOf(e.id) }))
  }

  /**
   * ProcessHub's `promote_to_node`: a hub started before `cluster.start`
   * runs as `nonode@nohost`; promoting it files its registry entries under
   * this node's cluster name and announces it to the connected nodes, so it
   * joins the hub without a restart. (ironwood also does this by itself on
   * the first event after `cluster.start`; `promote` makes it happen now.)
   * `nodeName`, if given, must be this node's name: names come from
   * `cluster.start`. Throws {@link HubError} `ENOTALIVE` before the cluster
   * has started.
   */
  async promote(nodeName?: string): Promise<void> {
    this.#checkAlive('promote')
    const name = localNode()
    if (nodeName !== undefined && typeof nodeName !== 'string') throw new TypeError(`hub.promote: nodeName must be a string, got ${typeof nodeName}`)
    if (name === 'nonode@nohost') throw new HubError('ENOTALIVE', `hub.promote: the cluster is not started on this node (call cluster.start first)`, '')
    if (nodeName !== undefined && nodeName !== name) {
      throw new RangeError(`hub.promote: this node is '${name}' (its name comes from cluster.start), not '${nodeName}'`)
    }
    this.#refreshSelf()
    for (const n of clusterNodes()) this._announce(n)
  }

  /** Whether this node's hub is running. */
  isAlive(): boolean {
    return this.#alive
  }

  /** Whether the hub is redistributing (starts wait until it is not), or partitioned (locked until quorum returns). */
  isLocked(): boolean {
    return this.#locks > 0 || this.#quorum.partitioned
  }

  /**
   * Whether this node is below quorum under a quorum `partition` strategy:
   * its children are stopped, starts are refused (`EPARTITIONED`) and the hub
   * is locked until quorum returns. Always false under `divergence`.
   */
  isPartitioned(): boolean {
    return this.#quorum.partitioned
  }

  /**
   * After an intentional downsize, makes the current membership the new
   * normal: `majority_quorum` forgets the larger size it remembered (a
   * majority is counted from the members seen now) and `dynamic_quorum`
   * forgets its recent losses. If that restores quorum, the hub resumes.
   * Returns whether the hub is still partitioned. No effect under
   * `divergence` or `static_quorum` (whose size is fixed by config).
   */
  resetQuorum(): boolean {
    this.#checkAlive('resetQuorum')
    this.#quorumStep(() => this.#quorum.reset(this.#peers.size + 1, Date.now()))
    return this.#quorum.partitioned
  }

  /** The hub's member nodes (sorted), this node included unless `includeLocal: false`. */
  nodes(opts: { includeLocal?: boolean } = {}): string[] {
    this.#refreshSelf()
    const all = this.#ring.nodes()
    return opts.includeLocal === false ? all.filter((n) => n !== this.#self) : all
  }

  /** Adds a hook handler; returns its id. TypeError for an unknown hook or a duplicate id. */
  on<K extends HubHookName>(name: K, handler: HubHookHandler<K>, opts?: HubHookOptions): string {
    return this.#hooks.on(name, handler, opts)
  }

  /** Removes a hook handler; whether it was there. */
  off(name: HubHookName, handlerId: string): boolean {
    return this.#hooks.off(name, handlerId)
  }

  /**
   * Leaves the hub gracefully: this node's children are handed to their new
   * owners (cold swap: stopped, then started there; hot swap: started there
   * first, from their `handoff()` state with `handover`), the other nodes are
   * told, and the local supervisor stops. With no other member, the children
   * just stop. Under replication each replica goes to a free slot.
   */
  async stop(): Promise<void> {
    if (!this.#alive) return
    this.#hooks.emit('hubShutdown', { reason: 'stop' })
    await this.#serial(async () => {
      this.#lock('shutdown')
      this.#refreshSelf()
      this.#ring.remove(this.#self)
      const handOff = new Map<string, NormalChild[]>()
      for (const [id, lc] of this.#local) {
        const to =
          this.#rep === null
            ? this.#ring.owner(id)
            : this.#rep.slotFor(
                this.#rep.owners(this.#ring, id),
                this.#reg.locations(id).map((l) => l.node),
                this.#self,
              )
        if (to !== undefined) {
          let list = handOff.get(to)
          if (list === undefined) handOff.set(to, (list = []))
          list.push(lc.child)
        }
      }
      let cold = handOff
      if (this.#cfg.hotSwap !== null && handOff.size > 0) {
        await this.#hotMove(handOff)
        // The ones the hot swap could not move (their new owner refused or
        // was unreachable) still leave with this node: by spec, like a cold swap.
        cold = new Map()
        for (const [to, list] of handOff) {
          const left = list.filter((c) => this.#local.get(c.id)?.handingTo === undefined && this.#local.has(c.id))
          if (left.length > 0) cold.set(to, left)
        }
      }
      await this.#stopLocalMany([...this.#local.keys()])
      this.#flush()
      for (const [to, list] of cold) {
        this.#sendChunks(to, 'Migrate', list, (children) => ({ h: this.id, children }))
        this.#hooks.emit('forwardedMigration', { ids: list.map((c) => c.id), to })
      }
      this.#handOffDormant()
      for (const n of this.#peers) this.#send(n, 'Leave', { h: this.id })
      this.#alive = false
      clearTimeout(this.#quorumTimer)
      for (const t of this.#timers) clearInterval(t)
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer)
        p.resolve(p.ids.map((id) => ({ id, error: 'noconnection' })))
      }
      this.#pending.clear()
      running.delete(this.id)
      unwire()
      await this.#sup.stop().catch(() => {})
      this.#reg.clear()
      this.#unlock()
    })
  }

  // ------------------------------------------------------------- starting

  async #startRouted(children: NormalChild[], o: NormalStartOptions): Promise<HubStartResult> {
    await this.#whenUnlocked()
    this.#refreshSelf()
    if (this.#quorum.partitioned) return { status: 'error', started: [], errors: children.map((c) => ({ id: c.id, node: this.#self, reason: 'partitioned' })), rollback: false }
    const errors: HubChildError[] = []
    const groups = new Map<string, WireChild[]>()
    const guided = this.#cfg.guided ? o.nodes!.filter((n) => this.#ring.has(n)) : undefined
    const rep = this.#rep
    const k = rep === null ? 1 : rep.factor(this.#ring.size)
    const ids = children.map((c) => c.id)
    // Replication: one target per replica (the ring's k best nodes).
    const owners: string[][] =
      guided !== undefined ? ids.map(() => guided.slice(0, k)) : rep !== null ? rep.ownersMany(this.#ring, ids) : this.#ring.ownerMany(ids).map((x) => (x === undefined ? [] : [x]))
    children.forEach((c0, i) => {
      let targets = owners[i]!
      let c = c0
      if (this.#hooks.has('childDataAlter')) {
        const altered = this.#hooks.alter({ spec: { id: c.id, start: c.start, restart: c.restart }, metadata: c.metadata, nodes: [...targets] })
        c = { id: c.id, start: altered.spec.start, restart: altered.spec.restart, metadata: altered.metadata }
        const named = [...new Set(altered.nodes.filter((n) => this.#ring.has(n)))].slice(0, k)
        if (named.length > 0) targets = named
      }
      const target = targets[0]
      if (o.checkExisting) {
        const at = this.#reg.location(c.id)
        if (at !== undefined) {
          errors.push({ id: c.id, node: at.node, reason: 'already_started', pid: at.pid })
          return
        }
      }
      if (target === undefined) {
        errors.push({ id: c.id, node: this.#self, reason: 'bad_nodes' })
        return
      }
      for (const t of targets) {
        let list = groups.get(t)
        if (list === undefined) groups.set(t, (list = []))
        list.push(c)
      }
    })
    const toStart = rep === null ? [...groups.values()].flat() : [...new Map([...groups.values()].flat().map((c) => [c.id, c])).values()]
    if (toStart.length > 0) this.#hooks.emit('preChildrenStart', { children: toStart.map((c) => ({ id: c.id, start: c.start })) })
    const outcomes = await Promise.all(
      [...groups].map(async ([target, list]) => {
        const results =
          target === this.#self ? await this.#startLocalMany(list, o.checkExisting) : await this.#request(target, 'Start', list, o.timeout, (part, ref) => ({ h: this.id, ref, children: part, check: o.checkExisting }))
        return results.map((r) => [target, r] as const)
      }),
    )
    const started: HubChild[] = []
    // Replication: one result per replica, merged into one entry per child
    // (a replica that failed is an error entry for its node).
    const byId = new Map<string, HubChild>()
    for (const [target, r] of outcomes.flat()) {
      if ('pid' in r && !('error' in r)) {
        const had = byId.get(r.id)
        if (had !== undefined) had.nodes.push({ node: target, pid: r.pid })
        else {
          const one = { id: r.id, nodes: [{ node: target, pid: r.pid }] }
          byId.set(r.id, one)
          started.push(one)
        }
      } else errors.push({ id: r.id, node: r.node ?? target, reason: (r as { error: string }).error, pid: (r as { pid?: Pid }).pid })
    }
    if (toStart.length > 0) {
      this.#hooks.emit('postChildrenStart', {
        results: outcomes.flat().map(([, r]) => ('error' in r ? { id: r.id, error: r.error } : { id: r.id, pid: r.pid })),
      })
    }
    let rollback = false
    if (o.rollback && errors.length > 0 && started.length > 0) {
      await this.#stopRouted(
        started.map((s) => s.id),
        o.timeout,
      )
      rollback = true
    }
    return { status: errors.length > 0 ? 'error' : 'ok', started: rollback ? [] : started, errors, rollback }
  }

  /**
   * Starts children on this node (under its supervisor); one result each, in
   * order. With `check`, refuses an id registered on another node (except
   * `lostNode`, which is gone; under replication another node's replica is
   * another slot, so only a replica here already is refused). The children
   * that pass the checks start in one batch request to the supervisor, not
   * one request each. `states`: what a hot swap handed over, by id (given to
   * `init(arg, handedOver)` on the first start only).
   */
  async #startLocalMany(children: WireChild[], check: boolean, lostNode?: string, states?: ReadonlyMap<string, Term>, takingFrom?: string, fill = false): Promise<WireResult[]> {
    const results = new Array<WireResult>(children.length)
    const batch: LocalChild[] = []
    const at: number[] = []
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!
      const id = child.id
      const mine = this.#local.get(id)
      if (mine !== undefined) {
        if (!fill && mine.filled === true && mine.pid !== null && !mine.stopping) {
          // The start that asked for this slot was on its way when this node
          // filled it from another replica's registry entry: the replica
          // already here is the one it asked for (once; later starts are
          // duplicates).
          mine.filled = false
          results[i] = { id, pid: mine.pid }
          continue
        }
        results[i] = { id, error: 'already_started', node: this.#self, ...(mine.pid && { pid: mine.pid }) }
        continue
      }
      if (check && this.#rep === null) {
        const where = this.#reg.location(id)
        if (where !== undefined && where.node !== this.#self && where.node !== lostNode) {
          results[i] = { id, error: 'already_started', node: where.node, pid: where.pid }
          continue
        }
      }
      const Class = behaviours.get(child.start[0])
      if (Class === undefined) {
        results[i] = { id, error: `start_failed: behaviour '${child.start[0]}' is not defined on ${this.#self}` }
        continue
      }
      const lc: LocalChild = { child, Class, pid: null, stopping: false, handedOver: states?.get(id), filled: fill || undefined }
      if (takingFrom !== undefined) {
        lc.takingFrom = takingFrom
        lc.takingUntil = Date.now() + 2 * (this.#cfg.hotSwap?.retention ?? 0) + this.#cfg.syncInterval
      }
      this.#local.set(id, lc)
      batch.push(lc)
      at.push(i)
    }
    if (batch.length > 0) {
      const shutdown = this.#cfg.shutdownTimeout
      let out: Array<{ pid: Pid } | { error: unknown }>
      try {
        out = await this.#sup.startChildren(batch.map((lc) => ({ start: () => this.#spawnChild(lc), restart: lc.child.restart, shutdown })))
      } catch (error) {
        out = batch.map(() => ({ error })) // the supervisor itself is gone (it is being restarted)
      }
      for (let j = 0; j < batch.length; j++) {
        const lc = batch[j]!
        const r = out[j]!
        const id = lc.child.id
        if ('pid' in r) results[at[j]!] = { id, pid: r.pid }
        else {
          if (this.#local.get(id) === lc) this.#local.delete(id)
          results[at[j]!] = { id, error: `start_failed: ${messageOf(r.error)}` }
        }
      }
    }
    const started = results.filter((r): r is { id: string; pid: Pid } => !('error' in r))
    if (started.length > 0) this.#hooks.emit('processStartups', { started })
    return results
  }

  /** A child's start function (the supervisor calls it again for each restart). */
  #spawnChild(lc: LocalChild): Promise<Pid> {
    const arg = lc.child.start[1][0] as never
    const state = lc.handedOver
    lc.handedOver = undefined // a restart after a crash starts from the spec
    return (state === undefined ? GenServer.start(lc.Class, arg) : startHandedOver(lc.Class, arg, state)).then((pid) => {
      this.#childStarted(lc, pid)
      return pid
    })
  }

  /** A child's (re)start: registry entry, broadcast, and the exit watch. */
  #childStarted(lc: LocalChild, pid: Pid): void {
    const restarted = lc.pid !== null
    lc.pid = pid
    if (this.#local.get(lc.child.id) !== lc || lc.stopping) return
    const entry: RegEntry = { id: lc.child.id, node: this.#self, pid, child: lc.child }
    this.#reg.put(entry)
    this.#queuePut(entry)
    if (restarted) this.#hooks.emit('childPidUpdate', { id: lc.child.id, node: this.#self, pid })
    if (this.#rep !== null) this.#rep.signal(lc.child.id, pid, this.#rep.roleOf(this.#ring, lc.child.id, this.#self))
    const proc = pid.proc
    if (proc !== null) onExit(proc, (reason) => this.#childExited(lc, pid, reason))
  }

  #childExited(lc: LocalChild, pid: Pid, reason: ExitReason): void {
    if (lc.pid !== pid || lc.stopping || this.#local.get(lc.child.id) !== lc) return
    const { restart, id } = lc.child
    const restarts = restart === 'permanent' || (restart === 'transient' && !isNormalExit(reason))
    if (restarts) return // the supervisor starts it again; #childStarted records the new pid
    // Not restarted (transient exit 'normal', or temporary): removed cluster-wide.
    this.#local.delete(id)
    this.#forgetLocal(id)
    this.#bury([{ id, pid }])
  }

  #watchSupervisor(): void {
    const proc = this.#sup.pid.proc
    if (proc === null) return
    onExit(proc, (reason) => {
      if (!this.#alive) return
      // Restart intensity exceeded: every local child is gone. Start a new
      // supervisor and the children again (they stay this node's to run).
      log({ level: 'error', message: `hub ${this.id}: the local supervisor exited (${String(reason)}); restarting it and its ${this.#local.size} children` })
      const children = [...this.#local.values()].map((lc) => lc.child)
      for (const c of children) this.#local.delete(c.id)
      void DynamicSupervisor.start({ maxRestarts: this.#cfg.maxRestarts, maxSeconds: this.#cfg.maxSeconds }).then(async (sup) => {
        this.#sup = sup
        this.#watchSupervisor()
        const results = await this.#startLocalMany(children, false)
        for (const r of results) if ('error' in r) this.#forgetLocal(r.id)
      })
    })
  }

  // ------------------------------------------------------------- stopping

  async #stopRouted(ids: string[], timeout: number): Promise<HubStopResult> {
    this.#refreshSelf()
    const errors: HubChildError[] = []
    const groups = new Map<string, string[]>()
    for (const id of ids) {
      // Replication: every replica stops (each on its node).
      const at = this.#rep !== null ? [...new Set([...(this.#local.has(id) ? [this.#self] : []), ...this.#reg.locations(id).map((l) => l.node)])] : [this.#local.has(id) ? this.#self : this.#reg.location(id)?.node]
      if (at.length === 0 || at[0] === undefined) {
        errors.push({ id, node: this.#self, reason: 'not_found' })
        continue
      }
      for (const n of at as string[]) {
        let list = groups.get(n)
        if (list === undefined) groups.set(n, (list = []))
        list.push(id)
      }
    }
    const outcomes = await Promise.all(
      [...groups].map(async ([target, list]) => {
        const results = target === this.#self ? this.#bury(await this.#stopLocalMany(list)) : await this.#request(target, 'Stop', list, timeout, (part, ref) => ({ h: this.id, ref, ids: part }))
        return results.map((r) => [target, r] as const)
      }),
    )
    const stopped: HubChild[] = []
    const byId = new Map<string, HubChild>()
    for (const [target, r] of outcomes.flat()) {
      if ('error' in r) errors.push({ id: r.id, node: r.node ?? target, reason: r.error })
      else if (byId.has(r.id)) byId.get(r.id)!.nodes.push({ node: target, pid: r.pid })
      else {
        const one = { id: r.id, nodes: [{ node: target, pid: r.pid }] }
        byId.set(r.id, one)
        stopped.push(one)
      }
    }
    return { status: errors.length > 0 ? 'error' : 'ok', stopped, errors }
  }

  /** Stops local children in one batch request to the supervisor; one result each, in order. */
  async #stopLocalMany(ids: string[]): Promise<WireResult[]> {
    const found: Array<LocalChild | undefined> = ids.map((id) => this.#local.get(id))
    const pids: Pid[] = []
    for (const lc of found) {
      if (lc === undefined) continue
      lc.stopping = true
      if (lc.pid !== null) pids.push(lc.pid)
    }
    if (pids.length > 0) await this.#sup.terminateChildren(pids).catch(() => {}) // already gone: nothing to stop
    const out = ids.map((id, i): WireResult => {
      const lc = found[i]
      if (lc === undefined) return { id, error: 'not_found', node: this.#self }
      if (this.#local.get(id) === lc) this.#local.delete(id)
      this.#forgetLocal(id)
      return lc.pid === null ? { id, error: 'not_found', node: this.#self } : { id, pid: lc.pid }
    })
    this.#flush()
    return out
  }

  async #stopLocal(id: string): Promise<WireResult> {
    const lc = this.#local.get(id)
    if (lc === undefined) return { id, error: 'not_found', node: this.#self }
    lc.stopping = true
    const pid = lc.pid
    if (pid !== null) await this.#sup.terminateChild(pid).catch(() => {}) // already gone: nothing to stop
    if (this.#local.get(id) === lc) this.#local.delete(id)
    this.#forgetLocal(id)
    return pid === null ? { id, error: 'not_found', node: this.#self } : { id, pid }
  }

  /** Removes a local child's registry entry here and on every other node. */
  #forgetLocal(id: string): void {
    this.#rep?.forget(id)
    if (this.#reg.remove(id, this.#self)) this.#queueDel(id)
  }

  // ------------------------------------------------------------- requests

  /** Sends `items` to `target` in frames of CHUNK and resolves with every result (errors for a timeout or a lost node). */
  async #request<K extends 'Start' | 'Stop', T extends WireChild | string>(
    target: string,
    kind: K,
    items: T[],
    timeout: number,
    payload: (part: T[], ref: number) => Payloads[K],
  ): Promise<WireResult[]> {
    const idOf = (x: T): string => (typeof x === 'string' ? x : x.id)
    const parts: Promise<WireResult[]>[] = []
    for (let i = 0; i < items.length; i += CHUNK) {
      const part = items.slice(i, i + CHUNK)
      const ref = this.#nextRef++
      parts.push(
        new Promise<WireResult[]>((resolve) => {
          const ids = part.map(idOf)
          const sent = this.#send(target, kind, payload(part, ref))
          if (sent !== 'ok') {
            resolve(ids.map((id) => ({ id, error: 'noconnection', node: target })))
            return
          }
          const timer = setTimeout(() => {
            this.#pending.delete(ref)
            resolve(ids.map((id) => ({ id, error: 'timeout', node: target })))
          }, timeout)
          this.#pending.set(ref, { node: target, ids, resolve, timer })
        }),
      )
    }
    return (await Promise.all(parts)).flat()
  }

  /** @internal */
  _onReply(from: string, p: Payloads['StartReply']): void {
    const req = this.#pending.get(p.ref)
    if (req === undefined || req.node !== from) return // late (timed out) or not ours
    this.#pending.delete(p.ref)
    clearTimeout(req.timer)
    req.resolve(p.results)
  }

  /** @internal */
  _onStart(from: string, p: Payloads['Start']): void {
    if (this.#quorum.partitioned) {
      this.#send(from, 'StartReply', { h: this.id, ref: p.ref, results: p.children.map((c) => ({ id: c.id, error: 'partitioned', node: this.#self })) })
      return
    }
    void this.#startLocalMany(p.children, p.check).then((results) => {
      // Registry updates go first, on the same lane, so the caller's node
      // knows every started child by the time it has the reply.
      this.#flush()
      this.#send(from, 'StartReply', { h: this.id, ref: p.ref, results })
    })
  }

  /** @internal */
  _onStop(from: string, p: Payloads['Stop']): void {
    void this.#stopLocalMany(p.ids).then((results) => this.#send(from, 'StopReply', { h: this.id, ref: p.ref, results: this.#bury(results) }))
  }

  // ------------------------------------------------------------- registry sync

  #queuePut(e: RegEntry): void {
    this.#outDel.delete(e.id)
    this.#outPut.set(e.id, { c: e.child, p: e.pid })
    this.#queueFlush()
  }

  #queueDel(id: string): void {
    this.#outPut.delete(id)
    this.#outDel.add(id)
    this.#queueFlush()
  }

  #queueFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => this.#flush())
  }

  /** Sends the queued registry changes to every member, in frames of CHUNK. */
  #flush(): void {
    this.#flushQueued = false
    if (this.#outPut.size === 0 && this.#outDel.size === 0 && this.#outTombs.size === 0) return
    const put = [...this.#outPut.values()]
    const del = [...this.#outDel]
    const tombs = [...this.#outTombs]
    this.#outPut = new Map()
    this.#outDel = new Set()
    this.#outTombs = new Set()
    if (this.#peers.size === 0) return
    // Each frame is encoded once and the same bytes go to every member.
    for (let i = 0; i < Math.max(put.length, del.length, tombs.length); i += CHUNK) {
      const t = tombs.slice(i, i + CHUNK)
      const bytes = encodePayload('Update', { h: this.id, put: put.slice(i, i + CHUNK), del: del.slice(i, i + CHUNK), v: this.#versions.bump(), ...(t.length > 0 && { t }) })
      for (const n of this.#peers) this.#sendBytes(n, 'Update', bytes)
    }
  }

  /** @internal Changes to `from`'s own children. */
  _onUpdate(from: string, p: Payloads['Update']): void {
    if (!this.#peers.has(from) || this.#idle.has(from)) return // not (or no longer) a member, or partitioned: its state is not ours to keep
    if (p.v !== undefined && !this.#versions.update(from, p.v)) return // a newer relayed list already has it
    const handed = this.#handed.get(from)
    for (const e of p.put) {
      handed?.delete(e.c.id)
      this.#acceptEntry(from, e)
    }
    for (const id of p.del) this.#reg.remove(id, from)
    if (p.t !== undefined) {
      const now = Date.now()
      for (const id of p.t) this.#tombs.set(id, now)
    }
  }

  /** Records `from`'s child, unless this node runs the same id: then exactly one copy is kept. */
  #acceptEntry(from: string, e: WireEntry): void {
    const id = e.c.id
    const mine = this.#local.get(id)
    // Under replication another node's replica is another slot, not a
    // duplicate; during a hot swap the new instance's entry replaces ours
    // while ours runs out its retention.
    if (mine !== undefined && this.#rep === null && mine.handingTo !== from) {
      if (this.#keepsMine(id, from)) {
        // The other node drops its copy by the same rule; re-announce ours.
        const entry = this.#reg.get(id)
        if (entry !== undefined) this.#queuePut(entry)
        return
      }
      log({ level: 'warn', message: `hub ${this.id}: ${id} also runs on ${from}; stopping the copy here` })
      void this.#stopLocal(id)
    }
    this.#reg.put({ id, node: from, pid: e.p, child: e.c })
  }

  /** The duplicate rule: the ring owner's copy wins; if neither node owns it, the lower node name's. */
  #keepsMine(id: string, other: string): boolean {
    // A hot swap from `other` to here is under way: ours is the one that stays.
    const lc = this.#local.get(id)
    if (lc?.takingFrom === other && Date.now() < lc.takingUntil!) return true
    const owner = this.#ring.owner(id)
    if (owner === this.#self) return true
    if (owner === other) return false
    return this.#self < other
  }

  /** Sends `to` this node's full list (stamped with its version) and, for gossip, its view of the other members' lists. */
  #sendSync(to: string, gossip = false): void {
    const entries = this.#reg.entriesOn([...this.#local.keys()], this.#self)
    const wire = entries.map((e) => ({ c: e.child, p: e.pid }))
    const v = this.#versions.own
    const g = gossip ? this.#gossipView(to) : undefined
    const t = this.#tombIds()
    const m = [...this.#peers].filter((n) => !this.#idle.has(n))
    if (wire.length === 0) {
      this.#send(to, 'Sync', { h: this.id, entries: [], last: true, v, m, ...(g && { g }), ...(t && { t }) })
      return
    }
    for (let i = 0; i < wire.length; i += CHUNK) {
      const last = i + CHUNK >= wire.length
      this.#send(to, 'Sync', { h: this.id, entries: wire.slice(i, i + CHUNK), last, ...(last && { v, m, ...(g && { g }), ...(t && { t }) }) })
    }
  }

  /** The other members' lists as this node knows them, each with the version it is complete at (unknown ones are left out). */
  #gossipView(to: string): GossipList[] {
    const out: GossipList[] = []
    for (const n of this.#peers) {
      const v = this.#versions.known(n)
      if (n === to || v === undefined || this.#idle.has(n)) continue
      out.push({ n, v, e: this.#reg.entriesOn(this.#reg.idsOn(n), n).map((e) => ({ c: e.child, p: e.pid })) })
    }
    return out
  }

  /** Lists relayed by gossip: each replaces this node's copy of that member's entries only if it is newer. */
  #onGossip(from: string, lists: GossipList[]): void {
    for (const l of lists) {
      if (l.n === this.#self || l.n === from || !this.#peers.has(l.n) || this.#idle.has(l.n) || !this.#versions.relayed(l.n, l.v)) continue
      this.#replaceFrom(l.n, l.e.map((e) => ({ id: e.c.id, node: l.n, pid: e.p, child: e.c })), true)
    }
  }

  /** @internal A full list of `from`'s children (possibly in several frames): repairs any drift. */
  _onSync(from: string, p: Payloads['Sync']): void {
    if (!this.#peers.has(from) || this.#idle.has(from)) return
    let acc = this.#syncIn.get(from)
    if (acc === undefined) this.#syncIn.set(from, (acc = []))
    const handed = this.#handed.get(from)
    for (const e of p.entries) {
      handed?.delete(e.c.id)
      acc.push({ id: e.c.id, node: from, pid: e.p, child: e.c })
    }
    if (!p.last) return
    this.#syncIn.delete(from)
    this.#syncSeen.set(from, (this.#syncSeen.get(from) ?? 0) + 1)
    this.#synced.add(from)
    if (p.m !== undefined) this.#membersOf.set(from, p.m)
    if (p.v !== undefined) this.#versions.direct(from, p.v)
    // Only what a partitioned or recovering node kept specs for needs them.
    if (p.t !== undefined && this.#dormant.size > 0) for (const id of p.t) this.#tombsSeen.add(id)
    this.#replaceFrom(from, acc)
    if (p.g !== undefined) this.#onGossip(from, p.g)
    this.#fillIfSettled()
  }

  /** Replication: starts this node's replicas for slots it found empty in the registry (see LocalChild.filled). */
  #fillSlots(children: WireChild[]): Promise<WireResult[]> {
    return this.#startLocalMany(children, false, undefined, undefined, undefined, true)
  }

  /** Replication, after a join: fills this node's empty slots once it has heard from every member (see #settled). */
  #fillIfSettled(): void {
    if (!this.#fillAfterJoin || !this.#settled()) return
    this.#fillAfterJoin = false
    void this.#serial(async () => {
      if (!this.#alive || this.#quorum.partitioned) return
      const missing = this.#missingSlots()
      if (missing.length === 0) return
      await this.#fillSlots(missing)
      this.#flush()
      this.#signalRoles()
    })
  }

  /**
   * Makes `from`'s entries here exactly `acc`, applying the duplicate rule to
   * any id this node runs too; a `relayed` (second-hand) list never stops a
   * local child: only the writer's own word does.
   */
  #replaceFrom(from: string, acc: RegEntry[], relayed = false): void {
    const keep: RegEntry[] = []
    for (const e of acc) {
      // Under replication another node's replica is another slot, never a duplicate of ours.
      if (this.#rep !== null || this.#local.get(e.id)?.handingTo === from) {
        keep.push(e)
        continue
      }
      if (relayed && this.#local.has(e.id)) continue
      if (this.#local.has(e.id) && this.#keepsMine(e.id, from)) {
        const entry = this.#reg.get(e.id)
        if (entry !== undefined) this.#queuePut(entry)
        continue
      }
      if (this.#local.has(e.id)) void this.#stopLocal(e.id)
      keep.push(e)
    }
    this.#reg.replaceNode(from, keep)
  }

  #periodicSync(): void {
    if (!this.#alive) return
    this.#refreshSelf()
    this.#flush()
    const gossip = this.#cfg.gossipRecipients
    if (gossip === undefined) for (const n of this.#peers) this.#sendSync(n)
    else for (const n of pickRecipients([...this.#peers], gossip, Math.random)) this.#sendSync(n, true)
    // A child left on a node that no longer owns it (a start that raced a
    // membership change) moves to its owner now.
    if (this.#locks === 0 && !this.#quorum.partitioned) {
      void this.#serial(async () => {
        await this.#rebalance('nodeup', this.#self)
        if (this.#rep === null) return
        // Replication: a slot left empty (a start or a restore that failed, or
        // a loss seen late) is filled by its owner.
        const missing = this.#settled() ? this.#missingSlots() : []
        if (missing.length > 0) {
          await this.#fillSlots(missing)
          this.#flush()
        }
        this.#signalRoles()
      })
    }
  }

  // ------------------------------------------------------------- membership

  /** @internal Tells `n` this node runs the hub (on nodeup, at start, and every discoverInterval). */
  _announce(n: string): void {
    if (this.#alive) this.#send(n, 'Hello', { h: this.id, ack: false, q: this.#quorum.partitioned })
  }

  #discover(): void {
    const connected = clusterNodes()
    for (const n of connected) if (!this.#peers.has(n)) this._announce(n)
    // Quorum states are re-stated, so one lost in a reconnection race (the
    // transport drops frames queued on a duplicate connection) is repaired:
    // ask the members seen as partitioned, and repeat our own while partitioned.
    for (const n of this.#idle) this._announce(n)
    if (this.#quorum.partitioned) for (const n of this.#peers) if (!this.#idle.has(n)) this.#send(n, 'Hello', { h: this.id, ack: true, q: true })
    const now = Date.now()
    for (const [n, t] of this.#lostMembers) {
      if (now - t > LOST_REDIAL_MS) this.#lostMembers.delete(n)
      else if (!connected.includes(n)) redial(n)
    }
  }

  /** @internal */
  _onHello(from: string, p: Payloads['Hello']): void {
    if (!p.ack) this.#send(from, 'Hello', { h: this.id, ack: true, q: this.#quorum.partitioned })
    // A partitioned member counts for quorum but runs nothing: it is out of
    // the ring (its children restart on the others) until it says it is back.
    const idle = p.q === true
    if (this.#peers.has(from)) {
      if (idle && !this.#idle.has(from)) {
        this.#idle.add(from)
        void this.#serial(() => this.#dropMember(from, 'partitioned'))
      } else if (!idle && this.#idle.delete(from)) {
        void this.#serial(() => this.#memberJoined(from))
      }
      return
    }
    this.#peers.add(from)
    this.#lostMembers.delete(from)
    // Our own announcement to it may have crossed a change of our quorum state: say it again.
    if (p.ack) this.#send(from, 'Hello', { h: this.id, ack: true, q: this.#quorum.partitioned })
    if (idle) this.#idle.add(from)
    else void this.#serial(() => this.#memberJoined(from))
    this.#quorumStep(() => this.#quorum.memberUp(from, this.#peers.size + 1, Date.now()))
  }

  /** @internal */
  _onLeave(from: string): void {
    this._memberLeft(from, 'leave')
  }

  /** @internal A member left gracefully or its node went down. */
  _memberLeft(n: string, why: 'leave' | 'nodedown'): void {
    if (!this.#alive) return
    // Requests waiting on that node fail now, not at their timeout.
    for (const [ref, req] of this.#pending) {
      if (req.node !== n) continue
      this.#pending.delete(ref)
      clearTimeout(req.timer)
      req.resolve(req.ids.map((id) => ({ id, error: 'noconnection', node: n })))
    }
    this.#syncIn.delete(n)
    this.#synced.delete(n)
    this.#membersOf.delete(n)
    this.#versions.forget(n)
    this.#idle.delete(n)
    const wasPeer = this.#peers.delete(n)
    if (why === 'leave') this.#lostMembers.delete(n)
    else if (wasPeer) this.#lostMembers.set(n, Date.now())
    if (wasPeer) this.#quorumStep(() => this.#quorum.memberDown(n, this.#peers.size + 1, Date.now(), why === 'leave'))
    void this.#serial(() => this.#dropMember(n, why))
  }

  /** Takes `n` out of the ring (it left, went down, or is partitioned) and restarts its children on their new owners. */
  async #dropMember(n: string, why: 'leave' | 'nodedown' | 'partitioned'): Promise<void> {
    if (!this.#ring.has(n) || n === this.#self) return
    this.#hooks.emit('preClusterLeave', { node: n })
    this.#lock(why === 'partitioned' ? 'member_partitioned' : why)
    this.#hooks.emit('preRedistribution', { event: 'nodedown', node: n })
    this.#ring.remove(n)
    const orphans: Array<{ id: string; child: NormalChild }> = this.#reg.dropNode(n)
    orphans.push(...this.#handedBack(n, orphans))
    if (this.#quorum.partitioned) {
      // Nothing starts below quorum: the orphans wait here with the rest.
      for (const e of orphans) this.#dormant.set(e.id, e.child)
      this.#hooks.emit('postRedistribution', { event: 'nodedown', node: n })
      this.#unlock()
      this.#hooks.emit('postClusterLeave', { node: n })
      return
    }
    const { mine, theirs } = this.#rep === null ? this.#orphansTo(orphans) : this.#lostReplicas(orphans)
    for (const [to, list] of theirs) {
      this.#remember(to, list)
      this.#sendChunks(to, 'Migrate', list, (children) => ({ h: this.id, children, orphanOf: n }))
    }
    if (mine.length > 0) {
      this.#hooks.emit('preChildrenRedistribution', { event: 'nodedown', node: n, ids: mine.map((c) => c.id) })
      // Under replication these restore the lost node's replicas: slot fills.
      await (this.#rep === null ? this.#startLocalMany(mine, false) : this.#fillSlots(mine))
      this.#flush()
    }
    this.#signalRoles()
    this.#hooks.emit('postRedistribution', { event: 'nodedown', node: n })
    this.#unlock()
    this.#hooks.emit('postClusterLeave', { node: n })
  }

  /**
   * Singularity: a lost node's children go to their new owners. The new
   * owner may not have heard of a child the lost node started just before it
   * died: every survivor sends the owners the orphans it knows of (an owner
   * that already runs one ignores the copy).
   */
  #orphansTo(orphans: Array<{ id: string; child: NormalChild }>): { mine: NormalChild[]; theirs: Map<string, NormalChild[]> } {
    const owners = this.#ring.ownerMany(orphans.map((e) => e.id))
    const mine = orphans.filter((_, i) => owners[i] === this.#self).map((e) => e.child)
    const theirs = new Map<string, NormalChild[]>()
    orphans.forEach((e, i) => {
      const to = owners[i]
      if (to === undefined || to === this.#self) return
      let list = theirs.get(to)
      if (list === undefined) theirs.set(to, (list = []))
      list.push(e.child)
    })
    return { mine, theirs }
  }

  /**
   * Replication: the lost node's replicas are restored on the new owner set,
   * only in the slots that lack one (the owners holding no replica). This
   * node starts its own missing slot and tells the others of theirs (an
   * owner that already runs one ignores the copy).
   */
  #lostReplicas(lost: Array<{ id: string; child: NormalChild }>): { mine: NormalChild[]; theirs: Map<string, NormalChild[]> } {
    const owners = this.#rep!.ownersMany(
      this.#ring,
      lost.map((e) => e.id),
    )
    const mine = this.#missingSlots()
    const theirs = new Map<string, NormalChild[]>()
    lost.forEach((e, i) => {
      for (const o of owners[i]!) {
        if (o !== this.#self && this.#reg.locationOn(e.id, o) === undefined) {
          let list = theirs.get(o)
          if (list === undefined) theirs.set(o, (list = []))
          list.push(e.child)
        }
      }
    })
    return { mine, theirs }
  }

  /**
   * Replication: the children whose replicas on live members are fewer than
   * the factor and that this node owns but does not run. A node loss can
   * leave a slot empty that was not the lost node's (two losses in a row:
   * the first one's replacement was due on the second), so each owner
   * checks every child rather than only the lost node's. A replica moving
   * in by a hot swap is never started from its spec here: its old instance
   * still counts until it stops.
   */
  #missingSlots(): NormalChild[] {
    const rep = this.#rep!
    const k = rep.factor(this.#ring.size)
    const out: NormalChild[] = []
    for (const id of this.#reg.ids()) {
      if (this.#local.has(id)) continue
      const locs = this.#reg.locations(id)
      if (locs.filter((l) => this.#ring.has(l.node)).length >= k) continue
      if (!rep.owners(this.#ring, id).includes(this.#self)) continue
      const e = this.#reg.get(id)
      if (e !== undefined) out.push(e.child)
    }
    return out
  }

  /**
   * Whether this node has the whole picture: the full list of every member it
   * knows of (its peers, and the members their lists name) has arrived since
   * that member joined. Until then a replica slot that looks empty may only
   * be one this node has not heard of (a newcomer that has heard from one
   * member sees every other member's replicas as missing), so none is filled.
   */
  #settled(): boolean {
    for (const n of this.#peers) if (!this.#idle.has(n) && !this.#synced.has(n)) return false
    for (const [from, members] of this.#membersOf) {
      if (!this.#peers.has(from) || this.#idle.has(from)) continue
      for (const m of members) if (m !== this.#self && !this.#idle.has(m) && !this.#synced.has(m)) return false
    }
    return true
  }

  /** Replication: tells each local replica its role if a membership change flipped it. */
  #signalRoles(): void {
    const rep = this.#rep
    if (rep === null) return
    for (const [id, lc] of this.#local) {
      if (lc.pid !== null && !lc.stopping && lc.handingTo === undefined) rep.signal(id, lc.pid, rep.roleOf(this.#ring, id, this.#self))
    }
  }

  async #memberJoined(n: string): Promise<void> {
    // Already gone again (its loss was seen before this step ran): nothing to hand it.
    if (!this.#alive || this.#ring.has(n) || !this.#peers.has(n) || this.#idle.has(n)) return
    this.#hooks.emit('preClusterJoin', { node: n })
    this.#lock('nodeup')
    this.#hooks.emit('preRedistribution', { event: 'nodeup', node: n })
    this.#ring.add(n)
    // The newcomer learns this node's children before any of them moves.
    this.#flush()
    this.#sendSync(n)
    if (!this.#quorum.partitioned) await this.#rebalance('nodeup', n)
    if (this.#rep !== null) this.#fillAfterJoin = true
    this.#signalRoles()
    // Every list may have arrived while this step waited its turn.
    this.#fillIfSettled()
    this.#hooks.emit('postRedistribution', { event: 'nodeup', node: n })
    this.#unlock()
    this.#hooks.emit('postClusterJoin', { node: n })
  }

  /**
   * Every local child this node no longer owns moves to its owner (cold
   * swap: stops here, then starts there; hot swap: see #hotMove). Under
   * replication a replica moves to a free slot (an owner without one), or
   * stops if there is none.
   */
  async #rebalance(event: 'nodeup' | 'nodedown', n: string): Promise<void> {
    this.#refreshSelf()
    // Not the children being handed away, nor those just handed here: a node
    // that leaves hands its children over before its Leave arrives, so its
    // peers still count it as their owner meanwhile and must not send them back.
    const now = Date.now()
    const ids = [...this.#local.keys()].filter((id) => {
      const lc = this.#local.get(id)!
      return lc.handingTo === undefined && !(lc.takingUntil !== undefined && now < lc.takingUntil)
    })
    const moves = new Map<string, NormalChild[]>()
    const surplus: string[] = []
    const add = (to: string, id: string): void => {
      let list = moves.get(to)
      if (list === undefined) moves.set(to, (list = []))
      list.push(this.#local.get(id)!.child)
    }
    if (this.#rep === null) {
      const owners = this.#ring.ownerMany(ids)
      ids.forEach((id, i) => {
        const to = owners[i]
        if (to !== undefined && to !== this.#self) add(to, id)
      })
    } else {
      const owners = this.#rep.ownersMany(this.#ring, ids)
      ids.forEach((id, i) => {
        const o = owners[i]!
        if (o.length === 0 || o.includes(this.#self)) return
        const to = this.#rep!.slotFor(
          o,
          this.#reg.locations(id).map((l) => l.node),
          this.#self,
        )
        if (to === undefined) surplus.push(id)
        else add(to, id)
      })
    }
    if (surplus.length > 0) await this.#stopLocalMany(surplus)
    if (moves.size === 0) return
    const all = [...moves.values()].flat()
    this.#hooks.emit('preChildrenRedistribution', { event, node: n, ids: all.map((c) => c.id) })
    if (this.#cfg.hotSwap !== null) {
      await this.#hotMove(moves)
      return
    }
    await this.#stopLocalMany(all.map((c) => c.id))
    for (const [to, list] of moves) {
      if (this.#sendChunks(to, 'Migrate', list, (children) => ({ h: this.id, children }))) {
        this.#remember(to, list)
        this.#hooks.emit('forwardedMigration', { ids: list.map((c) => c.id), to })
      } else {
        // The new owner is unreachable (it went down meanwhile): keep the
        // children here rather than lose them; the next change places them.
        await this.#startLocalMany(list, false)
        this.#flush()
      }
    }
  }

  /** @internal Children handed over by `from`: they start here (never dropped, even if the rings disagree for a moment). */
  _onMigrate(from: string, p: Payloads['Migrate']): void {
    if (this.#quorum.partitioned) {
      // Kept, not refused: a handed-over child must not be lost; it starts (or goes to its owner) when quorum returns.
      for (const c of p.children) this.#dormant.set(c.id, c)
      return
    }
    // Orphans of a lost node are started unless they already run somewhere
    // else (their entry may still name the lost node here: that one is ignored).
    const states = p.hs === undefined ? undefined : new Map(p.hs)
    void this.#startLocalMany(p.children, p.orphanOf !== undefined, p.orphanOf, states, p.ref !== undefined ? from : undefined).then((results) => {
      this.#flush()
      // Hot swap: the old node stops its instances once it has this answer.
      if (p.ref !== undefined) this.#send(from, 'StartReply', { h: this.id, ref: p.ref, results })
      const ids = results.filter((r) => !('error' in r)).map((r) => r.id)
      for (const r of results) if ('error' in r && r.error !== 'already_started') log({ level: 'error', message: `hub ${this.id}: migrated child ${r.id} from ${from} failed to start: ${r.error}` })
      if (ids.length > 0) this.#hooks.emit('childrenMigrated', { node: from, ids })
    })
  }

  /** Records the children in `results` that stopped as tombstones; returns `results`. */
  #bury(results: WireResult[]): WireResult[] {
    const now = Date.now()
    for (const r of results) {
      if ('error' in r) continue
      this.#tombs.set(r.id, now)
      this.#outTombs.add(r.id) // every member keeps it too
    }
    if (this.#outTombs.size > 0) this.#queueFlush()
    return results
  }

  /** The recent tombstones (older ones, and ids that run again, are dropped); undefined if none. */
  #tombIds(): string[] | undefined {
    if (this.#tombs.size === 0) return undefined
    const old = Date.now() - TOMB_MS
    for (const [id, at] of this.#tombs) if (at < old || this.#reg.location(id) !== undefined) this.#tombs.delete(id)
    return this.#tombs.size === 0 ? undefined : [...this.#tombs.keys()]
  }

  /** Notes children handed to `to`, until its registry entry for each arrives. */
  #remember(to: string, list: NormalChild[]): void {
    let m = this.#handed.get(to)
    if (m === undefined) this.#handed.set(to, (m = new Map()))
    for (const c of list) m.set(c.id, c)
  }

  /** The children handed to lost node `n` that run nowhere known (not among `orphans`, not here, not registered). */
  #handedBack(n: string, orphans: Array<{ id: string }>): Array<{ id: string; child: NormalChild }> {
    const m = this.#handed.get(n)
    this.#handed.delete(n)
    if (m === undefined) return []
    const known = new Set(orphans.map((o) => o.id))
    return [...m.values()].filter((c) => !known.has(c.id) && !this.#local.has(c.id) && this.#reg.location(c.id) === undefined).map((c) => ({ id: c.id, child: c }))
  }

  // ------------------------------------------------------------- partitions

  /** Applies one quorum input and acts on a change of state (and re-arms dynamic_quorum's expiry timer). */
  #quorumStep(input: () => boolean): void {
    if (!this.#alive) return
    const was = this.#quorum.partitioned
    const now = input()
    clearTimeout(this.#quorumTimer)
    const at = this.#quorum.nextExpiry()
    if (at !== undefined) {
      this.#quorumTimer = setTimeout(() => this.#quorumStep(() => this.#quorum.tick(Date.now())), Math.max(0, at - Date.now()) + 1)
      this.#quorumTimer.unref()
    }
    if (was === now) return
    // Every member learns at once (before this node's children stop) whether to count it in its ring.
    for (const n of this.#peers) this.#send(n, 'Hello', { h: this.id, ack: true, q: now })
    if (now) void this.#serial(() => this.#enterPartition())
    else void this.#serial(() => this.#leavePartition())
  }

  /**
   * A graceful leave while partitioned: the specs kept here go to their
   * owners among the remaining members, as orphans (an owner that knows a
   * running copy ignores one; a partitioned owner keeps it in turn).
   */
  #handOffDormant(): void {
    if (this.#dormant.size === 0) return
    const kept = [...this.#dormant.values()]
    this.#dormant = new Map()
    const owners = this.#ring.ownerMany(kept.map((c) => c.id))
    const byOwner = new Map<string, NormalChild[]>()
    kept.forEach((c, i) => {
      const to = owners[i]
      if (to === undefined) return
      let list = byOwner.get(to)
      if (list === undefined) byOwner.set(to, (list = []))
      list.push(c)
    })
    for (const [to, list] of byOwner) this.#sendChunks(to, 'Migrate', list, (children) => ({ h: this.id, children, orphanOf: this.#self }))
  }

  /** Below quorum: every local child stops (its spec is kept), and the hub stays locked. */
  async #enterPartition(): Promise<void> {
    if (!this.#quorum.partitioned || !this.#alive) return
    this.#tombsSeen.clear()
    log({ level: 'warn', message: `hub ${this.id}: below quorum (${this.#peers.size + 1} members seen); stopping ${this.#local.size} local children until quorum returns` })
    this.#hooks.emit('lockChanged', { locked: true, reason: 'partitioned' })
    for (const lc of this.#local.values()) this.#dormant.set(lc.child.id, lc.child)
    await this.#stopLocalMany([...this.#local.keys()])
  }

  /**
   * Quorum is back: after each member's registry has reached this node (or
   * a short wait), every kept child that runs nowhere starts on its owner.
   */
  async #leavePartition(): Promise<void> {
    if (this.#quorum.partitioned || !this.#alive) return
    const peers = [...this.#peers]
    const seen = new Map(peers.map((n) => [n, this.#syncSeen.get(n) ?? 0]))
    // A member's full list comes with its join; wait for it (bounded) so a
    // child stopped or moved meanwhile is not brought back from a stale spec.
    const end = Date.now() + Math.min(2000, this.#cfg.syncInterval)
    while (Date.now() < end && (peers.some((n) => this.#peers.has(n) && (this.#syncSeen.get(n) ?? 0) === seen.get(n)) || !this.#settled())) {
      await new Promise((r) => setTimeout(r, 20))
    }
    if (this.#quorum.partitioned || !this.#alive) return
    // Not restarted: what runs somewhere already, and what a member stopped on purpose meanwhile (its tombstones).
    const dormant = [...this.#dormant.values()].filter((c) => this.#reg.location(c.id) === undefined && !this.#tombsSeen.has(c.id))
    this.#tombsSeen.clear()
    this.#dormant = new Map()
    log({ level: 'warn', message: `hub ${this.id}: quorum is back (${this.#peers.size + 1} members); restarting ${dormant.length} children` })
    // Each kept child goes to its owner, or under replication to each of its owners (one per replica slot).
    const dormantIds = dormant.map((c) => c.id)
    const owners: Array<Array<string | undefined>> = this.#rep === null ? this.#ring.ownerMany(dormantIds).map((o) => [o]) : this.#rep.ownersMany(this.#ring, dormantIds)
    const mine: NormalChild[] = []
    const theirs = new Map<string, NormalChild[]>()
    dormant.forEach((c, i) => {
      for (const to of owners[i]!) {
        if (to === undefined || to === this.#self) mine.push(c)
        else {
          let list = theirs.get(to)
          if (list === undefined) theirs.set(to, (list = []))
          list.push(c)
        }
      }
    })
    // Sent as orphans: an owner that already runs (or knows a running copy of) one ignores it.
    for (const [to, list] of theirs) {
      this.#remember(to, list)
      if (!this.#sendChunks(to, 'Migrate', list, (children) => ({ h: this.id, children, orphanOf: this.#self }))) mine.push(...list)
    }
    if (mine.length > 0) {
      await this.#startLocalMany(mine, true)
      this.#flush()
    }
    this.#hooks.emit('lockChanged', { locked: false, reason: 'quorum' })
    if (this.#locks === 0) {
      const waiters = this.#lockWaiters
      this.#lockWaiters = []
      for (const w of waiters) w()
    }
  }

  /**
   * Hot swap: the moving children's new instances start on their new owners
   * while the old ones run on; with `handover`, each new one starts from its
   * old one's `handoff()` state. An old instance stops once its new owner
   * has answered, or `retention` ms after the migration began. A child whose
   * new owner could not start it (or went away) stays here.
   */
  async #hotMove(moves: Map<string, NormalChild[]>): Promise<void> {
    const { retention, handover } = this.#cfg.hotSwap!
    const began = Date.now()
    for (const [to, list] of moves) for (const c of list) this.#local.get(c.id)!.handingTo = to
    const all = [...moves.values()].flat()
    const states = handover ? await collectStates(this.id, all.map((c) => ({ id: c.id, pid: this.#local.get(c.id)?.pid ?? null })), retention) : new Map<string, Term>()
    const waits: Array<Promise<{ to: string; results: WireResult[] }>> = []
    for (const [to, list] of moves) {
      for (const frame of handoverFrames(this.id, list, states, () => this.#nextRef++)) {
        waits.push(this.#handOver(to, frame, Math.max(0, retention - (Date.now() - began))).then((results) => ({ to, results })))
      }
    }
    const stop: string[] = []
    for (const { to, results } of await Promise.all(waits)) {
      const gone: string[] = []
      for (const r of results) {
        const lc = this.#local.get(r.id)
        if (lc === undefined) continue
        // Started there (or already running there), or no answer within the
        // retention from a node still connected: the old instance stops.
        if (!('error' in r) || r.error === 'already_started' || (r.error === 'timeout' && this.#peers.has(to))) stop.push(r.id)
        else {
          lc.handingTo = undefined
          gone.push(r.id)
          log({ level: 'warn', message: `hub ${this.id}: ${r.id} could not move to ${to} (${r.error}); it stays on ${this.#self}` })
          // The new owner's entry may have replaced ours meanwhile.
          if (lc.pid !== null) {
            const e: RegEntry = { id: r.id, node: this.#self, pid: lc.pid, child: lc.child }
            this.#reg.put(e)
            this.#queuePut(e)
          }
        }
      }
      const moved = results.map((r) => r.id).filter((id) => !gone.includes(id))
      if (moved.length > 0) {
        // Kept until the new owner's entry arrives, as for a cold move (its loss before then hands them back).
        this.#remember(
          to,
          moved.map((id) => this.#local.get(id)?.child).filter((c): c is NormalChild => c !== undefined),
        )
        this.#hooks.emit('forwardedMigration', { ids: moved, to })
      }
    }
    await this.#stopLocalMany(stop)
  }

  /** Sends one hot-swap Migrate frame and resolves with the new owner's results (an error per child for no answer within `wait` ms or a lost node). */
  #handOver(to: string, frame: Payloads['Migrate'], wait: number): Promise<WireResult[]> {
    const ids = frame.children.map((c) => c.id)
    const deadline = Date.now() + wait
    return new Promise<WireResult[]>((resolve) => {
      // Encoded once: a retry after backpressure sends the same bytes.
      let bytes = encodePayload('Migrate', frame)
      const attempt = (): void => {
        let sent = to === this.#self ? 'notconnected' : sendFrame(to, HubFrame.Migrate, bytes, LANE)
        if (sent === 'toolarge' && frame.hs !== undefined) {
          log({ level: 'error', message: `hub ${this.id}: the handed-over state of ${ids.join(', ')} exceeds the frame limit; moving without it` })
          const { hs: _dropped, ...bare } = frame
          bytes = encodePayload('Migrate', bare)
          sent = sendFrame(to, HubFrame.Migrate, bytes, LANE)
        }
        // A full send queue (megabytes of state in flight) drains: try again until the retention is over.
        if (sent === 'backpressure' && Date.now() < deadline) {
          setTimeout(attempt, 10)
          return
        }
        if (sent !== 'ok') {
          if (sent !== 'notconnected' && sent !== 'stopped') log({ level: 'warn', message: `hub ${this.id}: a hot-swap Migrate frame to ${to} was not sent (${sent})` })
          resolve(ids.map((id) => ({ id, error: sent === 'backpressure' ? 'backpressure' : 'noconnection', node: to })))
          return
        }
        const ref = frame.ref!
        const timer = setTimeout(
          () => {
            this.#pending.delete(ref)
            resolve(ids.map((id) => ({ id, error: 'timeout', node: to })))
          },
          Math.max(0, deadline - Date.now()),
        )
        this.#pending.set(ref, { node: to, ids, resolve, timer })
      }
      attempt()
    })
  }

  // ------------------------------------------------------------- locking

  #lock(reason: string): void {
    if (this.#locks++ > 0) return
    this.#hooks.emit('lockChanged', { locked: true, reason })
    this.#lockTimer = setTimeout(() => {
      log({ level: 'warn', message: `hub ${this.id}: redistribution lock held past deadlockRecoveryTimeout (${this.#cfg.deadlockRecoveryTimeout} ms); released` })
      this.#locks = 1
      this.#unlock('deadlock_recovery')
    }, this.#cfg.deadlockRecoveryTimeout)
    this.#lockTimer.unref()
  }

  #unlock(reason = 'redistributed'): void {
    if (this.#locks === 0 || --this.#locks > 0) return
    clearTimeout(this.#lockTimer)
    this.#hooks.emit('lockChanged', { locked: false, reason })
    const waiters = this.#lockWaiters
    this.#lockWaiters = []
    for (const w of waiters) w()
  }

  #whenUnlocked(): Promise<void> {
    return this.#locks === 0 && !this.#quorum.partitioned ? Promise.resolve() : new Promise((r) => this.#lockWaiters.push(r))
  }

  /** Runs membership work one change at a time; a failure is logged and does not stop the next. */
  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#membership.then(fn).catch((error: unknown) => log({ level: 'error', message: `hub ${this.id}: redistribution failed`, error }))
    this.#membership = next
    return next
  }

  // ------------------------------------------------------------- plumbing

  /** @internal */
  _refreshSelf(): void {
    this.#refreshSelf()
  }

  /** The cluster may start (renaming this node) after the hub did: follow the name. */
  #refreshSelf(): void {
    const now = localNode()
    if (now === this.#self) return
    const old = this.#self
    this.#self = now
    this.#ring.remove(old)
    this.#ring.add(now)
    for (const e of this.#reg.dropNode(old)) this.#reg.put({ ...e, node: now })
  }

  #send<K extends keyof Payloads>(to: string, kind: K, p: Payloads[K]): SendResult {
    if (to === this.#self) return 'notconnected'
    return this.#sendBytes(to, kind, encodePayload(kind, p))
  }

  /** Sends an encoded payload of `kind` (sendFrame copies it, so one encoding can go to many nodes). */
  #sendBytes(to: string, kind: keyof Payloads, bytes: Uint8Array): SendResult {
    if (to === this.#self) return 'notconnected'
    const r = sendFrame(to, HubFrame[kind], bytes, LANE)
    if (r !== 'ok' && r !== 'notconnected' && r !== 'stopped') log({ level: 'warn', message: `hub ${this.id}: a ${kind} frame to ${to} was not sent (${r})` })
    return r
  }

  /** Sends `items` in frames of CHUNK; whether every frame was queued. */
  #sendChunks<T>(to: string, kind: 'Migrate', items: T[], payload: (part: T[]) => Payloads['Migrate']): boolean {
    let ok = true
    for (let i = 0; i < items.length; i += CHUNK) ok = this.#send(to, kind, payload(items.slice(i, i + CHUNK))) === 'ok' && ok
    return ok
  }

  #checkAlive(what: string): void {
    if (!this.#alive) throw new Error(`hub.${what}: hub '${this.id}' is stopped`)
  }

  #errorOf(e: HubChildError, timeout: number): Error {
    switch (e.reason) {
      case 'already_started':
        return new HubError('EALREADYSTARTED', `child '${e.id}' is already started on ${e.node}`, e.id, e.node, e.pid)
      case 'not_found':
        return new HubError('ENOTFOUND', `no child '${e.id}' in hub '${this.id}'`, e.id, e.node)
      case 'partitioned':
        return new HubError('EPARTITIONED', `hub '${this.id}' is partitioned on ${e.node} (below quorum): '${e.id}' was not started`, e.id, e.node)
      case 'bad_nodes':
        return new HubError('EBADNODES', `none of the nodes given for '${e.id}' is a member of hub '${this.id}'`, e.id)
      case 'timeout':
        return new TimeoutError(`hub ${this.id}: node ${e.node} did not answer for '${e.id}' within ${timeout} ms`, timeout)
      case 'noconnection':
        return new ConnectionError(`hub ${this.id}: node ${e.node} is not connected (child '${e.id}')`, e.node)
      default:
        return new HubError('ESTARTFAILED', `child '${e.id}' failed on ${e.node}: ${e.reason}`, e.id, e.node)
    }
  }
}

function checkScope(scope: unknown, what: string): void {
  if (scope !== 'global' && scope !== 'local') throw new TypeError(`hub.${what}: scope must be 'global' or 'local', got ${String(scope)}`)
}
