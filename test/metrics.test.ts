// metrics: snapshot() reflects what the node did, read through the public
// API; the Prometheus text parses back with a real parser; a peer's
// transport figures come from the running cluster and a lost peer shows down.
import { createRequire } from 'node:module'

import { afterEach, describe, expect, it } from 'vitest'
import {
  GenServer,
  Hub,
  type MetricsSnapshot,
  Supervisor,
  exit,
  metrics,
  nodes,
  pubsub,
  rpc,
  send,
  spawn,
  state,
} from 'ironwood'
import { clusterSuite, forkPeer, waitFor } from './cluster-harness.js'

// parse-prometheus-text-format (a real exposition-format parser) ships no types.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Parsed[]

const RPC_NODE = new URL('./fixtures/rpc-node.mjs', import.meta.url).pathname
const COOKIE = 'metrics-test-cookie'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
  metrics.enable()
})

/** A process that never reads its mailbox, killed after the test. */
function idle() {
  const pid = spawn(async (self) => {
    await new Promise((resolve) => self.signal.addEventListener('abort', resolve))
  })
  cleanups.push(() => exit(pid, 'kill'))
  return pid
}

describe('metrics.snapshot', () => {
  it('counts processes and measures mailboxes', async () => {
    const before = metrics.snapshot()
    const pids = [idle(), idle(), idle()]
    for (let i = 0; i < 7; i++) send(pids[0]!, { n: i })
    send(pids[1]!, 'x')
    const after = metrics.snapshot()
    expect(after.processes.count - before.processes.count).toBe(3)
    expect(after.processes.mailboxMax).toBeGreaterThanOrEqual(7)
    expect(after.processes.mailboxTotal - before.processes.mailboxTotal).toBe(8)
    expect(after.messages.sent - before.messages.sent).toBe(8)
    expect(after.messages.received - before.messages.received).toBe(8)
    expect(after.node).toBe('nonode@nohost')
    expect(after.time).toBeGreaterThanOrEqual(before.time)
  })

  it('counts pub/sub publications, deliveries and a full subscription\u2019s drops', async () => {
    const before = metrics.snapshot()
    const seen: unknown[] = []
    const cb = pubsub.subscribe('metrics-test', (m) => void seen.push(m))
    const sub = pubsub.subscribe('metrics-test', { buffer: 1, overflow: 'drop_newest' })
    cleanups.push(() => {
      cb.unsubscribe()
      sub.unsubscribe()
    })
    for (let i = 0; i < 4; i++) expect(pubsub.publish('metrics-test', i)).toBe(2)
    const after = metrics.snapshot()
    expect(seen).toEqual([0, 1, 2, 3])
    expect(after.pubsub.published - before.pubsub.published).toBe(4)
    expect(after.pubsub.delivered - before.pubsub.delivered).toBe(8)
    expect(after.pubsub.dropped - before.pubsub.dropped).toBe(3)
    expect(after.pubsub.localMembers - before.pubsub.localMembers).toBe(2)
    expect(after.pubsub.topics).toBeGreaterThanOrEqual(1)
  })

  it('reports the shared tables\u2019 sizes', () => {
    state.set('metrics-test:a', 1)
    state.set('metrics-test:b', 'two')
    cleanups.push(() => {
      state.delete('metrics-test:a')
      state.delete('metrics-test:b')
    })
    const s = metrics.snapshot()
    expect(s.table.size).toBe(state.size())
    expect(s.table.tables.state).toBe(state.size())
    expect(s.table.memoryByTable.state).toBe(state.memory())
    expect(s.table.memory).toBeGreaterThanOrEqual(state.memory())
    expect(state.memory()).toBeGreaterThan(0)
    expect(s.memory.rss).toBeGreaterThan(0)
  })

  it('counts supervisor restarts', async () => {
    class Fragile extends GenServer {
      override handleCall(req: unknown) {
        if (req === 'crash') throw new Error('crash on purpose')
        return 'ok'
      }
    }
    const sup = await Supervisor.start({
      strategy: 'one_for_one',
      children: [{ id: 'fragile', start: () => GenServer.start(Fragile, null, { name: 'metrics-fragile' }) }],
    })
    cleanups.push(() => void sup.stop())
    const before = metrics.snapshot().supervisors.restarts
    await expect(GenServer.call('metrics-fragile', 'crash')).rejects.toThrow()
    await waitFor('the supervisor to restart its child', () => metrics.snapshot().supervisors.restarts === before + 1)
    await waitFor('the child to be back', async () => (await GenServer.call('metrics-fragile', 'hi').catch(() => null)) === 'ok')
  })

  it('counts local RPC calls', async () => {
    rpc.register('metrics_local', { twice: (x: number) => 2 * x })
    const before = metrics.snapshot().rpc.calls
    expect(await rpc.call('nonode@nohost', 'metrics_local', 'twice', [21])).toBe(42)
    expect(metrics.snapshot().rpc.calls).toBe(before + 1)
  })

  it('counts nothing while disabled, and again once enabled', () => {
    const pid = idle()
    metrics.disable()
    const before = metrics.snapshot()
    expect(before.enabled).toBe(false)
    send(pid, 1)
    pubsub.publish('metrics-nobody', 1)
    const during = metrics.snapshot()
    expect(during.messages.sent).toBe(before.messages.sent)
    expect(during.pubsub.published).toBe(before.pubsub.published)
    // The live state is still read: the message waits in the mailbox.
    expect(during.processes.mailboxTotal).toBe(before.processes.mailboxTotal + 1)
    metrics.enable()
    send(pid, 2)
    expect(metrics.snapshot().messages.sent).toBe(before.messages.sent + 1)
  })

  it('delivers snapshots to a listener until it is removed', async () => {
    idle()
    const got: MetricsSnapshot[] = []
    const stop = metrics.on('snapshot', (s) => void got.push(s), { interval: 100 })
    await waitFor('two snapshots', () => got.length >= 2, 10_000)
    stop()
    const n = got.length
    await sleep(350)
    expect(got.length).toBe(n)
    expect(got[0]!.processes.count).toBeGreaterThan(0)
    expect(metrics.off('snapshot', () => {})).toBe(false)
  })

  it('refuses bad listener arguments', () => {
    expect(() => metrics.on('tick' as 'snapshot', () => {})).toThrow(TypeError)
    expect(() => metrics.on('snapshot', 42 as unknown as () => void)).toThrow(TypeError)
    expect(() => metrics.on('snapshot', () => {}, { interval: 5 })).toThrow(RangeError)
    expect(() => metrics.on('snapshot', () => {}, 'often' as unknown as object)).toThrow(TypeError)
  })
})

