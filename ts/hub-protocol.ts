/**
 * The hub's frames between nodes (kinds 0x50–0x58, docs/wire.md): their
 * payloads, encoded as terms, and a validator for each. A payload that does
 * not validate is logged and dropped by the caller; it never throws into the
 * node or changes any state.
 * @module
 */
import { FrameKind } from './cluster-frames.js'
import type { HubRestart, NormalChild } from './hub-config.js'
import { type Version, isVersion } from './hub-gossip.js'
import { Pid } from './pid.js'
import { type Term, decode, encode } from './terms.js'

/** The hub frame kinds. */
export const HubFrame = {
  Hello: FrameKind.HubHello,
  Leave: FrameKind.HubLeave,
  Start: FrameKind.HubStart,
  StartReply: FrameKind.HubStartReply,
  Stop: FrameKind.HubStop,
  StopReply: FrameKind.HubStopReply,
  Update: FrameKind.HubUpdate,
  Sync: FrameKind.HubSync,
  Migrate: FrameKind.HubMigrate,
} as const

/** A child as it travels: its spec. */
export type WireChild = NormalChild

/** A registry entry as it travels; its node is always the sender. */
export interface WireEntry {
  c: WireChild
  p: Pid
}

/** One child's outcome on the node that ran the start or stop. */
export type WireResult = { id: string; pid: Pid } | { id: string; error: string; node?: string; pid?: Pid }

/** Every payload, by frame. Each carries `h`, the hub id. */
export interface Payloads {
  /** `q`: the sender is partitioned (below quorum): a member, but out of every ring until it sends `q: false`. */
  Hello: { h: string; ack: boolean; q?: boolean }
  Leave: { h: string }
  Start: { h: string; ref: number; children: WireChild[]; check: boolean }
  StartReply: { h: string; ref: number; results: WireResult[] }
  Stop: { h: string; ref: number; ids: string[] }
  StopReply: { h: string; ref: number; results: WireResult[] }
  /** `v`: the sender's registry version after this batch (docs/hub.md, Gossip). */
  Update: { h: string; put: WireEntry[]; del: string[]; v?: Version; t?: string[] }
  /**
   * The sender's own children (authoritative); the last frame of a list carries `v`, its version, and
   * under gossip sync `g`: the sender's copy of other members' lists, each with the version it is complete at;
   * `m`: the sender's members (so a newcomer knows whom it has yet to hear from); `t`: its tombstones.
   */
  Sync: { h: string; entries: WireEntry[]; last: boolean; v?: Version; g?: GossipList[]; t?: string[]; m?: string[] }
  /**
   * `orphanOf`: the children of that lost node, sent by a survivor to their
   * new owner (so a registry entry still on that node does not block the
   * start). Hot swap: `ref` asks for a `StartReply` with that ref once the
   * children started, and `hs` carries `[id, state]` for the children whose
   * old instance handed over a state (`init(arg, state)`).
   */
  Migrate: { h: string; children: WireChild[]; orphanOf?: string; ref?: number; hs?: Array<[string, Term]> }
}

/** One member's children as relayed by gossip: node `n`'s entries `e`, complete at version `v`. */
export interface GossipList {
  n: string
  v: Version
  e: WireEntry[]
}

/** Encodes a payload. */
export function encodePayload<K extends keyof Payloads>(_kind: K, p: Payloads[K]): Uint8Array {
  return encode(p as unknown as Term)
}

const RESTARTS = new Set(['permanent', 'transient', 'temporary'])

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 1024
}
function isChild(v: unknown): v is WireChild {
  if (!isObj(v) || !isId(v.id) || !Array.isArray(v.start) || v.start.length !== 2) return false
  const [name, args] = v.start as unknown[]
  return typeof name === 'string' && Array.isArray(args) && RESTARTS.has(v.restart as HubRestart) && isObj(v.metadata)
}
function isEntry(v: unknown): v is WireEntry {
  return isObj(v) && isChild(v.c) && v.p instanceof Pid
}
function isResult(v: unknown): v is WireResult {
  return isObj(v) && isId(v.id) && (v.pid instanceof Pid || typeof v.error === 'string')
}
function arrayOf<T>(v: unknown, each: (x: unknown) => x is T): v is T[] {
  return Array.isArray(v) && v.every(each)
}
const isRef = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)
const isHandedState = (v: unknown): v is [string, Term] => Array.isArray(v) && v.length === 2 && isId(v[0])

const CHECKS: { [K in keyof Payloads]: (p: Record<string, unknown>) => boolean } = {
  Hello: (p) => typeof p.ack === 'boolean' && (p.q === undefined || typeof p.q === 'boolean'),
  Leave: () => true,
  Start: (p) => isRef(p.ref) && typeof p.check === 'boolean' && arrayOf(p.children, isChild),
  StartReply: (p) => isRef(p.ref) && arrayOf(p.results, isResult),
  Stop: (p) => isRef(p.ref) && arrayOf(p.ids, isId),
  StopReply: (p) => isRef(p.ref) && arrayOf(p.results, isResult),
  Update: (p) => arrayOf(p.put, isEntry) && arrayOf(p.del, isId) && (p.v === undefined || isVersion(p.v)) && (p.t === undefined || arrayOf(p.t, isId)),
  Sync: (p) =>
    typeof p.last === 'boolean' &&
    arrayOf(p.entries, isEntry) &&
    (p.v === undefined || isVersion(p.v)) &&
    (p.t === undefined || arrayOf(p.t, isId)) &&
    (p.m === undefined || arrayOf(p.m, (n): n is string => typeof n === 'string')) &&
    (p.g === undefined || arrayOf(p.g, (l): l is GossipList => isObj(l) && typeof l.n === 'string' && isVersion(l.v) && arrayOf(l.e, isEntry))),
  Migrate: (p) =>
    arrayOf(p.children, isChild) &&
    (p.orphanOf === undefined || typeof p.orphanOf === 'string') &&
    (p.ref === undefined || isRef(p.ref)) &&
    (p.hs === undefined || arrayOf(p.hs, isHandedState)),
}

/** Decodes and validates a payload of `kind`; a string says why it is malformed. */
export function decodePayload<K extends keyof Payloads>(kind: K, bytes: Uint8Array): Payloads[K] | string {
  let p: unknown
  try {
    p = decode(bytes)
  } catch (error) {
    return `undecodable payload (${(error as Error).message})`
  }
  if (!isObj(p) || typeof p.h !== 'string') return 'payload is not a hub frame (no hub id)'
  if (!CHECKS[kind](p)) return `malformed ${kind} payload`
  return p as unknown as Payloads[K]
}
