// The hub's quorum rules (ts/hub-quorum.ts), a pure state machine driven with
// simulated membership events and time: property tests against a model of
// each ProcessHub strategy, plus the split-brain guarantee. The rules are
// internal, so they are reached through the built module 'ironwood' loads;
// their effect on real nodes is tested in test/hub-partition.test.ts.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const { Quorum } = (await import(new URL('../dist/hub-quorum.js', import.meta.url).href)) as typeof import('../ts/hub-quorum.js')

/** A random membership history: each step a node joins or is lost, `dt` ms after the previous one. */
const history = fc.array(fc.record({ up: fc.boolean(), node: fc.integer({ min: 1, max: 8 }), dt: fc.integer({ min: 0, max: 5000 }), graceful: fc.boolean() }), { maxLength: 60 })

/** Replays `steps` on `q` and on a set model; calls `check` after each step with the model's state. */
function replay(
  q: InstanceType<typeof Quorum>,
  steps: Array<{ up: boolean; node: number; dt: number; graceful: boolean }>,
  check: (s: { members: number; now: number; partitioned: boolean; step: { up: boolean; node: number; graceful: boolean } }) => void,
): void {
  const present = new Set<number>()
  let now = 0
  for (const step of steps) {
    now += step.dt
    const name = `n${step.node}`
    if (step.up) {
      if (present.has(step.node)) continue
      present.add(step.node)
      q.memberUp(name, present.size + 1, now)
    } else {
      if (!present.delete(step.node)) continue
      q.memberDown(name, present.size + 1, now, step.graceful)
    }
    check({ members: present.size + 1, now, partitioned: q.partitioned, step })
  }
}

describe('hub quorum rules', () => {
  it('divergence is never partitioned', () => {
    fc.assert(
      fc.property(history, (steps) => {
        const q = new Quorum({ strategy: 'divergence' }, 1, 0)
        expect(q.partitioned).toBe(false)
        replay(q, steps, (s) => expect(s.partitioned).toBe(false))
      }),
    )
  })

  it('static_quorum: partitioned exactly when below quorumSize after a loss (or from startup with startupConfirm)', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 9 }), fc.boolean(), (steps, quorumSize, startupConfirm) => {
        const q = new Quorum({ strategy: 'static_quorum', quorumSize, startupConfirm }, 1, 0)
        expect(q.partitioned).toBe(startupConfirm && quorumSize > 1)
        let anyLoss = false
        replay(q, steps, (s) => {
          if (!s.step.up) anyLoss = true
          expect(s.partitioned).toBe(s.members < quorumSize && (startupConfirm || anyLoss))
        })
      }),
    )
  })

  it('dynamic_quorum: partitioned exactly when members / (members + losses within thresholdTime) < quorumSize %', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 20_000 }), (steps, quorumSize, thresholdTime) => {
        const q = new Quorum({ strategy: 'dynamic_quorum', quorumSize, thresholdTime }, 1, 0)
        expect(q.partitioned).toBe(false)
        const lost = new Map<string, number>()
        replay(q, steps, (s) => {
          const name = `n${s.step.node}`
          if (s.step.up) lost.delete(name)
          else if (!s.step.graceful) lost.set(name, s.now)
          const recent = [...lost.values()].filter((t) => s.now - t < thresholdTime).length
          expect(s.partitioned).toBe((s.members / (s.members + recent)) * 100 < quorumSize)
          // With no further events the losses expire: a tick after the window is never partitioned.
          const expiry = q.nextExpiry()
          if (recent > 0) expect(expiry).toBeGreaterThan(s.now)
        })
        const end = steps.reduce((t, x) => t + x.dt, 0) + thresholdTime
        expect(q.tick(end)).toBe(false)
      }),
    )
  })

  it('majority_quorum: partitioned exactly when members are not a strict majority of the largest membership seen', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 9 }), (steps, initialClusterSize) => {
        const q = new Quorum({ strategy: 'majority_quorum', initialClusterSize, trackMaxSize: true }, 1, 0)
        let max = initialClusterSize
        expect(q.partitioned).toBe(1 < Math.floor(max / 2) + 1)
        replay(q, steps, (s) => {
          if (s.step.up) max = Math.max(max, s.members)
          else if (s.step.graceful) max = Math.max(initialClusterSize, max - 1, s.members)
          expect(q.maxSize).toBe(max)
          expect(s.partitioned).toBe(s.members < Math.floor(max / 2) + 1)
        })
        // An operator's reset makes the current membership the new normal.
        expect(q.reset(1, 0)).toBe(false)
        expect(q.maxSize).toBe(1)
      }),
    )
  })

  it('a split never leaves both sides with quorum (static with quorumSize > N/2, and majority)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 9 }), (n, cut) => {
        const a = Math.min(cut, n)
        const sides = [a, n - a].filter((k) => k > 0)
        const healthy = (make: () => InstanceType<typeof Quorum>): number =>
          sides.filter((k) => {
            const q = make()
            for (let i = 1; i < n; i++) q.memberUp(`n${i}`, i + 1, 0)
            for (let i = n - 1; i >= k; i--) q.memberDown(`n${i}`, i, 1)
            return !q.partitioned
          }).length
        const quorumSize = Math.floor(n / 2) + 1
        expect(healthy(() => new Quorum({ strategy: 'static_quorum', quorumSize, startupConfirm: false }, 1, 0))).toBeLessThanOrEqual(1)
        expect(healthy(() => new Quorum({ strategy: 'majority_quorum', initialClusterSize: 1, trackMaxSize: true }, 1, 0))).toBeLessThanOrEqual(1)
        // The larger side of an odd split keeps quorum.
        if (sides.length === 2 && sides[0] !== sides[1]) {
          expect(healthy(() => new Quorum({ strategy: 'majority_quorum', initialClusterSize: 1, trackMaxSize: true }, 1, 0))).toBe(1)
        }
      }),
    )
  })
})
