/**
 * Process hub figures for `metrics.snapshot()` (ts/metrics.ts). A hub is
 * watched once `metrics.watchHub(hub)` is called on a node: its hooks count
 * migrations and restarts (one integer add per event, on paths the hub
 * already runs), and the local children are counted when a snapshot is
 * taken. Watching goes through the hub's public hooks, so the hub itself
 * carries no metrics code.
 *
 * Internal: not exported from the package root. (Not tagged internal here:
 * with `stripInternal` the tag would also drop the `Hub` import, the first
 * statement, from the emitted .d.ts that still uses it.)
 * @module
 */
import type { Hub } from './hub.js'

/** How many recent moves a watched hub remembers. */
const RECENT_MOVES = 20

/** One recent change of where a hub's children run. */
export interface HubMove {
  /** ms since the epoch. */
  time: number
  /**
   * `'migrated_in'`: children arrived here from `node`; `'forwarded'`:
   * children were handed from here to `node`; `'nodeup'`/`'nodedown'`: a
   * redistribution for `node` joining or leaving finished here.
   */
  kind: 'migrated_in' | 'forwarded' | 'nodeup' | 'nodedown'
  node: string
  /** Children moved (0 for a redistribution). */
  count: number
}

/** A watched hub as a snapshot reports it. */
export interface HubMetrics {
  /** The hub's id. */
  id: string
  /** Children running on this node. */
  localChildren: number
  /** Children on each node of the hub, as this node's registry knows them. */
  childrenByNode: Record<string, number>
  /** Children that arrived here by migration, since watching began. */
  migrations: number
  /** Local children restarted by the hub's supervisor, since watching began. */
  restarts: number
  /** The latest moves, oldest first. */
  recentMoves: HubMove[]
}

interface Watched {
  hub: Hub
  migrations: number
  restarts: number
  moves: HubMove[]
  handlers: Array<[Parameters<Hub['off']>[0], string]>
}

const watched = new Map<Hub, Watched>()

function remember(w: Watched, move: HubMove): void {
  w.moves.push(move)
  if (w.moves.length > RECENT_MOVES) w.moves.shift()
}

/** @internal Starts counting `hub`'s events; returns a function that stops. Idempotent. */
export function watchHub(hub: Hub): () => void {
  if (watched.has(hub)) return () => unwatchHub(hub)
  const w: Watched = { hub, migrations: 0, restarts: 0, moves: [], handlers: [] }
  w.handlers.push(
    [
      'childrenMigrated',
      hub.on('childrenMigrated', ({ node, ids }) => {
        w.migrations += ids.length
        remember(w, { time: Date.now(), kind: 'migrated_in', node, count: ids.length })
      }),
    ],
    ['forwardedMigration', hub.on('forwardedMigration', ({ ids, to }) => remember(w, { time: Date.now(), kind: 'forwarded', node: to, count: ids.length }))],
    ['childPidUpdate', hub.on('childPidUpdate', () => void w.restarts++)],
    ['postRedistribution', hub.on('postRedistribution', ({ event, node }) => remember(w, { time: Date.now(), kind: event, node, count: 0 }))],
  )
  watched.set(hub, w)
  return () => unwatchHub(hub)
}

/** Stops watching `hub`; whether it was watched. Public as `metrics.unwatchHub`, so not internal. */
export function unwatchHub(hub: Hub): boolean {
  const w = watched.get(hub)
  if (w === undefined) return false
  for (const [name, id] of w.handlers) hub.off(name, id)
  watched.delete(hub)
  return true
}

/** @internal Every watched hub that is still alive, now. */
export function hubMetrics(): HubMetrics[] {
  const out: HubMetrics[] = []
  for (const [hub, w] of watched) {
    if (!hub.isAlive()) {
      unwatchHub(hub)
      continue
    }
    const childrenByNode: Record<string, number> = {}
    for (const c of hub.processList('global')) for (const n of c.nodes) childrenByNode[n.node] = (childrenByNode[n.node] ?? 0) + 1
    let localChildren = 0
    for (const g of hub.whichChildren('local')) localChildren += g.children.length
    out.push({ id: hub.id, localChildren, childrenByNode, migrations: w.migrations, restarts: w.restarts, recentMoves: [...w.moves] })
  }
  return out
}
