/**
 * WebSocket topics are cluster pub/sub topics. Each subscribed socket is one
 * callback member of `pubsub` (ts/pubsub.ts), so `pubsub.publish` on any node
 * reaches it (one copy per node, fanned out there), `pubsub.members(topic)`
 * counts sockets cluster-wide, and a socket that closes leaves at once.
 * A published message is serialised once per fan-out, not once per socket:
 * pubsub hands every local member the very same object, so the last frame is
 * reused while the message, the topic and the serializer stay the same.
 * @module
 */
import { log } from './logger.js'
import { type CallbackSubscription, pubsub } from './pubsub.js'
import type { Term } from './terms.js'
import type { ServerWebSocket } from './websocket.js'

type Serializer = ((message: unknown, topic: string) => string | Uint8Array) | undefined

/** JSON that accepts every term: bigint as a string, Map as an object, Set and bytes as arrays. */
function termReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return [...value]
  if (value instanceof Uint8Array) return [...value]
  return value
}

/** @internal The default serializer of published messages: strings as text, bytes as binary, other terms as JSON. */
export function defaultSerialize(message: unknown): string | Uint8Array {
  if (typeof message === 'string' || message instanceof Uint8Array) return message
  return JSON.stringify(message, termReplacer)
}

// The one-entry cache of the last frame (see the module comment).
let lastMessage: unknown = undefined
let lastTopic = ''
let lastSerializer: Serializer = undefined
let lastFrame: string | Uint8Array | null = null

function frameFor(message: unknown, topic: string, serializer: Serializer): string | Uint8Array | null {
  if (serializer === undefined && (typeof message === 'string' || message instanceof Uint8Array)) return message
  if (message === lastMessage && topic === lastTopic && serializer === lastSerializer && typeof message === 'object') return lastFrame
  let frame: string | Uint8Array | null
  try {
    frame = serializer === undefined ? defaultSerialize(message) : serializer(message, topic)
    if (typeof frame !== 'string' && !(frame instanceof Uint8Array)) throw new TypeError('websocket.serialize must return a string or a Uint8Array')
  } catch (error) {
    log({ level: 'error', message: `serve: could not serialise a message published on '${topic}'`, error })
    frame = null
  }
  lastMessage = message
  lastTopic = topic
  lastSerializer = serializer
  lastFrame = frame
  return frame
}

/** @internal Makes `ws` a member of `topic`; the returned subscription leaves it. */
export function joinTopic(topic: string, ws: ServerWebSocket<any>): CallbackSubscription {
  return pubsub.subscribe(topic, (message: unknown) => {
    const frame = frameFor(message, topic, ws.serializer)
    if (frame !== null) ws.send(frame)
  })
}

/** @internal `pubsub.publish`, for `server.publish`. */
export function publish(topic: string, message: unknown): number {
  return pubsub.publish(topic, message as Term)
}
