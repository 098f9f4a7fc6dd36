// WebSocket topics across nodes: a socket on one node subscribed to a topic
// gets what is published on any node. The test process is one node (with its
// own serve()), test/fixtures/serve-node.mjs runs the other in its own process.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type Server, pubsub, serve } from 'ironwood'
import { clusterSuite, forkPeer, waitFor } from './cluster-harness.js'

const fixture = new URL('./fixtures/serve-node.mjs', import.meta.url).pathname
const cookie = randomBytes(16).toString('hex')
clusterSuite('serve-test', cookie)

let local: Server | undefined
afterAll(async () => {
  await local?.stop({ timeout: 1000 })
})

/** A ws client subscribed to `topic` through the server at `port`; resolves once subscribed. */
async function subscriber(port: number, topic: string): Promise<{ ws: WebSocket; messages: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?topic=${encodeURIComponent(topic)}`)
  const messages: string[] = []
  ws.on('message', (data) => messages.push(data.toString()))
  ws.on('error', () => {})
  await waitFor(`the subscription to ${topic}`, () => messages[0] === `subscribed ${topic}`)
  messages.shift()
  return { ws, messages }
}

describe('serve: WebSocket topics are cluster pub/sub topics', () => {
  it('a message published on either node reaches the subscribed sockets of both; a closed socket or a killed node leaves', async () => {
    local = await serve(() => new Response('here'), {
      websocket: {
        upgrade: (req) => new URL(req.url).searchParams.get('topic') ?? false,
        open: (ws) => {
          ws.subscribe(ws.data)
          ws.send(`subscribed ${ws.data}`)
        },
      },
    })
    const peer = await forkPeer(fixture, cookie, 'serve-b')
    const peerPort: number = await peer.call('port')

    const here = await subscriber(local.port, 'feed')
    const there = await subscriber(peerPort, 'feed')
    const otherTopic = await subscriber(peerPort, 'elsewhere')
    // Membership is replicated: each node counts both sockets on 'feed'.
    await waitFor('both nodes to see two members', async () => pubsub.members('feed') === 2 && (await peer.call('members', { topic: 'feed' })) === 2)

    expect(pubsub.publish('feed', { reading: 1 })).toBe(2)
    await waitFor('the first message on both sockets', () => here.messages.length === 1 && there.messages.length === 1)
    expect(JSON.parse(here.messages[0]!)).toEqual({ reading: 1 })
    expect(JSON.parse(there.messages[0]!)).toEqual({ reading: 1 })

    expect(await peer.call('publish', { topic: 'feed', message: 'from b' })).toBe(2)
    await waitFor('the second message on both sockets', () => here.messages.length === 2 && there.messages.length === 2)
    expect([here.messages[1], there.messages[1]]).toEqual(['from b', 'from b'])
    expect(otherTopic.messages).toEqual([])

    // Order per publisher holds across the node boundary.
    for (let i = 0; i < 50; i++) local.publish('feed', `n${i}`)
    await waitFor('fifty more on the remote socket', () => there.messages.length === 52)
    expect(there.messages.slice(2)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`))

    there.ws.close()
    await waitFor('the closed socket to leave the topic here', () => pubsub.members('feed') === 1)

    peer.child.kill('SIGKILL')
    await waitFor('the killed node to leave', () => pubsub.topics().includes('elsewhere') === false)
    expect(pubsub.publish('feed', 'only here')).toBe(1)
    await waitFor('the local socket to get it', () => here.messages.at(-1) === 'only here')
    here.ws.close()
  }, 30_000)
})

describe('examples/web-app.mjs', () => {
  it('runs its scripted session (serve + state + rpc + a live WebSocket feed) and exits by itself', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/web-app.mjs'], { cwd: root, timeout: 60_000 })
    expect(stdout).toMatch(/POST \/predict +200 \{"label":"short","words":2,"by":"gpu@127\.0\.0\.1:\d+"\}/)
    expect(stdout).toMatch(/POST \/predict \(bad\) +400 /)
    // A fixed one-second window: 25 at once are 20 ok and 5 refused, or (across a second boundary) fewer refused.
    const [, ok, limited] = /25 requests from bob +(\d+) ok, (\d+) rate-limited/.exec(stdout) ?? []
    expect(Number(ok) + Number(limited)).toBe(25)
    expect(Number(ok)).toBeGreaterThanOrEqual(20)
    expect(stdout).toMatch(/live feed \(WebSocket\) +2[0-9] predictions, [1-9]\d* load reports from gpu@/)
  }, 60_000)
})
