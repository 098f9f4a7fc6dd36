/**
 * Versions for the hub's registry sync, and the gossip strategy's choice of
 * recipients. Pure: no clock, socket or hub here (the driver passes the
 * incarnation and the random source), so the rules are tested directly.
 *
 * Each node is the only writer of its own entries (docs/hub.md, rule 1), so
 * one version per node suffices: `[incarnation, counter]`, where the
 * incarnation is fixed when the hub starts (a restarted node's versions
 * are all newer than its previous life's) and the counter counts the
 * node's change batches. A full list of node `n`'s children labelled `v`
 * replaces a receiver's copy only if `v` is newer than the version that
 * copy is known to be complete at, so stale data never overwrites newer.
 * @module
 */

/** A node's registry version: `[incarnation, counter]`, compared in that order. */
export type Version = [incarnation: number, counter: number]

/** Whether `a` is newer than `b` (anything is newer than `undefined`). */
export function newer(a: Version, b: Version | undefined): boolean {
  if (b === undefined) return true
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])
}

/** Whether `v` is a well-formed version (wire validation). */
export function isVersion(v: unknown): v is Version {
  return Array.isArray(v) && v.length === 2 && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)
}

/**
 * This node's own version, and for every other member the version up to
 * which this node's copy of its entries is known to be complete.
 */
export class VersionBook {
  #own: Version
  readonly #known = new Map<string, Version>()

  /** `incarnation`: a number larger than any earlier life of this node's hub (the start time in ms). */
  constructor(incarnation: number) {
    this.#own = [incarnation, 0]
  }

  /** This node's current version. */
  get own(): Version {
    return this.#own
  }

  /** One batch of changes to this node's entries: the version it is sent with. */
  bump(): Version {
    this.#own = [this.#own[0], this.#own[1] + 1]
    return this.#own
  }

  /** What this node's copy of `node`'s entries is complete at (undefined: no full list yet). */
  known(node: string): Version | undefined {
    return this.#known.get(node)
  }

  /**
   * A batch of changes from `node` itself, at `v`; returns whether to apply
   * it (false if a newer full list already covered it). Only the next batch
   * in sequence advances the known version: after a gap (a lost batch) it
   * stays where the copy was last complete, so the next full list repairs it.
   */
  update(node: string, v: Version): boolean {
    const k = this.#known.get(node)
    if (k === undefined) return true
    if (!newer(v, k)) return false
    if (v[0] === k[0] && v[1] === k[1] + 1) this.#known.set(node, v)
    return true
  }

  /** `node`'s full list from `node` itself, at `v`: always the newest (it arrives in order after its updates). */
  direct(node: string, v: Version): void {
    this.#known.set(node, v)
  }

  /**
   * `node`'s full list at `v`, relayed by a third node. Returns whether it
   * is newer than this node's copy (then the copy is replaced by it, and
   * known at `v`); an older or equal one is ignored.
   */
  relayed(node: string, v: Version): boolean {
    if (!newer(v, this.#known.get(node))) return false
    this.#known.set(node, v)
    return true
  }

  /** `node` left the hub or was lost: its entries are gone here. */
  forget(node: string): void {
    this.#known.delete(node)
  }
}

/** Up to `k` distinct members of `peers` chosen at random with `random` (a `[0, 1)` source). */
export function pickRecipients(peers: readonly string[], k: number, random: () => number): string[] {
  const pool = [...peers]
  const n = Math.min(k, pool.length)
  // A partial Fisher–Yates shuffle: the first n slots are the sample.
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i))
    ;[pool[i], pool[j]] = [pool[j]!, pool[i]!]
  }
  return pool.slice(0, n)
}
