/**
 * The name of this node. Until a cluster starts it is `'nonode@nohost'`
 * (Erlang's name for an undistributed node); the cluster sets it.
 * @module
 */

const NO_NODE = 'nonode@nohost'
let current = NO_NODE
/** Every name this program has had: its pids, encoded under any of them, are its own. */
const ownNames = new Set<string>([NO_NODE])

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
  ownNames.add(name)
}

/** @internal Whether this program has been called `name` (now or before). */
export function wasOwnName(name: string): boolean {
  return ownNames.has(name)
}
