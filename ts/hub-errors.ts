/**
 * What `hub.startChild` / `hub.stopChild` throw when the hub refuses or a
 * child fails, besides the shared `TimeoutError` (a node did not answer in
 * time) and `ConnectionError` (the node went down or is not connected).
 * @module
 */
import type { Pid } from './pid.js'

/** Why a hub operation failed for one child. */
export type HubErrorCode =
  /** The id already runs somewhere in the cluster (`node`, `pid` say where). */
  | 'EALREADYSTARTED'
  /** No child with that id is registered. */
  | 'ENOTFOUND'
  /** The child's `init` threw, or its node could not start it. */
  | 'ESTARTFAILED'
  /** `guided` distribution: none of the `nodes` given is a member of the hub. */
  | 'EBADNODES'
  /** The hub is partitioned on that node (below quorum under a quorum `partition` strategy): nothing starts until quorum returns. */
  | 'EPARTITIONED'
  /** `hub.promote()` before `cluster.start`: this node has no cluster name yet. */
  | 'ENOTALIVE'

/** A hub operation failed for one child; `code` says why. */
export class HubError extends Error {
  /** Why it failed. */
  readonly code: HubErrorCode
  /** The child id. */
  readonly id: string
  /** Where the child runs (EALREADYSTARTED) or the node that failed it. */
  readonly node: string | undefined
  /** The running child's pid (EALREADYSTARTED). */
  readonly pid: Pid | undefined

  constructor(code: HubErrorCode, message: string, id: string, node?: string, pid?: Pid) {
    super(message)
    this.name = 'HubError'
    this.code = code
    this.id = id
    this.node = node
    this.pid = pid
  }
}
