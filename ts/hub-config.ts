/**
 * The hub's configuration and child specs: types, ProcessHub's defaults, and
 * validation. Wrong kinds are `TypeError`s and numbers out of range are
 * `RangeError`s, each naming the field. Strategies that part 1 of the hub
 * does not implement yet are refused by name rather than silently ignored.
 * @module
 */
import { describe } from './check.js'
import type { HubHookHandler, HubHookName } from './hub-hooks.js'
import { HOOK_NAMES } from './hub-hooks.js'
import type { PartitionStrategy } from './hub-quorum.js'
import { type Term, assertTerm } from './terms.js'

/** When a hub child is restarted by its node's supervisor. */
export type HubRestart = 'permanent' | 'transient' | 'temporary'

/** A child of the hub: its cluster-wide unique id and how to start it. */
export interface HubChildSpec {
  /** Unique across the cluster. */
  id: string
  /** `[behaviourName, args]`: the class given to `Hub.define(behaviourName, …)`; `init` receives `args[0]`. */
  start: [string, Term[]] | [string]
  /** Default `'permanent'`. */
  restart?: HubRestart | undefined
  /** Kept with the child through moves; `tag` is answered by `hub.tagQuery`. */
  metadata?: ({ tag?: string } & Record<string, Term>) | undefined
}

/** Options of `startChild`/`startChildren`. */
export interface HubStartOptions {
  /** Wait for the result (default true); false resolves at once with `{ status: 'start_initiated' }`. */
  await?: boolean | undefined
  /** Milliseconds to wait for each node's answer (default 5000). */
  timeout?: number | undefined
  /** Refuse an id that already runs anywhere in the cluster (default true). */
  checkExisting?: boolean | undefined
  /** On any failure: keep the ones that started (`'continue'`, default) or stop them (`'rollback'`). */
  onFailure?: 'continue' | 'rollback' | undefined
  /** `guided` distribution only: the node to start on (the first that is a hub member). */
  nodes?: string[] | undefined
}

/** Options of `stopChild`/`stopChildren`. */
export interface HubStopOptions {
  /** Wait for the result (default true). */
  await?: boolean | undefined
  /** Milliseconds to wait for each node's answer (default 5000). */
  timeout?: number | undefined
}

/**
 * `redundancy: { strategy: 'replication' }`: each child runs on the ring's
 * `factor` best nodes (docs/hub.md, "Replication").
 */
export interface HubReplication {
  strategy: 'replication'
  /** Replicas per child: an integer ≥ 1, or `'cluster_size'` (every member). Default 2. */
  factor?: number | 'cluster_size' | undefined
  /** `'active_active'` (default): every replica is equal. `'active_passive'`: exactly one replica is active. */
  mode?: 'active_active' | 'active_passive' | undefined
  /**
   * Which replicas are told their role with a `handleInfo` message
   * `{ type: 'redundancy_signal', hub, id, mode: 'active' | 'passive' }`, at
   * start and whenever a membership change flips it: `'all'`, only the
   * `'active'` or `'passive'` ones, or `'none'`. Default `'all'` under
   * `active_passive`, `'none'` under `active_active`.
   */
  redundancySignal?: 'none' | 'active' | 'passive' | 'all' | undefined
}

/**
 * `migration: { strategy: 'hot_swap' }`: a moving child starts on its new
 * owner before the old instance stops, and (with `handover`) receives the
 * old one's state (docs/hub.md, "Hot swap").
 */
export interface HubHotSwap {
  strategy: 'hot_swap'
  /** The longest (ms) the old instance keeps running once its migration began (default 5000); it stops as soon as the new one has started. */
  retention?: number | undefined
  /** Pass the old instance's `handoff()` result to the new one's `init(arg, handedOver)` (default false). */
  handover?: boolean | undefined
}

