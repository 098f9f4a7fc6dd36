/**
 * References: unique values, as made by `monitor` (Erlang's `make_ref()`).
 * A `Ref` is a term, printed `#Ref<node.id>`, compared with {@link Ref.equals}.
 * @module
 */
import { node } from './node.js'
import { ExtType, defineTermClass, type termClass } from './terms.js'

const inspectCustom = Symbol.for('nodejs.util.inspect.custom')

/** A unique reference, e.g. the one that names a monitor. */
export class Ref {
  /** Brands the class as a term (set on the prototype by `defineTermClass`). */
  declare readonly [termClass]: true
  /** The reference number, unique on its node. */
  readonly id: number
  /** @internal The node name of a remote ref; `null` for a ref made here. */
  readonly home: string | null

  /** Refs are made by ironwood (monitor, makeRef). */
  private constructor(id: number, home: string | null) {
    this.id = id
    this.home = home
  }

  /** The node that made the reference. */
  get node(): string {
    return this.home ?? node()
  }

  /** Value equality: same node and same number. */
  equals(other: unknown): boolean {
    return other === this || (other instanceof Ref && other.id === this.id && other.node === this.node)
  }

  /** `#Ref<node.id>`, e.g. `#Ref<nonode@nohost.7>`. */
  toString(): string {
    return `#Ref<${this.node}.${this.id}>`
  }

  /** The printed form, for logs and `JSON.stringify`. */
  toJSON(): string {
    return this.toString()
  }

  /** @internal */
  [inspectCustom](): string {
    return this.toString()
  }

  /** @internal */
  static make(id: number, home: string | null): Ref {
    return new Ref(id, home)
  }
}

let lastRef = 0

/** A new reference, unique on this node. */
export function makeRef(): Ref {
  return Ref.make(++lastRef, null)
}

defineTermClass({
  Class: Ref as unknown as abstract new () => Ref,
  type: ExtType.ref,
  write: (ref: Ref) => [ref.node, ref.id],
  read: (data: unknown) => {
    if (!Array.isArray(data) || typeof data[0] !== 'string' || !Number.isSafeInteger(data[1]) || data[1] < 0) {
      throw new TypeError('malformed ref in encoded term')
    }
    return Ref.make(data[1] as number, data[0] === node() ? null : data[0])
  },
})
