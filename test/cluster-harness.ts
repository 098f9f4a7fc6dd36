// Shared by the cluster suites: real node processes forked from a fixture on
// 127.0.0.1, driven over IPC, and killed for real.
import { type ChildProcess, fork } from 'node:child_process'

import { type ClusterOptions, cluster, node, nodes, setLogger } from 'ironwood'
import { afterAll, beforeAll } from 'vitest'

/** Short heartbeats so a lost node is noticed quickly; tests use generous bounds. */
export const FAST = { heartbeatInterval: 100, heartbeatTimeout: 600 }

/** A `nodeup`/`nodedown` a forked node reported. */
export interface NodeEventMsg {
  event: 'nodeup' | 'nodedown'
  node: string
  info: { reason?: string }
  batch: number
}

/** A forked node: its process, full name, reported events and logs, and an IPC command call. */
export interface TestNode {
  child: ChildProcess
  name: string
  events: NodeEventMsg[]
  logs: string[]
  call: (cmd: string, args?: Record<string, unknown>) => Promise<any>
}

const children = new Set<ChildProcess>()

/** Registers any child process so {@link killAll} kills it too. */
export function track<C extends ChildProcess>(child: C): C {
  children.add(child)
  return child
}

/** SIGKILLs every node forked so far (for afterEach/afterAll). */
export function killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  }
  children.clear()
}

/** Polls `cond` every 20 ms until it holds, or throws naming `what`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Forks `fixture` with `options` (JSON in argv) and resolves once it reports
 * `started` with its node name. The fixture answers `{ id, cmd, ...args }`
 * messages with `{ type: 'reply', id, value | error }`.
 */
export function forkNode(fixture: string, options: Partial<ClusterOptions> & { name: string; cookie: string }): Promise<TestNode> {
  const child = fork(fixture, [JSON.stringify({ ...FAST, ...options })], { stdio: 'pipe' })
  return attachNode(child, options.name)
}

/**
 * Talks to a fixture node already started as `child` (with an IPC channel;
 * e.g. run inside a network namespace): tracked for {@link killAll}, resolves
 * once it reports `started`.
 */
export function attachNode(child: ChildProcess, name: string): Promise<TestNode> {
  children.add(child)
  const events: NodeEventMsg[] = []
  const logs: string[] = []
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 1
  const call = (cmd: string, args: Record<string, unknown> = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ ...args, id, cmd }) // an argument named id or cmd must not replace them
    })
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before starting`)))
    child.on('message', (m: any) => {
      if (m.type === 'started') resolve({ child, name: m.name, events, logs, call })
      else if (m.type === 'start-error') reject(new Error(m.error))
      else if (m.type === 'event') events.push(m)
      else if (m.type === 'log') logs.push(m.message)
      else if (m.type === 'reply') {
        const p = pending.get(m.id)
        pending.delete(m.id)
        if (m.error !== undefined) p?.reject(new Error(m.error))
        else p?.resolve(m.value)
      }
    })
  })
}

/** Forks a node seeded with this (test) node and waits until it is up here. */
export async function forkPeer(fixture: string, cookie: string, name: string): Promise<TestNode> {
  const n = await forkNode(fixture, { cookie, name, seeds: [node()] })
  await waitFor(`${name} to be up here`, () => nodes().includes(n.name))
  return n
}

/**
 * Makes the test process itself a cluster node for the suite (started in
 * beforeAll, stopped in afterAll with every forked node killed), with the
 * logger sent to `onLog`.
 */
export function clusterSuite(name: string, cookie: string, onLog: (message: string) => void = () => {}): void {
  beforeAll(async () => {
    setLogger((e) => onLog(e.message))
    await cluster.start({ name, cookie, ...FAST })
  })
  afterAll(async () => {
    killAll()
    await cluster.stop()
    setLogger(null)
  })
}
