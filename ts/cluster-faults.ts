/**
 * Fault injection for partition tests: cut this node off from chosen peers
 * below QUIC (every UDP datagram to and from them is dropped, in both
 * directions) and restore them. A cut peer is not closed: heartbeats stop,
 * both sides see `nodedown` with reason `'heartbeat_timeout'` after the
 * heartbeat timeout, and dials across the cut time out, exactly as behind a
 * pulled cable. For tests only; never needed in production.
 * @module
 */
import { ConnectionError } from './errors.js'
import type { native } from './native.js'

type Handle = InstanceType<typeof native.ClusterNode>

/** The fault-injection controls, reached as `cluster.faults`. */
export interface ClusterFaults {
  /**
   * Drops all traffic between this node and `nodes` (`'name@host:port'`,
   * one or an array) from now on. Blocking on one side is enough. Other
   * peers are unaffected. Throws TypeError for a malformed name and
   * `ConnectionError` if the cluster is not started.
   */
  block(nodes: string | string[]): void
  /**
   * Restores traffic with `nodes` (all blocked nodes when omitted) and dials
   * any that is not connected, so the link heals at once whatever the
   * split's length; with `{ redial: false }` it only restores traffic, and
   * the transport's reconnection (or the hub's re-dial of lost members)
   * must bring the peer back. Returns the nodes that were blocked.
   */
  unblock(nodes?: string | string[], options?: { redial?: boolean }): string[]
  /** The nodes currently blocked, sorted. */
  blocked(): string[]
}

const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}@.+:\d{1,5}$/

function names(nodes: unknown, what: string): string[] {
  const list = typeof nodes === 'string' ? [nodes] : nodes
  if (!Array.isArray(list) || list.some((n) => typeof n !== 'string' || !NODE_NAME.test(n))) {
    throw new TypeError(`${what}: expected a node name like 'a@127.0.0.1:4370' or an array of them`)
  }
  return list as string[]
}

/** A stale local build of the addon (from before fault injection) would fail obscurely. */
function checkAddon(h: Handle): void {
  if (typeof (h as { block?: unknown }).block !== 'function') {
    throw new Error('cluster.faults: the native addon is older than this JavaScript (no ClusterNode.block); rebuild it with `npm run build`')
  }
}

/** @internal The controls over the running node `handle()` (undefined when not started). */
export function createFaults(handle: () => Handle | undefined): ClusterFaults {
  return {
    block(nodes) {
      const list = names(nodes, 'cluster.faults.block')
      const h = handle()
      if (h === undefined) throw new ConnectionError('cluster.faults.block: the cluster is not started', list[0] ?? '')
      checkAddon(h)
      for (const n of list) {
        const error = h.block(n)
        if (error != null) throw new TypeError(`cluster.faults.block(${n}): ${error}`)
      }
    },
    unblock(nodes, options) {
      const redial = options?.redial ?? true
      if (typeof redial !== 'boolean') throw new TypeError('cluster.faults.unblock: options.redial must be a boolean')
      const h = handle()
      if (h === undefined) return []
      checkAddon(h)
      const list = nodes === undefined ? h.blocked() : names(nodes, 'cluster.faults.unblock')
      return list.filter((n) => h.unblock(n, redial))
    },
    blocked() {
      const h = handle()
      if (h === undefined) return []
      checkAddon(h)
      return h.blocked()
    },
  }
}