/** What `Hub.start` takes. Only the strategies listed in the types are implemented. */
export interface HubConfig {
  /** The hub's id: hubs with the same id on different nodes form one hub. */
  id: string
  /** Default `{ strategy: 'consistent_hashing' }`. */
  distribution?: { strategy: 'consistent_hashing' } | { strategy: 'guided' } | undefined
  /** Default `{ strategy: 'singularity' }`: one instance per child. See {@link HubReplication}. */
  redundancy?: { strategy: 'singularity' } | HubReplication | undefined
  /** Default `{ strategy: 'cold_swap' }`: a moving child stops, then starts on its new owner. See {@link HubHotSwap}. */
  migration?: { strategy: 'cold_swap' } | HubHotSwap | undefined
  /**
   * Default `{ strategy: 'pubsub', interval: 15000 }`: changes are pushed at once, and every `interval` ms each
   * node sends every member its full list, which repairs drift. `{ strategy: 'gossip', interval, recipients }`
   * (default recipients 3): every `interval` ms each node sends `recipients` random members its view of the
   * whole registry, versioned per writer so stale data never overwrites newer. See docs/hub.md, Gossip.
   */
  sync?:
    | { strategy: 'pubsub'; interval?: number | undefined }
    | { strategy: 'gossip'; interval?: number | undefined; recipients?: number | undefined }
    | undefined
  /**
   * Default `{ strategy: 'divergence' }` (both sides of a split keep running; duplicates are reconciled on heal).
   * The quorum strategies stop a partitioned minority's children and refuse starts (`HubError` `EPARTITIONED`)
   * until quorum returns: `static_quorum` (`quorumSize` members, `startupConfirm` default false),
   * `dynamic_quorum` (`quorumSize` %, `thresholdTime` ms), `majority_quorum` (`initialClusterSize` default 1,
   * `trackMaxSize` default true). See docs/hub.md, Partitions.
   */
  partition?:
    | { strategy: 'divergence' }
    | { strategy: 'static_quorum'; quorumSize: number; startupConfirm?: boolean | undefined }
    | { strategy: 'dynamic_quorum'; quorumSize: number; thresholdTime: number }
    | { strategy: 'majority_quorum'; initialClusterSize?: number | undefined; trackMaxSize?: boolean | undefined }
    | undefined
  /** Children started with the hub (each on its owner). */
  children?: HubChildSpec[] | undefined
  /** Hook handlers, added before the hub starts. */
  hooks?: { [K in HubHookName]?: HubHookHandler<K> } | undefined
  /** Restart intensity of each node's local supervisor (default 100 in 4 s). */
  maxRestarts?: number | undefined
  maxSeconds?: number | undefined
  /** Milliseconds a child gets to stop before it is killed (default 60000 in ProcessHub; applies per child). */
  shutdownTimeout?: number | undefined
  /** Milliseconds between announcements to cluster nodes that have not joined yet (default 60000). */
  discoverInterval?: number | undefined
  /** A redistribution lock held longer than this (ms) is released (default 60000). */
  deadlockRecoveryTimeout?: number | undefined
  /** Accepted for ProcessHub compatibility; the registry keeps nothing to purge. */
  storagePurgeInterval?: number | undefined
  /** Milliseconds to wait for a migrated child to start on its new owner (default 15000). */
  migrationTimeout?: number | undefined
}

/** @internal A validated config. */
export interface NormalConfig {
  id: string
  guided: boolean
  syncInterval: number
  /** Gossip sync: how many random members get this node's view each interval (undefined: pubsub-style sync). */
  gossipRecipients: number | undefined
  partition: PartitionStrategy
  children: NormalChild[]
  hooks: Array<[HubHookName, (payload: any) => unknown]>
  maxRestarts: number
  maxSeconds: number
  shutdownTimeout: number
  discoverInterval: number
  deadlockRecoveryTimeout: number
  migrationTimeout: number
  /** Null under `singularity`. */
  replication: NormalReplication | null
  /** Null under `cold_swap`. */
  hotSwap: { retention: number; handover: boolean } | null
}

/** @internal A validated replication strategy. */
export interface NormalReplication {
  factor: number | 'cluster_size'
  mode: 'active_active' | 'active_passive'
  signal: 'none' | 'active' | 'passive' | 'all'
}

/** @internal A validated child spec (what travels between nodes). */
export interface NormalChild {
  id: string
  start: [string, Term[]]
  restart: HubRestart
  metadata: Record<string, Term>
}

