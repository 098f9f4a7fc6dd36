/**
 * The hub's `hot_swap` migration (ProcessHub's HotSwap): a moving child's
 * new instance starts on its new owner before the old one stops, and with
 * `handover: true` it starts from the old instance's state. The old node
 * asks each moving child for `handoff()` (in its mailbox order), sends the
 * specs and states in `HubMigrate` frames that carry a `ref`, and stops the
 * old instances once the new owner answers (a `HubStartReply` with that
 * ref) or `retention` ms after the migration began, whichever comes first.
 * See docs/hub.md, "Hot swap".
 * @module
 */
import type { NormalChild } from './hub-config.js'
import { encodePayload, type Payloads } from './hub-protocol.js'
import { requestHandoff } from './genserver.js'
import { log } from './logger.js'
import type { Pid } from './pid.js'
import type { Term } from './terms.js'

/** Children per handover frame at most (as for every hub frame). */
const CHUNK = 5000
/** Bytes per handover frame at most: far below the 8 MiB frame limit, so states of any size fit in several frames. */
const FRAME_BYTES = 1 << 20

/**
 * @internal The `handoff()` state of each moving child, by id (children
 * without a handoff, or whose handoff threw or did not answer within
 * `timeout` ms, have none and start from their spec alone).
 */
export async function collectStates(hubId: string, moving: ReadonlyArray<{ id: string; pid: Pid | null }>, timeout: number): Promise<Map<string, Term>> {
  const states = new Map<string, Term>()
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeout)
  })
  let missing = 0
  await Promise.race([
    Promise.all(
      moving.map(async ({ id, pid }) => {
        if (pid === null) return
        missing++
        const r = await requestHandoff(pid)
        missing--
        if (r.error !== undefined) log({ level: 'error', message: `hub ${hubId}: handoff() of ${id} threw; it moves without its state`, error: r.error })
        else if (r.state !== undefined) states.set(id, r.state)
      }),
    ),
    late,
  ])
  clearTimeout(timer)
  if (missing > 0) log({ level: 'warn', message: `hub ${hubId}: ${missing} children did not answer handoff() within ${timeout} ms; they move without their state` })
  return states
}

/**
 * @internal Splits a hot-swap migration into Migrate payloads of at most
 * CHUNK children and about FRAME_BYTES each (a single child whose state
 * alone is larger goes alone; the cluster refuses it if it passes the frame
 * limit, and the caller falls back to moving it without its state).
 */
export function handoverFrames(hubId: string, children: readonly NormalChild[], states: ReadonlyMap<string, Term>, ref: () => number): Array<Payloads['Migrate']> {
  const out: Array<Payloads['Migrate']> = []
  const build = (part: readonly NormalChild[]): Payloads['Migrate'] => {
    const hs: Array<[string, Term]> = []
    for (const c of part) if (states.has(c.id)) hs.push([c.id, states.get(c.id)!])
    return { h: hubId, children: [...part], ref: 0, ...(hs.length > 0 && { hs }) }
  }
  const split = (part: readonly NormalChild[]): void => {
    const p = build(part)
    if (part.length > 1 && (part.length > CHUNK || encodePayload('Migrate', p).length > FRAME_BYTES)) {
      const mid = part.length >> 1
      split(part.slice(0, mid))
      split(part.slice(mid))
      return
    }
    p.ref = ref()
    out.push(p)
  }
  for (let i = 0; i < children.length; i += CHUNK) split(children.slice(i, i + CHUNK))
  return out
}