interface Parsed {
  name: string
  type: string
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>
}

describe('metrics.prometheus', () => {
  it('writes text that a Prometheus parser reads back with the snapshot\u2019s figures', async () => {
    const pids = [idle(), idle()]
    send(pids[0]!, 'waiting')
    const text = await metrics.prometheus()
    const s = metrics.snapshot()
    const families = parsePrometheus(text)
    const byName = new Map(families.map((f) => [f.name, f]))
    const one = (name: string) => {
      const f = byName.get(name)
      expect(f, name).toBeDefined()
      return f!.metrics[0]!
    }
    expect(byName.get('ironwood_processes')!.type).toBe('GAUGE')
    expect(Number(one('ironwood_processes').value)).toBe(s.processes.count)
    expect(one('ironwood_processes').labels).toEqual({ node: 'nonode@nohost' })
    expect(Number(one('ironwood_mailbox_messages').value)).toBe(s.processes.mailboxTotal)
    expect(byName.get('ironwood_messages_sent_total')!.type).toBe('COUNTER')
    expect(Number(one('ironwood_messages_sent_total').value)).toBe(s.messages.sent)
    expect(Number(one('ironwood_pubsub_published_total').value)).toBe(s.pubsub.published)
    const tables = byName.get('ironwood_table_keys')!.metrics
    expect(tables.find((m) => m.labels?.table === 'state')?.value).toBe(String(s.table.size))
    const tableMemory = byName.get('ironwood_table_memory_bytes')!.metrics
    expect(tableMemory.find((m) => m.labels?.table === 'state')?.value).toBe(String(s.table.memoryByTable.state))
    const hist = byName.get('ironwood_rpc_latency_seconds')!
    expect(hist.type).toBe('HISTOGRAM')
    expect(Object.keys(hist.metrics[0]!.buckets!)).toContain('+Inf')
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
  })

  it('answers GET /metrics through the handler, and 404 elsewhere', async () => {
    const ok = await metrics.handler(new Request('http://localhost/metrics'))
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe(metrics.contentType)
    expect((parsePrometheus(await ok.text())).length).toBeGreaterThan(10)
    expect((await metrics.handler(new Request('http://localhost/other'))).status).toBe(404)
  })
})

