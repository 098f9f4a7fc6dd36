// The hub tests' convergence check, shared by the real-cluster suites: wait
// until every node's registry is identical and each child runs exactly once,
// where the registry says. Each node is a test/fixtures/hub-node.mjs fixture
// answering 'registry' ([id, node, pid] rows, sorted) and 'local' ([id, pid]).
import { HubRing } from 'ironwood'

import { type TestNode, waitFor } from './cluster-harness.js'

/** One registry row as the fixture reports it. */
export type Entry = [id: string, node: string, pid: string]

export interface SettleOptions {
  /** Exactly these ids must be registered (and so running). */
  ids?: string[] | undefined
  /** Each child must also run on its ring owner among `all`. */
  onOwner?: boolean
  timeout?: number
}

/**
 * Waits until the hub has settled on `all`: every registry identical, every
 * child running once, on the node and with the pid it is registered with, and
 * nothing running that is not registered. Returns the agreed registry.
 */
export async function settled(all: TestNode[], opts: SettleOptions = {}): Promise<Entry[]> {
  const { ids, onOwner = false, timeout = 20_000 } = opts
  const ring = onOwner ? new HubRing(all.map((n) => n.name)) : undefined
  let last = ''
  let agreed: Entry[] = []
  try {
    await waitFor('the hub to settle', async () => {
      const regs: Entry[][] = await Promise.all(all.map((n) => n.call('registry')))
      const locals: Array<Array<[string, string]>> = await Promise.all(all.map((n) => n.call('local')))
      const first = JSON.stringify(regs[0])
      if (!regs.every((r) => JSON.stringify(r) === first)) return (last = 'registries differ'), false
      const running = new Map<string, string>()
      for (const [i, list] of locals.entries()) {
        for (const [id, pid] of list) {
          if (running.has(id)) return (last = `${id} runs twice`), false
          running.set(id, `${all[i]!.name} ${pid}`)
        }
      }
      const reg = regs[0]!
      if (ids !== undefined && JSON.stringify(reg.map((e) => e[0])) !== JSON.stringify([...ids].sort())) {
        return (last = `ids differ (${reg.length} registered, ${ids.length} expected)`), false
      }
      if (running.size !== reg.length) return (last = `${running.size} running, ${reg.length} registered`), false
      for (const [id, node, pid] of reg) {
        if (running.get(id) !== `${node} ${pid}`) return (last = `${id} registered on ${node} but runs ${running.get(id)}`), false
        if (ring !== undefined && ring.owner(id) !== node) return (last = `${id} runs on ${node}, not its owner ${ring.owner(id)}`), false
      }
      agreed = reg
      return true
    }, timeout)
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${last}`)
  }
  return agreed
}
