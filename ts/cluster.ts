/**
 * The cluster: start this process as a named node, connect to others over
 * QUIC (authenticated by a shared cookie or mutual TLS), and learn when
 * nodes come and go. Remote send/link/monitor and RPC build on this later.
 * @module
 */
import { ConnectionError } from './errors.js'
import {
  type NodeEvent,
  type NodeEventInfo,
  type NodeEventListener,
  addListener,
  checkEvent,
  emit,
  removeListener,
} from './cluster-events.js'
import { type ClusterFaults, createFaults } from './cluster-faults.js'
import { dispatchFrames, nodeDown, nodeUp, setFrameSender } from './cluster-frames.js'
import { log } from './logger.js'
import { native } from './native.js'
import { setNodeName } from './node.js'

export type { NodeEvent, NodeEventInfo, NodeEventListener } from './cluster-events.js'
export type { ClusterFaults } from './cluster-faults.js'

/** Certificates for mutual TLS, all PEM. */
export interface ClusterTlsOptions {
  /** This node's certificate chain. */
  cert: string
  /** This node's private key (PKCS#8, PKCS#1 or SEC1). */
  key: string
  /** The CA certificate(s) peers' certificates must chain to. */
  ca: string
}

/** What {@link cluster.start} takes. */
export interface ClusterOptions {
  /** The short name, the part before `@`: 1-64 letters, digits, `_`, `-` or `.`. */
  name: string
  /** The address to listen on, also the host peers dial. Default `'127.0.0.1'`. */
  host?: string
  /** The UDP port; 0 (the default) picks a free one, shown by `node()`. */
  port?: number
  /** The shared secret every node of the cluster must have. Required unless `tls` is given. */
  cookie?: string
  /** Mutual TLS with your own certificates instead of a cookie. */
  tls?: ClusterTlsOptions
  /** Nodes (`'name@host:port'`) to connect to once listening; the rest of the mesh is learnt from them. */
  seeds?: string[]
  /** Milliseconds between heartbeats. Default 1000. */
  heartbeatInterval?: number
  /** Milliseconds of silence after which a peer is declared down. Default 3000; must exceed the interval. */
  heartbeatTimeout?: number
  /** Milliseconds to keep trying to reconnect to a peer lost to a fault (backoff up to 5 s). Default 60000; 0 disables. */
  reconnectFor?: number
}

interface NativeOutcome {
  error?: string | null
  message?: string | null
  name?: string | null
  seedErrors?: string[]
}

interface NativeEvent {
  type: string
  node: string
  id?: number | null
  reason?: string | null
  level?: string | null
  message?: string | null
  payload?: Uint8Array | null
}

interface Running {
  handle: InstanceType<typeof native.ClusterNode>
  stopped: Promise<void>
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/
const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}@.+:\d{1,5}$/
const MAX_MS = 2 ** 31 - 1

let state: 'idle' | 'starting' | 'running' | 'stopping' = 'idle'
let running: Running | undefined
let stopping: Promise<void> | undefined
let starting: Promise<void> | undefined
let batchesDelivered = 0

/** @internal How many event batches the binding has delivered (for tests of batching). */
export function eventBatchCount(): number {
  return batchesDelivered
}

function checkMs(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw new TypeError(`cluster.start: ${what} must be a number of milliseconds`)
  if (!Number.isInteger(value) || value < 1 || value > MAX_MS) {
    throw new RangeError(`cluster.start: ${what} must be an integer from 1 to ${MAX_MS} ms, got ${value}`)
  }
  return value
}

