// The hub's registry versions (ts/hub-gossip.ts): one writer's successive
// states reach a receiver as in-order updates (some lost) and as full lists
// relayed by others in any order; the receiver's copy never goes back to an
// older state and ends at the newest one. Internal rules, reached through the
// built module 'ironwood' loads; the real-cluster repair is in
// test/hub-partition.test.ts.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const { VersionBook, newer, pickRecipients } = (await import(new URL('../dist/hub-gossip.js', import.meta.url).href)) as typeof import('../ts/hub-gossip.js')

type Diff = Array<[key: number, value: number | null]>

describe('hub registry versions', () => {
  it('a copy fed lossy updates and relayed lists in any order never regresses, and ends at the newest state', () => {
    const writerDiffs = fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.option(fc.integer({ min: 0, max: 99 }), { nil: null })), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 25 })
    fc.assert(
      fc.property(writerDiffs, fc.array(fc.boolean(), { maxLength: 25 }), fc.array(fc.nat(), { maxLength: 40 }), fc.integer({ min: 0, max: 2 ** 31 }), (diffs: Diff[], lost, relayOrder, inc) => {
        // The writer's states S_0..S_n and its versions [inc, i].
        const states: Array<Map<number, number>> = [new Map()]
        for (const d of diffs) {
          const next = new Map(states.at(-1)!)
          for (const [k, v] of d) v === null ? next.delete(k) : next.set(k, v)
          states.push(next)
        }
        const book = new VersionBook(0)
        book.direct('w', [inc, 0])
        let copy = new Map<number, number>()
        // Events: the writer's updates in order (each possibly lost), interleaved with relayed lists of random versions.
        const events: Array<{ kind: 'update' | 'relay'; i: number }> = []
        let u = 1
        for (const r of relayOrder) {
          if (u <= diffs.length && r % 2 === 0) events.push({ kind: 'update', i: u++ })
          else events.push({ kind: 'relay', i: r % states.length })
        }
        while (u <= diffs.length) events.push({ kind: 'update', i: u++ })
        let lastKnown = book.known('w')!
        for (const e of events) {
          if (e.kind === 'update') {
            if (lost[e.i - 1] === true) continue
            if (book.update('w', [inc, e.i])) for (const [k, v] of diffs[e.i - 1]!) v === null ? copy.delete(k) : copy.set(k, v)
          } else if (book.relayed('w', [inc, e.i])) {
            copy = new Map(states[e.i]!)
          }
          const k = book.known('w')!
          expect(newer(lastKnown, k)).toBe(false) // never goes back
          lastKnown = k
        }
        // The newest list, relayed by anyone, brings the copy to the writer's state;
        // if it is not newer than what the copy is known complete at, the copy is there already.
        if (book.relayed('w', [inc, diffs.length])) copy = new Map(states.at(-1)!)
        expect([...copy].sort()).toEqual([...states.at(-1)!].sort())
        // A stale list never applies.
        expect(book.relayed('w', [inc, 0])).toBe(false)
      }),
    )
  })

  it('a restarted writer (a newer incarnation) is newer than anything from its previous life', () => {
    const book = new VersionBook(0)
    book.direct('w', [100, 50])
    expect(book.relayed('w', [100, 49])).toBe(false)
    expect(book.relayed('w', [101, 0])).toBe(true)
    expect(book.update('w', [100, 51])).toBe(false)
    expect(book.update('w', [101, 1])).toBe(true)
    expect(book.known('w')).toEqual([101, 1])
    book.forget('w')
    expect(book.known('w')).toBeUndefined()
  })

  it('picks distinct recipients, at most as many as there are members', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { maxLength: 12 }), fc.integer({ min: 1, max: 20 }), fc.integer(), (peers, k, seed) => {
        let x = seed >>> 0
        const random = (): number => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32)
        const picked = pickRecipients(peers, k, random)
        expect(picked.length).toBe(Math.min(k, peers.length))
        expect(new Set(picked).size).toBe(picked.length)
        for (const p of picked) expect(peers).toContain(p)
      }),
    )
  })
})
