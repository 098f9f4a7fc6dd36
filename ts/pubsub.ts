/**
 * Pub/sub (Erlang's pg): named topics whose members may be on any node.
 * Subscribe with a buffered {@link Subscription}, a callback, or a process;
 * `publish` reaches every member cluster-wide: one copy per other node that
 * has members, fanned out there, and a local fan-out that copies nothing.
 *
 * ```ts
 * const sub = pubsub.subscribe('telemetry', { latestBy: 'deviceId' })
 * pubsub.publish('telemetry', { deviceId: 'd1', celsius: 21.5 })  // 1
 * for await (const reading of sub) { ... }
 * ```
 * See docs/pubsub.md for the consistency model and the costs.
 * @module
 */
import { checkName, describe } from './check.js'
import { NoProcessError } from './errors.js'
import { counters } from './metrics-counters.js'
import { Pid } from './pid.js'
import { Process } from './process.js'
import { publishRemote } from './pubsub-cluster.js'
import { type PubSubCallback, joinCallback, joinProcess, leave } from './pubsub-members.js'
import { entryFor, fanOut, removeLocal, topics as topicTable } from './pubsub-topics.js'
import { type SubscribeOptions, Subscription, checkSubscribeOptions } from './subscription.js'
import { type Term, assertTerm } from './terms.js'

export type { PubSubCallback } from './pubsub-members.js'
export type { PubSubMessage } from './pubsub-topics.js'

/** What `pubsub.subscribe(topic, callback)` returns. */
export interface CallbackSubscription {
  /** The topic. */
  readonly topic: string
  /** Leaves the topic; whether the callback was subscribed. */
  unsubscribe(): boolean
}

function checkTopic(topic: unknown, what: string): string {
  return checkName(topic, `${what}: topic`)
}

/** The live local process a pid (or a process's `self`) names. */
function memberProcess(target: Pid | Process, what: string): Process {
  if (target instanceof Process) {
    if (!target.alive) throw new NoProcessError(`${what}: ${target.pid} is not alive`)
    return target
  }
  if (target.home !== null) {
    throw new TypeError(`${what}: ${target} is a process of another node; a process joins topics on its own node`)
  }
  if (target.proc === null) throw new NoProcessError(`${what}: ${target} is not alive`)
  return target.proc
}

/**
 * Joins `topic` with a buffered {@link Subscription} (read it with
 * `for await` or `receive({ timeout })`).
 */
function subscribe<T = Term>(topic: string, options?: SubscribeOptions): Subscription<T>
/**
 * Joins `topic` with a callback, called synchronously for every publication
 * as `(message, topic)`. Subscribing the same function again is one
 * membership. What it throws is logged and does not reach the publisher.
 */
function subscribe<T = any>(topic: string, callback: PubSubCallback<T>): CallbackSubscription
/**
 * Joins `topic` with a local process: publications arrive in its mailbox as
 * `{ type: 'pubsub', topic, message }`. Joining twice is one membership; the
 * process leaves every topic the moment it exits.
 */
function subscribe(topic: string, pid: Pid): void
function subscribe(
  topic: string,
  target?: SubscribeOptions | PubSubCallback | Pid,
): Subscription<unknown> | CallbackSubscription | void {
  checkTopic(topic, 'pubsub.subscribe')
  if (typeof target === 'function') {
    const m = joinCallback(entryFor(topic), target)
    return { topic, unsubscribe: () => removeLocal(m) }
  }
  if (target instanceof Pid || target instanceof Process) {
    joinProcess(entryFor(topic), memberProcess(target, 'pubsub.subscribe'))
    return
  }
  const options = checkSubscribeOptions(target, 'pubsub.subscribe')
  return Subscription.join(entryFor(topic), options)
}

/**
 * Publishes `message` (a term) to every member of `topic` on every node, and
 * returns how many members it was sent to, from this node's view of the
 * membership (like `pg:get_members`). Local members get the very same object
 * (treat it as immutable); each other node with members gets one copy and
 * fans it out there. Per-publisher order is kept for every member.
 * TypeError for a bad topic or a non-term message (naming the path);
 * RangeError for a message larger than a frame may be (nothing is sent).
 */
function publish(topic: string, message: Term): number {
  checkTopic(topic, 'pubsub.publish')
  if (counters.on) counters.pubsubPublished++
  const t = topicTable.get(topic)
  if (t === undefined || t.remoteCount === 0) {
    assertTerm(message, 'message')
    if (t === undefined || t.localCount === 0) return 0
    const local = t.localCount
    fanOut(t, message)
    return local
  }
  const remote = publishRemote(t, message)
  const local = t.localCount
  if (local > 0) fanOut(t, message)
  return remote + local
}

/** Takes a process, callback or Subscription out of `topic`; whether it was a member. */
function unsubscribe(topic: string, member: Pid | PubSubCallback | Subscription<any>): boolean {
  checkTopic(topic, 'pubsub.unsubscribe')
  const t = topicTable.get(topic)
  if (typeof member === 'function') return t !== undefined && leave(t, member)
  if (member instanceof Subscription) return member.topic === topic && member.unsubscribe()
  if (!(member instanceof Pid) && !((member as unknown) instanceof Process)) {
    throw new TypeError(`pubsub.unsubscribe: expected a Pid, a callback or a Subscription, got ${describe(member)}`)
  }
  const p = member instanceof Pid ? member.proc : (member as unknown as Process)
  return t !== undefined && p !== null && leave(t, p)
}

/** How many members `topic` has on every node, as this node knows. */
function members(topic: string): number {
  checkTopic(topic, 'pubsub.members')
  const t = topicTable.get(topic)
  return t === undefined ? 0 : t.localCount + t.remoteCount
}

/** The topics with at least one member on any node, as this node knows, sorted. */
function topics(): string[] {
  const out: string[] = []
  for (const t of topicTable.values()) if (t.localCount + t.remoteCount > 0) out.push(t.name)
  return out.sort()
}

/**
 * Cluster-wide publish/subscribe (Erlang's pg). Membership is replicated to
 * every node; a member whose process exits, or whose node goes down, leaves
 * its topics. See docs/pubsub.md.
 */
export const pubsub = {
  subscribe,
  publish,
  unsubscribe,
  members,
  topics,
}
