/**
 * The cluster's `nodeup` / `nodedown` listeners. The binding delivers events
 * in batches (one JS callback per batch); this file fans each event out to
 * the listeners, in order, isolating a throwing listener from the others.
 * @internal
 * @module
 */
import { log } from './logger.js'

/** The events `cluster.on` accepts. */
export type NodeEvent = 'nodeup' | 'nodedown'

/** What a `nodeup` / `nodedown` listener receives besides the node name. */
export interface NodeEventInfo {
  /**
   * Why the node went down (`nodedown` only): `'closed'` (the peer stopped or
   * disconnected), `'disconnect'` (this node called `cluster.disconnect`),
   * `'stopped'` (this node stopped), `'heartbeat_timeout'`,
   * `'connection_timeout'`, `'connection_lost'`, or a protocol error such as
   * `'protocol_error'` or `'frame_too_large'`.
   */
  reason?: string
}

/** A `nodeup` / `nodedown` listener. */
export type NodeEventListener = (node: string, info: NodeEventInfo) => void

const listeners: Record<NodeEvent, Set<NodeEventListener>> = { nodeup: new Set(), nodedown: new Set() }

/** Throws a TypeError unless `event` is `'nodeup'` or `'nodedown'`. */
export function checkEvent(event: unknown, fn: unknown, what: string): asserts event is NodeEvent {
  if (event !== 'nodeup' && event !== 'nodedown') {
    throw new TypeError(`${what}: event must be 'nodeup' or 'nodedown', got ${String(event)}`)
  }
  if (typeof fn !== 'function') throw new TypeError(`${what}: listener must be a function`)
}

/** Adds a listener (adding the same one twice keeps one). */
export function addListener(event: NodeEvent, fn: NodeEventListener): void {
  listeners[event].add(fn)
}

/** Removes a listener; whether it was there. */
export function removeListener(event: NodeEvent, fn: NodeEventListener): boolean {
  return listeners[event].delete(fn)
}

/** Calls every listener of `event`. */
export function emit(event: NodeEvent, node: string, info: NodeEventInfo): void {
  for (const fn of [...listeners[event]]) {
    try {
      fn(node, info)
    } catch (error) {
      log({ level: 'error', message: `a cluster '${event}' listener threw`, error })
    }
  }
}
