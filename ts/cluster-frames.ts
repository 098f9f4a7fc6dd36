/**
 * Application frames between nodes: the cluster's `'frame'` events are
 * routed here by kind, and {@link sendFrame} queues a frame to a peer.
 * RPC uses it; remote messaging and pub/sub register their own kinds.
 * @internal
 * @module
 */
import { log } from './logger.js'

/** The application frame kinds (see docs/wire.md; transport kinds are never seen here). */
export const FrameKind = {
  Send: 0x10,
  Link: 0x20,
  Unlink: 0x21,
  Exit: 0x22,
  Monitor: 0x23,
  Demonitor: 0x24,
  Down: 0x25,
  RpcCall: 0x30,
  RpcReply: 0x31,
  RpcCast: 0x32,
  PubSub: 0x40,
} as const

/** A frame handler: the sending node's full name and the frame's payload. */
export type FrameHandler = (from: string, payload: Uint8Array) => void

/** What {@link sendFrame} reports: queued, or why not. */
export type SendResult = 'ok' | 'notconnected' | 'toolarge' | 'stopped' | 'backpressure'

/** The part of the native handle this file needs. */
export interface FrameSender {
  send(node: string, lane: number, kind: number, payload: Uint8Array): number
}

const RESULTS: readonly SendResult[] = ['ok', 'notconnected', 'toolarge', 'stopped', 'backpressure']
const handlers = new Map<number, FrameHandler>()
let sender: FrameSender | undefined

/** Sets the handler for one frame kind (one per kind; a later call replaces it). */
export function onFrame(kind: number, handler: FrameHandler): void {
  handlers.set(kind, handler)
}

/** Removes the handler of a kind; whether there was one. */
export function offFrame(kind: number): boolean {
  return handlers.delete(kind)
}

/**
 * Queues one frame to `node` on `lane` (a non-negative integer; frames on one
 * lane arrive in order, different lanes do not wait for each other). Never
 * blocks and never throws for a peer problem: `'notconnected'` (no such
 * connected node), `'toolarge'` (over the frame limit), `'stopped'` (the
 * cluster is not running), `'backpressure'` (the peer's send queue is full:
 * it is not reading as fast as we write).
 */
export function sendFrame(node: string, kind: number, payload: Uint8Array, lane = 0): SendResult {
  if (sender === undefined) return 'stopped'
  return RESULTS[sender.send(node, lane >>> 0, kind, payload)] ?? 'stopped'
}

/** @internal The cluster sets the running node's handle (and clears it on stop). */
export function setFrameSender(s: FrameSender | undefined): void {
  sender = s
}

/** @internal The cluster hands every `'frame'` event here. A throwing handler is logged, never fatal. */
export function dispatchFrame(from: string, kind: number, payload: Uint8Array): void {
  const handler = handlers.get(kind)
  if (handler === undefined) return
  try {
    handler(from, payload)
  } catch (error) {
    log({ level: 'error', message: `a handler for frame kind 0x${kind.toString(16)} from ${from} threw`, error })
  }
}