function checkOptions(options: ClusterOptions): Parameters<InstanceType<typeof native.ClusterNode>['start']>[0] {
  if (typeof options !== 'object' || options === null) throw new TypeError('cluster.start: expected an options object')
  const { name, host = '127.0.0.1', port = 0, cookie, tls, seeds = [] } = options
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`cluster.start: name must be 1-64 letters, digits, '_', '-' or '.', got ${JSON.stringify(name)}`)
  }
  if (typeof host !== 'string' || host.length === 0) throw new TypeError('cluster.start: host must be a non-empty string')
  if (typeof port !== 'number') throw new TypeError('cluster.start: port must be a number')
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`cluster.start: port must be an integer from 0 to 65535, got ${port}`)
  }
  if (cookie !== undefined && (typeof cookie !== 'string' || cookie.length === 0)) {
    throw new TypeError('cluster.start: cookie must be a non-empty string')
  }
  if (tls !== undefined) {
    if (typeof tls !== 'object' || tls === null) throw new TypeError('cluster.start: tls must be { cert, key, ca }')
    for (const k of ['cert', 'key', 'ca'] as const) {
      if (typeof tls[k] !== 'string' || tls[k].length === 0) throw new TypeError(`cluster.start: tls.${k} must be a PEM string`)
    }
    if (cookie !== undefined) throw new TypeError('cluster.start: give either a cookie or tls, not both')
  } else if (cookie === undefined) {
    // Never an unauthenticated listener, and no silent random cookie either:
    // a node nobody can join is rarely what was meant.
    throw new TypeError('cluster.start: a cookie (or tls: { cert, key, ca }) is required; nodes never run unauthenticated')
  }
  if (!Array.isArray(seeds)) throw new TypeError('cluster.start: seeds must be an array of node names')
  for (const s of seeds) {
    if (typeof s !== 'string' || !NODE_NAME.test(s)) {
      throw new TypeError(`cluster.start: seed ${JSON.stringify(s)} is not a node name like 'a@127.0.0.1:4370'`)
    }
  }
  const interval = checkMs(options.heartbeatInterval, 'heartbeatInterval')
  const timeout = checkMs(options.heartbeatTimeout, 'heartbeatTimeout')
  if ((timeout ?? 3000) <= (interval ?? 1000)) {
    throw new RangeError('cluster.start: heartbeatTimeout must be greater than heartbeatInterval')
  }
  const reconnectFor = options.reconnectFor === 0 ? 0 : checkMs(options.reconnectFor, 'reconnectFor')
  return {
    name,
    host,
    port,
    seeds: [...seeds],
    ...(cookie !== undefined && { cookie }),
    ...(tls !== undefined && { tlsCert: tls.cert, tlsKey: tls.key, tlsCa: tls.ca }),
    ...(interval !== undefined && { heartbeatIntervalMs: interval }),
    ...(timeout !== undefined && { heartbeatTimeoutMs: timeout }),
    ...(reconnectFor !== undefined && { reconnectForMs: reconnectFor }),
  }
}

function startError(out: NativeOutcome): Error {
  const message = `cluster.start: ${out.message ?? out.error}`
  return out.error === 'config' || out.error === 'tls' || out.error === 'address'
    ? new TypeError(message)
    : new Error(message)
}

function start(options: ClusterOptions): Promise<void> {
  try {
    const config = checkOptions(options)
    if (state !== 'idle') throw new Error(`cluster.start: the cluster is already ${state === 'stopping' ? 'stopping' : 'started'}`)
    state = 'starting'
    starting = startWith(config)
    return starting
  } catch (error) {
    return Promise.reject(error)
  }
}

/** nodedown reasons that are someone's decision, not a fault worth a warning. */
const ORDERLY = new Set(['closed', 'disconnect', 'stopped'])

async function startWith(config: ReturnType<typeof checkOptions>): Promise<void> {
  const handle = new native.ClusterNode()
  // A JS package and a platform binary from different builds (a stale
  // local build, or mismatched package versions) would fail obscurely later.
  if (typeof (handle as { sendBatch?: unknown }).sendBatch !== 'function') {
    state = 'idle'
    throw new Error('cluster.start: the native addon is older than this JavaScript (no ClusterNode.sendBatch); rebuild it with `npm run build`, or reinstall ironwood so that its platform package matches')
  }
  let onStopped!: () => void
  const stopped = new Promise<void>((resolve) => (onStopped = resolve))
  const onEvents = (batch: NativeEvent[]): void => {
    batchesDelivered++
    for (const e of batch) {
      if (e.type === 'frames') {
        if (e.payload != null) dispatchFrames(e.payload)
      } else if (e.type === 'nodeup') {
        nodeUp(e.node, e.id ?? -1)
        emit('nodeup', e.node, {})
      } else if (e.type === 'nodedown') {
        nodeDown(e.node)
        const reason = e.reason ?? 'unknown'
        if (!ORDERLY.has(reason)) log({ level: 'warn', message: `cluster: node ${e.node} is down: ${reason}` })
        emit('nodedown', e.node, { reason })
      } else if (e.type === 'log') {
        // The transport explains what it did (e.g. why it closed a peer).
        log({ level: e.level === 'error' ? 'error' : 'warn', message: `cluster: ${e.message ?? ''}` })
      } else if (e.type === 'stopped') onStopped()
    }
  }
  let out: NativeOutcome
  // Set before start settles: a peer may call in while seeds are still dialed.
  setFrameSender(handle)
  try {
    out = (await handle.start(config, onEvents)) as NativeOutcome
  } catch (error) {
    setFrameSender(undefined)
    state = 'idle'
    throw error
  }
  if (out.error != null || out.name == null) {
    setFrameSender(undefined)
    state = 'idle'
    throw startError(out)
  }
  running = { handle, stopped }
  state = 'running'
  setNodeName(out.name)
  for (const e of out.seedErrors ?? []) log({ level: 'warn', message: `cluster.start: could not connect to seed ${e}` })
}

