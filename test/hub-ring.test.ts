import { describe, expect, it } from 'vitest'

import { HubRing } from 'ironwood'

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `device:${i}`)
const members = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i}@127.0.0.1:${4370 + i}`)

describe('HubRing (rendezvous placement in the Rust core)', () => {
  it('gives the same owners for the same membership, whatever the order it was built in', () => {
    const a = new HubRing(members(5))
    const b = new HubRing([...members(5)].reverse())
    const c = new HubRing()
    for (const m of [members(5)[2]!, ...members(5), members(5)[0]!]) c.add(m)
    expect(a.nodes()).toEqual(members(5).sort())
    for (const id of ids(2000)) {
      expect(b.owner(id)).toBe(a.owner(id))
      expect(c.owner(id)).toBe(a.owner(id))
    }
    expect(b.ownerMany(ids(2000))).toEqual(a.ownerMany(ids(2000)))
  })

  it('spreads children evenly over three nodes', () => {
    const r = new HubRing(members(3))
    const counts = new Map<string, number>()
    for (const o of r.ownerMany(ids(30_000))) counts.set(o!, (counts.get(o!) ?? 0) + 1)
    expect([...counts.keys()].sort()).toEqual(members(3).sort())
    for (const c of counts.values()) expect(Math.abs(c / 30_000 - 1 / 3)).toBeLessThan(0.05)
  })

  it('moves only the children of a leaver, and only children to a newcomer', () => {
    const before = new HubRing(members(4))
    const list = ids(20_000)
    const owners = before.ownerMany(list)
    const gone = members(4)[1]!
    const afterLeave = new HubRing(members(4))
    afterLeave.remove(gone)
    const left = afterLeave.ownerMany(list)
    let moved = 0
    list.forEach((_, i) => {
      if (owners[i] !== gone) expect(left[i]).toBe(owners[i])
      else {
        expect(left[i]).not.toBe(gone)
        moved++
      }
    })
    expect(moved / list.length).toBeGreaterThan(0.2)
    expect(moved / list.length).toBeLessThan(0.3)

    const joined = new HubRing(members(5))
    const newcomer = members(5)[4]!
    const after = joined.ownerMany(list)
    let toNew = 0
    list.forEach((_, i) => {
      if (after[i] !== owners[i]) {
        expect(after[i]).toBe(newcomer)
        toNew++
      }
    })
    // ≈ 1/N = 0.2 of the children move, never more than 1.2 × 1/N here.
    expect(toNew / list.length).toBeGreaterThan(0.15)
    expect(toNew / list.length).toBeLessThan(0.24)
  })

  it('answers replicas as distinct nodes, the owner first, and handles an empty ring', () => {
    const r = new HubRing(members(4))
    for (const id of ids(200)) {
      const o = r.owners(id, 3)
      expect(new Set(o).size).toBe(3)
      expect(o[0]).toBe(r.owner(id))
    }
    expect(r.owners('x', 10)).toHaveLength(4)
    const empty = new HubRing()
    expect(empty.owner('x')).toBeUndefined()
    expect(empty.ownerMany(['x', 'y'])).toEqual([undefined, undefined])
    expect(empty.size).toBe(0)
  })

  it('refuses bad ids, members and replica counts clearly', () => {
    const r = new HubRing(members(2))
    expect(() => r.owner('')).toThrow(TypeError)
    expect(() => r.owner(42 as unknown as string)).toThrow(TypeError)
    expect(() => r.ownerMany(['ok', ''])).toThrow(TypeError)
    expect(() => r.add('')).toThrow(TypeError)
    expect(() => new HubRing([null as unknown as string])).toThrow(TypeError)
    expect(() => r.owners('x', 0)).toThrow(RangeError)
    expect(r.add(members(2)[0]!)).toBe(false)
    expect(r.remove('nobody')).toBe(false)
  })
})
