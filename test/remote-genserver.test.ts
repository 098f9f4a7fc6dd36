// GenServer.call and cast to servers on other nodes (real forked nodes).
import { fileURLToPath } from 'node:url'

import { beforeAll, describe, expect, it } from 'vitest'

import {
  ConnectionError,
  ExitError,
  GenServer,
  NoProcessError,
  type Pid,
  TimeoutError,
  rpc,
} from 'ironwood'

import { type TestNode, clusterSuite, forkPeer } from './cluster-harness.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/rpc-node.mjs', import.meta.url))

const peer = (name: string): Promise<TestNode> => forkPeer(FIXTURE, 'gs-cookie', name)

clusterSuite('gstester', 'gs-cookie')

describe('GenServer across nodes', () => {
  let b: TestNode

  beforeAll(async () => {
    b = await peer('b')
  })

  it('calls and casts by remote pid and by { name, node }', async () => {
    const pid = (await rpc.call(b.name, 'gs', 'counterPid')) as Pid
    expect(pid.node).toBe(b.name)
    const before = (await GenServer.call<number>(pid, 'get')) as number
    expect(await GenServer.call({ name: 'counter', node: b.name }, 'inc')).toBe(before + 1)
    GenServer.cast(pid, 'inc')
    GenServer.cast({ name: 'counter', node: b.name }, 'inc')
    // Casts and calls to one node travel on RPC's ordered lane for the module.
    expect(await GenServer.call(pid, 'get')).toBe(before + 3)
  })

  it('maps the remote failures to the local error classes', async () => {
    await expect(GenServer.call({ name: 'nobody', node: b.name }, 'get')).rejects.toBeInstanceOf(NoProcessError)
    const slow = GenServer.call({ name: 'counter', node: b.name }, { sleep: 500 }, { timeout: 100 })
    await expect(slow).rejects.toBeInstanceOf(TimeoutError)
    const crash = GenServer.call({ name: 'counter', node: b.name }, 'boom')
    await expect(crash).rejects.toBeInstanceOf(ExitError)
    await expect(crash).rejects.toThrow(/counter crashed/)
    const fresh = (await rpc.call(b.name, 'gs', 'restartCounter')) as Pid
    expect(await GenServer.call(fresh, 'get')).toBe(0)
  })

  it('refuses bad targets and non-term requests', async () => {
    await expect(GenServer.call({ name: '', node: b.name } as never, 'get')).rejects.toBeInstanceOf(TypeError)
    await expect(GenServer.call({ name: 'counter', node: b.name }, { f: () => 1 } as never)).rejects.toThrow(/request\.f is a function/)
    expect(() => GenServer.cast({ name: 'counter', node: 5 } as never, 'inc')).toThrow(TypeError)
  })

  it('rejects with ConnectionError when the node is not connected or dies mid-call', async () => {
    await expect(GenServer.call({ name: 'counter', node: 'ghost@127.0.0.1:1' }, 'get')).rejects.toBeInstanceOf(ConnectionError)
    const c = await peer('c')
    const started = Date.now()
    const call = GenServer.call({ name: 'counter', node: c.name }, { sleep: 60_000 }, { timeout: 30_000 })
    await new Promise((r) => setTimeout(r, 100))
    c.child.kill('SIGKILL')
    await expect(call).rejects.toBeInstanceOf(ConnectionError)
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})
