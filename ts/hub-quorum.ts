/**
 * The hub's partition-tolerance rules (ProcessHub's strategies) as a pure,
 * deterministic state machine: its inputs are membership events and timer
 * ticks carrying `now`, its output is whether this node is partitioned. No
 * clock, socket or hub is touched here (ARCHITECTURE.md, The hub), so the
 * rules are property-tested with simulated time (test/hub-quorum.test.ts).
 *
 * `members` is always the number of hub members this node sees, itself
 * included (partitioned members count: they are reachable, just idle).
 * @module
 */

/** `partition` in `Hub.start`'s config, validated. */
export type PartitionStrategy =
  /** Never partitioned: both sides of a split keep running; the heal rule reconciles duplicates. */
  | { strategy: 'divergence' }
  /** Partitioned while fewer than `quorumSize` members are seen. */
  | { strategy: 'static_quorum'; quorumSize: number; startupConfirm: boolean }
  /** Partitioned while members / (members + members lost in the last `thresholdTime` ms) is below `quorumSize` %. */
  | { strategy: 'dynamic_quorum'; quorumSize: number; thresholdTime: number }
  /** Partitioned while members are not a strict majority of the largest membership seen (at least `initialClusterSize`). */
  | { strategy: 'majority_quorum'; initialClusterSize: number; trackMaxSize: boolean }

/** The quorum rules' state for one hub on one node. */
export class Quorum {
  readonly #cfg: PartitionStrategy
  #partitioned: boolean
  /** majority_quorum: the largest membership seen (or configured). */
  #maxSize: number
  /** dynamic_quorum: member → when it was lost, for losses still inside `thresholdTime`. */
  readonly #lost = new Map<string, number>()
  #members: number

  /** The state of a hub that starts at `now` seeing `members` members. */
  constructor(cfg: PartitionStrategy, members: number, now: number) {
    this.#cfg = cfg
    this.#members = members
    this.#maxSize = cfg.strategy === 'majority_quorum' ? Math.max(cfg.initialClusterSize, cfg.trackMaxSize ? members : 0) : 0
    // static_quorum only judges at startup if asked to (ProcessHub's startup_confirm).
    this.#partitioned = cfg.strategy === 'static_quorum' ? cfg.startupConfirm && members < cfg.quorumSize : this.#judge(now)
  }

  /** Whether this node is below quorum. */
  get partitioned(): boolean {
    return this.#partitioned
  }

  /** majority_quorum: the membership size the majority is computed from (0 for other strategies). */
  get maxSize(): number {
    return this.#maxSize
  }

  /** A member joined (or came back); `members` is the new count. Returns `partitioned`. */
  memberUp(node: string, members: number, now: number): boolean {
    this.#members = members
    this.#lost.delete(node)
    if (this.#cfg.strategy === 'majority_quorum' && this.#cfg.trackMaxSize) this.#maxSize = Math.max(this.#maxSize, members)
    if (this.#cfg.strategy === 'static_quorum') {
      // Joins only ever restore quorum; they never take a healthy hub down.
      if (members >= this.#cfg.quorumSize) this.#partitioned = false
      return this.#partitioned
    }
    this.#partitioned = this.#judge(now)
    return this.#partitioned
  }

  /**
   * A member was lost (`graceful`: it left with `hub.stop()`, an intentional
   * downsize, so it is not counted against quorum by the dynamic and majority
   * strategies); `members` is the new count. Returns `partitioned`.
   */
  memberDown(node: string, members: number, now: number, graceful = false): boolean {
    this.#members = members
    if (this.#cfg.strategy === 'dynamic_quorum' && !graceful) this.#lost.set(node, now)
    if (this.#cfg.strategy === 'majority_quorum' && graceful && this.#cfg.trackMaxSize) {
      this.#maxSize = Math.max(this.#cfg.initialClusterSize, this.#maxSize - 1, members)
    }
    if (this.#cfg.strategy === 'static_quorum') {
      this.#partitioned = members < this.#cfg.quorumSize
      return this.#partitioned
    }
    this.#partitioned = this.#judge(now)
    return this.#partitioned
  }

  /** Time passed (dynamic_quorum's losses expire). Returns `partitioned`. */
  tick(now: number): boolean {
    if (this.#cfg.strategy === 'dynamic_quorum') this.#partitioned = this.#judge(now)
    return this.#partitioned
  }

  /**
   * An operator's intentional downsize: majority_quorum forgets the larger
   * membership it remembered (the current one becomes the size a majority
   * is counted from); dynamic_quorum forgets its recent losses. Returns
   * `partitioned`.
   */
  reset(members: number, now: number): boolean {
    this.#members = members
    this.#lost.clear()
    if (this.#cfg.strategy === 'majority_quorum') this.#maxSize = members
    if (this.#cfg.strategy === 'static_quorum') return this.#partitioned
    this.#partitioned = this.#judge(now)
    return this.#partitioned
  }

  /** When the next loss expires (dynamic_quorum), for the driver's timer; undefined if none. */
  nextExpiry(): number | undefined {
    if (this.#cfg.strategy !== 'dynamic_quorum') return undefined
    let first: number | undefined
    for (const t of this.#lost.values()) if (first === undefined || t < first) first = t
    return first === undefined ? undefined : first + this.#cfg.thresholdTime
  }

  #judge(now: number): boolean {
    const cfg = this.#cfg
    switch (cfg.strategy) {
      case 'divergence':
        return false
      case 'static_quorum':
        return this.#members < cfg.quorumSize
      case 'dynamic_quorum': {
        for (const [n, t] of this.#lost) if (now - t >= cfg.thresholdTime) this.#lost.delete(n)
        // Integer arithmetic: members / (members + lost) < quorumSize %.
        return this.#members * 100 < cfg.quorumSize * (this.#members + this.#lost.size)
      }
      case 'majority_quorum':
        return this.#members < Math.floor(this.#maxSize / 2) + 1
    }
  }
}
