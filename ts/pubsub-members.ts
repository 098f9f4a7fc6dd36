/**
 * The two idempotent kinds of pub/sub member: a callback, and a process
 * (whose mailbox gets `{ type: 'pubsub', topic, message }`). Joining the
 * same topic twice with the same callback or process is one membership, and a
 * process leaves every topic the moment it exits (an exit hook, the same
 * mechanism ts/remote.ts uses for links and monitors).
 * @internal
 * @module
 */
import { log } from './logger.js'
import { type Process, deliver, onExit } from './process.js'
import { type LocalMember, type TopicEntry, addLocal, currentEnvelope, newMemberId, removeLocal } from './pubsub-topics.js'

/** A callback subscriber: `(message, topic) => void`. */
export type PubSubCallback<T = any> = (message: T, topic: string) => void

/** A callback member. It runs synchronously inside the fan-out; what it throws is logged. */
export class CallbackMember implements LocalMember {
  readonly id = newMemberId()
  index = -1
  active = true
  constructor(
    readonly entry: TopicEntry,
    readonly key: PubSubCallback,
  ) {}

  deliver(message: unknown, topic: string): void {
    try {
      this.key(message, topic)
    } catch (error) {
      log({ level: 'error', message: `a pub/sub callback subscribed to '${topic}' threw`, error })
    }
  }
}

/** @internal A process member: the publication goes to its mailbox (subject to its mailbox limit). */
export class ProcessMember implements LocalMember {
  readonly id = newMemberId()
  index = -1
  active = true
  constructor(
    readonly entry: TopicEntry,
    readonly key: Process,
  ) {}

  deliver(message: unknown, topic: string): void {
    try {
      deliver(this.key, currentEnvelope(topic, message), false)
    } catch (error) {
      // mailboxOverflow 'error': the publisher is not the one to tell.
      log({ level: 'warn', message: `a publication to '${topic}' was refused by ${this.key.pid}`, pid: this.key.pid, error })
    }
  }
}

/** Each subscribed process's memberships, so its exit removes them all. */
const ofProcess = new WeakMap<Process, Set<ProcessMember>>()

/** Joins `fn` to `entry` (once); the member. */
export function joinCallback(entry: TopicEntry, fn: PubSubCallback): LocalMember {
  const known = entry.byKey.get(fn)
  if (known !== undefined) return known
  const m = new CallbackMember(entry, fn)
  addLocal(m)
  return m
}

/** @internal Joins process `p` to `entry` (once). `p` must be alive. */
export function joinProcess(entry: TopicEntry, p: Process): void {
  if (entry.byKey.has(p)) return
  const m = new ProcessMember(entry, p)
  let mine = ofProcess.get(p)
  if (mine === undefined) {
    ofProcess.set(p, (mine = new Set()))
    onExit(p, () => leaveAll(p))
  }
  mine.add(m)
  addLocal(m)
}

/** @internal Takes the member `key` (a callback or process) out of `entry`; whether it was in. */
export function leave(entry: TopicEntry, key: PubSubCallback | Process): boolean {
  const m = entry.byKey.get(key)
  if (m === undefined) return false
  if (m instanceof ProcessMember) ofProcess.get(m.key)?.delete(m)
  return removeLocal(m)
}

function leaveAll(p: Process): void {
  const mine = ofProcess.get(p)
  if (mine === undefined) return
  ofProcess.delete(p)
  for (const m of mine) removeLocal(m)
}