const MAX_MS = 2 ** 31 - 1

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function ms(value: unknown, fallback: number, what: string, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') throw new TypeError(`${what} must be a number of milliseconds, got ${describe(value)}`)
  if (!Number.isInteger(value) || value < min || value > MAX_MS) {
    throw new RangeError(`${what} must be an integer from ${min} to ${MAX_MS} ms, got ${value}`)
  }
  return value
}

function strategy(value: unknown, what: string, allowed: readonly string[], later: readonly string[], fallback: string): string {
  if (value === undefined) return fallback
  if (!isObject(value)) throw new TypeError(`Hub.start: ${what} must be an object like { strategy: '${fallback}' }`)
  const s = value.strategy
  if (typeof s === 'string' && later.includes(s)) {
    throw new TypeError(`Hub.start: ${what} strategy '${s}' is not implemented yet; use ${allowed.map((a) => `'${a}'`).join(' or ')}`)
  }
  if (typeof s !== 'string' || !allowed.includes(s)) {
    throw new TypeError(`Hub.start: ${what}.strategy must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${describe(s)}`)
  }
  return s
}

const RESTARTS: readonly string[] = ['permanent', 'transient', 'temporary']
const ID_MAX = 1024

/** @internal Validates one child spec; `defined` says whether a behaviour name exists here. */
export function normalizeChild(spec: unknown, what: string, defined: (name: string) => boolean): NormalChild {
  if (!isObject(spec)) throw new TypeError(`${what} must be a child spec like { id, start: ['device', [arg]] }, got ${describe(spec)}`)
  const { id, start, restart = 'permanent', metadata = {} } = spec
  if (typeof id !== 'string' || id.length === 0) throw new TypeError(`${what}.id must be a non-empty string, got ${describe(id)}`)
  if (id.length > ID_MAX) throw new RangeError(`${what}.id is ${id.length} characters long; the limit is ${ID_MAX}`)
  if (!Array.isArray(start) || start.length < 1 || start.length > 2 || typeof start[0] !== 'string') {
    throw new TypeError(`${what}.start must be [behaviourName, args], got ${describe(start)}`)
  }
  const [name, args = []] = start as [string, unknown]
  if (!defined(name)) {
    throw new TypeError(`${what}.start names behaviour '${name}', which is not defined (call Hub.define('${name}', Class) on every node)`)
  }
  if (!Array.isArray(args)) throw new TypeError(`${what}.start[1] must be an array of arguments, got ${describe(args)}`)
  if (args.length > 1) throw new RangeError(`${what}.start[1] has ${args.length} arguments; a GenServer's init takes one (args[0])`)
  assertTerm(args, `${what}.start[1]`)
  if (typeof restart !== 'string' || !RESTARTS.includes(restart)) {
    throw new TypeError(`${what}.restart must be 'permanent', 'transient' or 'temporary', got ${describe(restart)}`)
  }
  if (!isObject(metadata)) throw new TypeError(`${what}.metadata must be a plain object, got ${describe(metadata)}`)
  if (metadata.tag !== undefined && typeof metadata.tag !== 'string') throw new TypeError(`${what}.metadata.tag must be a string`)
  assertTerm(metadata, `${what}.metadata`)
  return { id, start: [name, args as Term[]], restart: restart as HubRestart, metadata: metadata as Record<string, Term> }
}

