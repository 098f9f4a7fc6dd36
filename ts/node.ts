/**
 * The name of this node. Until a cluster starts it is `'nonode@nohost'`
 * (Erlang's name for an undistributed node); the cluster sets it.
 * @module
 */

const NO_NODE = 'nonode@nohost'
let current = NO_NODE

/** This node's name: `'nonode@nohost'` before `cluster.start()`, then `'name@host:port'`. */
export function node(): string {
  return current
}

/**
 * Sets this node's name (the cluster calls it on start, and with no argument
 * on stop). Local pids follow the name: they always report the current one.
 * @internal
 */
export function setNodeName(name: string = NO_NODE): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('a node name must be a non-empty string')
  current = name
}
