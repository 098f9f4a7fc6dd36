/**
 * WebSocket topic subscriptions on this node. Sockets subscribed to a topic
 * are kept in one local set; a published message is serialised once per
 * serializer and written to each socket (pg's design, one level down: one
 * copy per node, fanned out to the node's local members).
 * @module
 */
import { log } from './logger.js'
import { assertTerm } from './terms.js'
import type { ServerWebSocket } from './websocket.js'

const topics = new Map<string, Set<ServerWebSocket<unknown>>>()

/** @internal */
export function joinTopic(topic: string, ws: ServerWebSocket<any>): void {
  let members = topics.get(topic)
  if (members === undefined) topics.set(topic, (members = new Set()))
  members.add(ws)
}

/** @internal */
export function leaveTopic(topic: string, ws: ServerWebSocket<any>): void {
  const members = topics.get(topic)
  if (members === undefined || !members.delete(ws)) return
  if (members.size === 0) topics.delete(topic)
}

/** @internal How many local sockets are subscribed to `topic` (for tests of leaks). */
export function localSocketCount(topic?: string): number {
  if (topic !== undefined) return topics.get(topic)?.size ?? 0
  let n = 0
  for (const members of topics.values()) n += members.size
  return n
}

/** JSON that accepts every term: bigint as a string, Map as an object, Set and bytes as arrays. */
function termReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return [...value]
  if (value instanceof Uint8Array) return [...value]
  return value
}

/** @internal The default serializer of published messages. */
export function defaultSerialize(message: unknown): string | Uint8Array {
  if (typeof message === 'string' || message instanceof Uint8Array) return message
  return JSON.stringify(message, termReplacer)
}

/** @internal Sends `message` to every local socket subscribed to `topic`; returns how many took it. */
export function deliver(topic: string, message: unknown): number {
  const members = topics.get(topic)
  if (members === undefined) return 0
  let sent = 0
  const frames = new Map<unknown, string | Uint8Array | null>()
  // Copy: a send can close a slow socket, which leaves the set while we iterate.
  for (const ws of [...members]) {
    let frame = frames.get(ws.serializer)
    if (frame === undefined) {
      try {
        frame = ws.serializer === undefined ? defaultSerialize(message) : ws.serializer(message, topic)
        if (typeof frame !== 'string' && !(frame instanceof Uint8Array)) throw new TypeError('websocket.serialize must return a string or a Uint8Array')
      } catch (error) {
        log({ level: 'error', message: `serve: could not serialise a message published on '${topic}'`, error })
        frame = null
      }
      frames.set(ws.serializer, frame)
    }
    if (frame !== null && ws.send(frame)) sent++
  }
  return sent
}

/** @internal Publishes to the WebSockets of this node. */
export function publishLocal(topic: string, message: unknown): number {
  if (typeof topic !== 'string' || topic.length === 0) throw new TypeError('publish: topic must be a non-empty string')
  assertTerm(message, 'message')
  return deliver(topic, message)
}