/** @internal Validates `Hub.start`'s config and fills ProcessHub's defaults. */
export function normalizeConfig(config: unknown, defined: (name: string) => boolean): NormalConfig {
  if (!isObject(config)) throw new TypeError('Hub.start: expected a config object like { id: "devices" }')
  const { id } = config
  if (typeof id !== 'string' || id.length === 0 || id.length > 255) throw new TypeError(`Hub.start: id must be a string of 1-255 characters, got ${describe(id)}`)
  const guided = strategy(config.distribution, 'distribution', ['consistent_hashing', 'guided'], [], 'consistent_hashing') === 'guided'
  const replication = strategy(config.redundancy, 'redundancy', ['singularity', 'replication'], [], 'singularity') === 'replication' ? normalizeReplication(config.redundancy as Record<string, unknown>) : null
  const hotSwap = strategy(config.migration, 'migration', ['cold_swap', 'hot_swap'], [], 'cold_swap') === 'hot_swap' ? normalizeHotSwap(config.migration as Record<string, unknown>) : null
  const gossip = strategy(config.sync, 'sync', ['pubsub', 'gossip'], [], 'pubsub') === 'gossip'
  const gossipRecipients = gossip ? count((config.sync as Record<string, unknown>).recipients, 3, 'sync.recipients', 1, 1000) : undefined
  const partition = normalizePartition(config.partition)
  const syncInterval = ms(isObject(config.sync) ? config.sync.interval : undefined, 15_000, 'Hub.start: sync.interval')
  const children = config.children ?? []
  if (!Array.isArray(children)) throw new TypeError(`Hub.start: children must be an array of child specs, got ${describe(children)}`)
  const seen = new Set<string>()
  const normal = children.map((c, i) => {
    const n = normalizeChild(c, `Hub.start: children[${i}]`, defined)
    if (seen.has(n.id)) throw new TypeError(`Hub.start: children[${i}].id '${n.id}' is a duplicate`)
    seen.add(n.id)
    return n
  })
  const hooks: NormalConfig['hooks'] = []
  if (config.hooks !== undefined) {
    if (!isObject(config.hooks)) throw new TypeError('Hub.start: hooks must be an object of { hookName: handler }')
    for (const [name, fn] of Object.entries(config.hooks)) {
      if (!HOOK_NAMES.includes(name as HubHookName)) throw new TypeError(`Hub.start: unknown hook '${name}'; hooks are ${HOOK_NAMES.join(', ')}`)
      if (typeof fn !== 'function') throw new TypeError(`Hub.start: hooks.${name} must be a function`)
      hooks.push([name as HubHookName, fn as (payload: any) => unknown])
    }
  }
  const { maxRestarts = 100, maxSeconds = 4 } = config
  if (typeof maxRestarts !== 'number' || !Number.isInteger(maxRestarts) || maxRestarts < 0) {
    throw new RangeError(`Hub.start: maxRestarts must be an integer ≥ 0, got ${describe(maxRestarts)}`)
  }
  if (typeof maxSeconds !== 'number' || !(maxSeconds > 0) || maxSeconds === Infinity) {
    throw new RangeError(`Hub.start: maxSeconds must be a positive, finite number, got ${describe(maxSeconds)}`)
  }
  ms(config.storagePurgeInterval, 15_000, 'Hub.start: storagePurgeInterval')
  return {
    id,
    guided,
    syncInterval,
    gossipRecipients,
    partition,
    children: normal,
    hooks,
    maxRestarts,
    maxSeconds,
    shutdownTimeout: ms(config.shutdownTimeout, 60_000, 'Hub.start: shutdownTimeout', 0),
    discoverInterval: ms(config.discoverInterval, 60_000, 'Hub.start: discoverInterval'),
    deadlockRecoveryTimeout: ms(config.deadlockRecoveryTimeout, 60_000, 'Hub.start: deadlockRecoveryTimeout'),
    migrationTimeout: ms(config.migrationTimeout, 15_000, 'Hub.start: migrationTimeout'),
    replication,
    hotSwap,
  }
}

function count(value: unknown, fallback: number | undefined, what: string, min: number, max: number): number {
  if (value === undefined) return fallback ?? missing(what)
  if (typeof value !== 'number') throw new TypeError(`Hub.start: ${what} must be a number, got ${describe(value)}`)
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`Hub.start: ${what} must be an integer from ${min} to ${max}, got ${value}`)
  return value
}

function missing(what: string): never {
  throw new TypeError(`Hub.start: ${what} is required`)
}

function flag(value: unknown, fallback: boolean, what: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new TypeError(`Hub.start: ${what} must be a boolean, got ${describe(value)}`)
  return value
}

/** @internal Validates `partition` (ProcessHub's partition-tolerance strategies). */
export function normalizePartition(value: unknown): PartitionStrategy {
  const s = strategy(value, 'partition', ['divergence', 'static_quorum', 'dynamic_quorum', 'majority_quorum'], [], 'divergence')
  const p = (value ?? {}) as Record<string, unknown>
  switch (s) {
    case 'static_quorum':
      return { strategy: s, quorumSize: count(p.quorumSize, undefined, 'partition.quorumSize', 1, 10_000), startupConfirm: flag(p.startupConfirm, false, 'partition.startupConfirm') }
    case 'dynamic_quorum':
      return {
        strategy: s,
        quorumSize: count(p.quorumSize, undefined, 'partition.quorumSize (a percentage)', 1, 100),
        thresholdTime: ms(p.thresholdTime ?? missing('partition.thresholdTime'), 0, 'Hub.start: partition.thresholdTime'),
      }
    case 'majority_quorum':
      return { strategy: s, initialClusterSize: count(p.initialClusterSize, 1, 'partition.initialClusterSize', 1, 10_000), trackMaxSize: flag(p.trackMaxSize, true, 'partition.trackMaxSize') }
    default:
      return { strategy: 'divergence' }
  }
}