async function stop(): Promise<void> {
  if (state === 'starting') await starting?.catch(() => {})
  if (state === 'stopping') return stopping
  if (state !== 'running' || running === undefined) return
  const { handle, stopped } = running
  state = 'stopping'
  stopping = (async () => {
    setFrameSender(undefined)
    handle.stop()
    await stopped
    running = undefined
    setNodeName()
    state = 'idle'
  })()
  return stopping
}

function checkNodeName(nodeName: unknown, what: string): asserts nodeName is string {
  if (typeof nodeName !== 'string' || nodeName.length === 0) {
    throw new TypeError(`${what}: expected a node name like 'a@127.0.0.1:4370'`)
  }
}

async function connect(nodeName: string): Promise<boolean> {
  checkNodeName(nodeName, 'cluster.connect')
  if (running === undefined || state !== 'running') {
    throw new ConnectionError(`cluster.connect: the cluster is not started (call cluster.start first)`, nodeName)
  }
  const out = (await running.handle.connect(nodeName)) as NativeOutcome
  if (out.error == null) return true
  if (out.error === 'address') throw new TypeError(`cluster.connect: ${out.message}`)
  log({ level: 'warn', message: `cluster.connect(${nodeName}) failed: ${out.message ?? out.error}` })
  return false
}

function disconnect(nodeName: string): boolean {
  checkNodeName(nodeName, 'cluster.disconnect')
  return running !== undefined && state === 'running' && running.handle.disconnect(nodeName)
}

/**
 * @internal Dials `nodeName` in the background and ignores the outcome (no
 * log): the hub's periodic re-dial of members it lost (docs/hub.md).
 */
export function redial(nodeName: string): void {
  if (running === undefined || state !== 'running') return
  running.handle.connect(nodeName).catch(() => {})
}

/** The connected nodes (authenticated, not down), this node excluded, sorted. `[]` before start. */
export function nodes(): string[] {
  return running === undefined ? [] : running.handle.nodes()
}

/**
 * The cluster control API. Events are delivered in batches from the Rust
 * runtime; each listener is called once per event, in order.
 */
export const cluster = {
  /**
   * Starts this process as node `name@host:port` and resolves once it is
   * listening and its seeds have been dialed (a seed that cannot be reached
   * is not an error). Throws TypeError/RangeError for bad options (a cookie
   * or `tls` is required), and an Error if already started or the port is taken.
   */
  start,
  /**
   * Connects to a node (`'name@host:port'`). Resolves true once it is
   * connected and authenticated, false if it cannot be reached or refuses
   * our cookie (the reason is logged).
   */
  connect,
  /** Closes the connection to a node; whether it was connected. */
  disconnect,
  /**
   * Stops the node: peers see it go down, `nodedown` fires here with reason
   * `'stopped'` for every peer, and `node()` is `'nonode@nohost'` again.
   * Resolves after the last event; a stopped cluster keeps nothing alive.
   */
  stop,
  /** Adds a `'nodeup'` or `'nodedown'` listener. */
  on(event: NodeEvent, listener: NodeEventListener): void {
    checkEvent(event, listener, 'cluster.on')
    addListener(event, listener)
  },
  /** Removes a listener; whether it was registered. */
  off(event: NodeEvent, listener: NodeEventListener): boolean {
    checkEvent(event, listener, 'cluster.off')
    return removeListener(event, listener)
  },
  /**
   * Fault injection for partition tests: `block(nodes)` drops all traffic
   * with those peers below QUIC (both sides see `nodedown`
   * `'heartbeat_timeout'`), `unblock(nodes?)` restores it and redials,
   * `blocked()` lists them. See docs/cluster.md.
   */
  faults: createFaults(() => (state === 'running' ? running?.handle : undefined)) as ClusterFaults,
}