describe('metrics.watchHub', () => {
  it('reports a watched hub\u2019s children per node and its restarts, and forgets it once stopped', async () => {
    class Sensor extends GenServer {}
    Hub.define('metrics-sensor', Sensor)
    const hub = await Hub.start({ id: 'metrics-hub' })
    try {
      expect(metrics.snapshot().hubs).toEqual([])
      const stop = metrics.watchHub(hub)
      await hub.startChildren([0, 1, 2, 3, 4].map((i) => ({ id: `sensor:${i}`, start: ['metrics-sensor', []] as [string, never[]] })), { await: true })
      const h = metrics.snapshot().hubs.find((x) => x.id === 'metrics-hub')!
      expect(h.localChildren).toBe(5)
      expect(h.childrenByNode).toEqual({ 'nonode@nohost': 5 })
      expect(h.restarts).toBe(0)
      exit(hub.whereIs('sensor:2')!, 'kill')
      await waitFor('the restart to be counted', () => metrics.snapshot().hubs[0]?.restarts === 1)
      expect(metrics.snapshot().hubs[0]!.localChildren).toBe(5)
      const text = await metrics.prometheus()
      const fam = parsePrometheus(text).find((f) => f.name === 'ironwood_hub_local_children')!
      expect(fam.metrics.find((m) => m.labels?.hub === 'metrics-hub')?.value).toBe('5')
      stop()
      expect(metrics.snapshot().hubs).toEqual([])
      metrics.watchHub(hub)
    } finally {
      await hub.stop()
    }
    expect(metrics.snapshot().hubs).toEqual([])
    expect(() => metrics.watchHub({} as Hub)).toThrow(TypeError)
  })
})

describe('metrics in a cluster', () => {
  clusterSuite('metrics-main', COOKIE)

  it('times remote calls, and reports each peer\u2019s RTT and bytes, then shows a lost peer down', async () => {
    const peer = await forkPeer(RPC_NODE, COOKIE, 'metrics-peer')
    const before = metrics.snapshot()
    for (let i = 0; i < 20; i++) expect(await rpc.call(peer.name, 'math', 'add', [i, 1])).toBe(i + 1)
    await expect(rpc.call(peer.name, 'math', 'boom', ['no'])).rejects.toThrow('no')
    const after = metrics.snapshot()
    expect(after.rpc.calls - before.rpc.calls).toBe(21)
    expect(after.rpc.errors - before.rpc.errors).toBe(1)
    // One call in 8 is timed: 21 calls make 2 or 3 samples, whatever came before.
    expect(after.rpc.latency.count - before.rpc.latency.count).toBeGreaterThanOrEqual(2)
    expect(after.rpc.latency.count - before.rpc.latency.count).toBeLessThanOrEqual(3)
    expect(after.rpc.latency.sumMs).toBeGreaterThan(before.rpc.latency.sumMs)
    const buckets = after.rpc.latency.buckets
    expect(buckets.at(-1)!.le).toBe(Infinity)
    expect(buckets.at(-1)!.count).toBe(after.rpc.latency.count)
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.count).toBeGreaterThanOrEqual(buckets[i - 1]!.count)
    expect(after.frames.out - before.frames.out).toBeGreaterThanOrEqual(21)
    expect(after.frames.in - before.frames.in).toBeGreaterThanOrEqual(21)

    await waitFor('the peer\u2019s RTT to be measured', () => (metrics.snapshot().peers.find((p) => p.node === peer.name)?.rttMs ?? 0) > 0)
    const p = metrics.snapshot().peers.find((x) => x.node === peer.name)!
    expect(p.state).toBe('up')
    expect(p.bytesSent).toBeGreaterThan(0)
    expect(p.bytesReceived).toBeGreaterThan(0)

    const text = await metrics.prometheus()
    const up = (parsePrometheus(text)).find((f) => f.name === 'ironwood_peer_up')!
    expect(up.metrics.find((m) => m.labels?.peer === peer.name)?.value).toBe('1')

    peer.child.kill('SIGKILL')
    // nodes() drops the peer in the transport at once; the snapshot shows it
    // down once this thread has handled the nodedown event (as in Erlang,
    // where nodes() changes before the nodedown message is received).
    await waitFor('the peer to be shown down', () => metrics.snapshot().peers.find((x) => x.node === peer.name)?.state === 'down')
    expect(nodes()).not.toContain(peer.name)
    const down = metrics.snapshot().peers.find((x) => x.node === peer.name)
    expect(down?.state).toBe('down')
    expect(down?.rttMs).toBeNull()
    expect(typeof down?.reason).toBe('string')
  }, 30_000)
})
