/**
 * The hub's placement: which node owns a child id, by rendezvous hashing in
 * the Rust core (`crates/core/src/ring.rs`). The same membership gives the
 * same owners on every node, and a join or leave moves only the children
 * whose owner changed (≈ 1/N of them). See docs/hub.md.
 * @module
 */
import { native } from './native.js'

const NO_OWNER = 0xffffffff
const utf8 = new TextEncoder()

/** A set of node names and the owners it gives to child ids. */
export class HubRing {
  readonly #ring: InstanceType<typeof native.HashRing>
  // The native member list, cached: indices from native calls point into it.
  #names: string[]

  /** A ring over `nodes` (order and duplicates do not matter). */
  constructor(nodes: Iterable<string> = []) {
    const list = [...nodes]
    for (const n of list) checkNode(n)
    this.#ring = new native.HashRing(list)
    this.#names = this.#ring.nodes()
  }

  /** Adds a node; false if it was already a member. */
  add(node: string): boolean {
    checkNode(node)
    const added = this.#ring.add(node)
    if (added) this.#names = this.#ring.nodes()
    return added
  }

  /** Removes a node; false if it was not a member. */
  remove(node: string): boolean {
    checkNode(node)
    const removed = this.#ring.remove(node)
    if (removed) this.#names = this.#ring.nodes()
    return removed
  }

  /** Whether `node` is a member. */
  has(node: string): boolean {
    return this.#names.includes(node)
  }

  /** The members, sorted. */
  nodes(): string[] {
    return [...this.#names]
  }

  /** The number of members. */
  get size(): number {
    return this.#names.length
  }

  /** The node that owns `id`, or `undefined` when the ring is empty. */
  owner(id: string): string | undefined {
    checkId(id)
    const i = this.#ring.owner(id)
    return i < 0 ? undefined : this.#names[i]
  }

  /** The `k` nodes that own `id`, best first (fewer if the ring is smaller). */
  owners(id: string, k: number): string[] {
    checkId(id)
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`owners: k must be an integer ≥ 1, got ${k}`)
    return this.#ring.owners(id, k).map((i) => this.#names[i]!)
  }

  /** The owner of each id, in one native call (`undefined` entries when the ring is empty). */
  ownerMany(ids: readonly string[]): (string | undefined)[] {
    // Packed as [u32 LE length][UTF-8]… so the batch crosses N-API once.
    let size = 0
    const encoded = ids.map((id) => {
      checkId(id)
      const b = utf8.encode(id)
      size += 4 + b.length
      return b
    })
    const packed = new Uint8Array(size)
    const view = new DataView(packed.buffer)
    let at = 0
    for (const b of encoded) {
      view.setUint32(at, b.length, true)
      packed.set(b, at + 4)
      at += 4 + b.length
    }
    const idx = this.#ring.ownerBatch(packed, ids.length)
    const out = new Array<string | undefined>(ids.length)
    for (let i = 0; i < idx.length; i++) out[i] = idx[i] === NO_OWNER ? undefined : this.#names[idx[i]!]
    return out
  }
}

function checkNode(node: unknown): void {
  if (typeof node !== 'string' || node.length === 0) throw new TypeError(`a ring member must be a non-empty node name, got ${typeof node}`)
}

function checkId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError(`a child id must be a non-empty string, got ${typeof id}`)
}