const MODES: readonly string[] = ['active_active', 'active_passive']
const SIGNALS: readonly string[] = ['none', 'active', 'passive', 'all']

function normalizeReplication(r: Record<string, unknown>): NormalReplication {
  const { factor = 2, mode = 'active_active' } = r
  if (factor !== 'cluster_size' && (typeof factor !== 'number' || !Number.isInteger(factor) || factor < 1)) {
    throw new TypeError(`Hub.start: redundancy.factor must be an integer ≥ 1 or 'cluster_size', got ${describe(factor)}`)
  }
  if (typeof mode !== 'string' || !MODES.includes(mode)) {
    throw new TypeError(`Hub.start: redundancy.mode must be 'active_active' or 'active_passive', got ${describe(mode)}`)
  }
  const { redundancySignal: signal = mode === 'active_passive' ? 'all' : 'none' } = r
  if (typeof signal !== 'string' || !SIGNALS.includes(signal)) {
    throw new TypeError(`Hub.start: redundancy.redundancySignal must be 'none', 'active', 'passive' or 'all', got ${describe(signal)}`)
  }
  return { factor: factor as number | 'cluster_size', mode: mode as NormalReplication['mode'], signal: signal as NormalReplication['signal'] }
}

function normalizeHotSwap(m: Record<string, unknown>): { retention: number; handover: boolean } {
  const { handover = false } = m
  if (typeof handover !== 'boolean') throw new TypeError(`Hub.start: migration.handover must be a boolean, got ${describe(handover)}`)
  return { retention: ms(m.retention, 5000, 'Hub.start: migration.retention', 0), handover }
}

/** @internal Validated start options. */
export interface NormalStartOptions {
  await: boolean
  timeout: number
  checkExisting: boolean
  rollback: boolean
  nodes: string[] | undefined
}

/** @internal */
export function normalizeStartOptions(opts: unknown, what: string): NormalStartOptions {
  if (opts === undefined) return { await: true, timeout: 5000, checkExisting: true, rollback: false, nodes: undefined }
  if (!isObject(opts)) throw new TypeError(`${what}: options must be an object`)
  const { await: wait = true, checkExisting = true, onFailure = 'continue', nodes } = opts
  if (typeof wait !== 'boolean') throw new TypeError(`${what}: await must be a boolean, got ${describe(wait)}`)
  if (typeof checkExisting !== 'boolean') throw new TypeError(`${what}: checkExisting must be a boolean, got ${describe(checkExisting)}`)
  if (onFailure !== 'continue' && onFailure !== 'rollback') {
    throw new TypeError(`${what}: onFailure must be 'continue' or 'rollback', got ${describe(onFailure)}`)
  }
  if (nodes !== undefined && (!Array.isArray(nodes) || nodes.some((n) => typeof n !== 'string' || n.length === 0))) {
    throw new TypeError(`${what}: nodes must be an array of node names`)
  }
  return { await: wait, timeout: ms(opts.timeout, 5000, `${what}: timeout`), checkExisting, rollback: onFailure === 'rollback', nodes: nodes as string[] | undefined }
}

/** @internal */
export function normalizeStopOptions(opts: unknown, what: string): { await: boolean; timeout: number } {
  if (opts === undefined) return { await: true, timeout: 5000 }
  if (!isObject(opts)) throw new TypeError(`${what}: options must be an object`)
  const { await: wait = true } = opts
  if (typeof wait !== 'boolean') throw new TypeError(`${what}: await must be a boolean, got ${describe(wait)}`)
  return { await: wait, timeout: ms(opts.timeout, 5000, `${what}: timeout`) }
}
