// Pub/sub on one node: subscriptions, callbacks and process members,
// counts, ordering, slow consumers, bad input.
import { type CallbackSubscription, type LogEvent, NoProcessError, Pid, type PubSubMessage, Subscription, exit, pubsub, setLogger, spawn } from 'ironwood'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

let topicSeq = 0
/** A topic no other test uses. */
const fresh = (name = 't'): string => `${name}:${++topicSeq}`

let logs: LogEvent[] = []
beforeEach(() => {
  logs = []
  setLogger((e) => logs.push(e))
})
afterEach(() => {
  setLogger(null)
})

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('subscribe and publish', () => {
  it('delivers to every subscriber and returns how many it reached', async () => {
    const topic = fresh()
    const a = pubsub.subscribe(topic)
    const b = pubsub.subscribe(topic)
    expect(a).toBeInstanceOf(Subscription)
    expect(pubsub.publish(topic, { n: 1 })).toBe(2)
    expect(await a.receive({ timeout: 0 })).toEqual({ n: 1 })
    expect(await b.receive({ timeout: 0 })).toEqual({ n: 1 })
    expect(pubsub.publish(fresh(), 'nobody')).toBe(0)
    a.unsubscribe()
    b.unsubscribe()
  })

  it('receive resolves undefined when nothing arrives in time, and the message when one does', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe(topic)
    expect(await sub.receive({ timeout: 0 })).toBeUndefined()
    expect(await sub.receive({ timeout: 30 })).toBeUndefined()
    const later = sub.receive({ timeout: 5000 })
    setTimeout(() => pubsub.publish(topic, 'hello'), 10)
    expect(await later).toBe('hello')
    const forever = sub.receive()
    pubsub.publish(topic, 'again')
    expect(await forever).toBe('again')
    sub.unsubscribe()
  })

  it('is an async iterable that keeps publication order; breaking out unsubscribes', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe<number>(topic)
    for (let i = 0; i < 500; i++) pubsub.publish(topic, i)
    const got: number[] = []
    for await (const n of sub) {
      got.push(n)
      if (n === 499) break
    }
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(sub.closed).toBe(true)
    expect(pubsub.members(topic)).toBe(0)
    expect(pubsub.publish(topic, 1)).toBe(0)
  })

  it('an iterator waiting for the next message gets it when it is published', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe<string>(topic)
    const got: string[] = []
    const loop = (async () => {
      for await (const m of sub) got.push(m)
    })()
    await tick()
    pubsub.publish(topic, 'a')
    await tick()
    pubsub.publish(topic, 'b')
    pubsub.publish(topic, 'c')
    await tick()
    sub.unsubscribe()
    await loop
    expect(got).toEqual(['a', 'b', 'c'])
  })

  it('unsubscribe stops deliveries, keeps what was buffered, then ends iteration and receive', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe(topic)
    const waiting = pubsub.subscribe(topic)
    const pendingReceive = waiting.receive()
    const pendingNext = waiting.next()
    pubsub.publish(topic, 1)
    expect(await pendingReceive).toBe(1)
    expect(sub.unsubscribe()).toBe(true)
    expect(sub.unsubscribe()).toBe(false)
    expect(pubsub.publish(topic, 2)).toBe(1)
    expect(await sub.receive({ timeout: 0 })).toBe(1)
    expect(await sub.receive()).toBeUndefined()
    expect(await sub.next()).toEqual({ value: undefined, done: true })
    // A consumer waiting when the subscription closes is told it is over.
    expect(await pendingNext).toEqual({ value: 2, done: false })
    const next = waiting.next()
    const recv = waiting.receive()
    waiting.unsubscribe()
    expect(await next).toEqual({ value: undefined, done: true })
    expect(await recv).toBeUndefined()
    expect(pubsub.members(topic)).toBe(0)
  })

  it('drain takes what is buffered at once, oldest first, at most max', () => {
    const topic = fresh()
    const sub = pubsub.subscribe<number>(topic)
    expect(sub.drain()).toEqual([])
    for (let i = 0; i < 10; i++) pubsub.publish(topic, i)
    expect(sub.drain(3)).toEqual([0, 1, 2])
    expect(sub.drain()).toEqual([3, 4, 5, 6, 7, 8, 9])
    expect(sub.size).toBe(0)
    expect(() => sub.drain(0)).toThrow(RangeError)
    expect(() => sub.drain('all' as never)).toThrow(TypeError)
    sub.unsubscribe()
  })

  it('batches yields everything waiting (at most max) and waits when there is nothing; leaving the loop unsubscribes', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe<number>(topic)
    expect(() => sub.batches(0)).toThrow(RangeError)
    for (let i = 0; i < 5; i++) pubsub.publish(topic, i)
    const seen: number[][] = []
    const loop = (async () => {
      for await (const batch of sub.batches(4)) {
        seen.push(batch)
        if (batch.includes(99)) break
      }
    })()
    await tick()
    expect(seen).toEqual([[0, 1, 2, 3], [4]])
    pubsub.publish(topic, 98)
    pubsub.publish(topic, 99)
    await loop
    expect(seen).toEqual([[0, 1, 2, 3], [4], [98, 99]])
    expect(sub.closed).toBe(true)
    expect(pubsub.members(topic)).toBe(0)
  })

  it('batches ends once the subscription is closed and drained', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe<number>(topic)
    pubsub.publish(topic, 1)
    sub.unsubscribe()
    const seen: number[][] = []
    for await (const batch of sub.batches()) seen.push(batch)
    expect(seen).toEqual([[1]])
  })

  it('local subscribers share the published object (no copy)', async () => {
    const topic = fresh()
    const a = pubsub.subscribe(topic)
    const b = pubsub.subscribe(topic)
    const msg = { reading: [1, 2, 3] }
    pubsub.publish(topic, msg)
    const ga = await a.receive({ timeout: 0 })
    const gb = await b.receive({ timeout: 0 })
    expect(ga).toBe(msg)
    expect(gb).toBe(msg)
    a.unsubscribe()
    b.unsubscribe()
  })

  it('members and topics count every kind of member', async () => {
    const topic = fresh('count')
    const other = fresh('count')
    expect(pubsub.members(topic)).toBe(0)
    const sub = pubsub.subscribe(topic)
    const cb = pubsub.subscribe(topic, () => {})
    const pid = spawn(async (self) => {
      await self.receive((m) => m === 'stop')
    })
    pubsub.subscribe(topic, pid)
    pubsub.subscribe(other, pid)
    expect(pubsub.members(topic)).toBe(3)
    expect(pubsub.members(other)).toBe(1)
    expect(pubsub.topics()).toEqual(expect.arrayContaining([topic, other]))
    expect(pubsub.topics()).toEqual([...pubsub.topics()].sort())
    sub.unsubscribe()
    cb.unsubscribe()
    expect(pubsub.unsubscribe(topic, pid)).toBe(true)
    expect(pubsub.unsubscribe(topic, pid)).toBe(false)
    expect(pubsub.members(topic)).toBe(0)
    expect(pubsub.topics()).not.toContain(topic)
    expect(pubsub.topics()).toContain(other)
    exit(pid, 'kill')
    expect(pubsub.topics()).not.toContain(other)
  })
})

describe('callback subscribers', () => {
  it('are called with (message, topic); subscribing the same function twice is one membership', () => {
    const topic = fresh()
    const got: unknown[] = []
    const fn = (m: unknown, t: string): void => void got.push([m, t])
    const h1 = pubsub.subscribe(topic, fn)
    const h2 = pubsub.subscribe(topic, fn)
    expect(h1.topic).toBe(topic)
    expect(pubsub.members(topic)).toBe(1)
    expect(pubsub.publish(topic, 'x')).toBe(1)
    expect(got).toEqual([['x', topic]])
    expect(h2.unsubscribe()).toBe(true)
    expect(h1.unsubscribe()).toBe(false)
    expect(pubsub.publish(topic, 'y')).toBe(0)
    expect(got).toHaveLength(1)
  })

  it('pubsub.unsubscribe(topic, subscription) removes it from its own topic only', () => {
    const topic = fresh()
    const sub = pubsub.subscribe(topic)
    expect(pubsub.unsubscribe(fresh(), sub)).toBe(false)
    expect(sub.closed).toBe(false)
    expect(pubsub.unsubscribe(topic, sub)).toBe(true)
    expect(sub.closed).toBe(true)
    expect(pubsub.unsubscribe(topic, sub)).toBe(false)
    expect(pubsub.members(topic)).toBe(0)
  })

  it('pubsub.unsubscribe(topic, callback) removes one', () => {
    const topic = fresh()
    const fn = (): void => {}
    pubsub.subscribe(topic, fn)
    expect(pubsub.unsubscribe(topic, fn)).toBe(true)
    expect(pubsub.unsubscribe(topic, fn)).toBe(false)
    expect(pubsub.members(topic)).toBe(0)
  })

  it('a throwing callback is logged and does not stop the others or reach the publisher', () => {
    const topic = fresh()
    let reached = 0
    const bad = pubsub.subscribe(topic, () => {
      throw new Error('broken dashboard')
    })
    const good = pubsub.subscribe(topic, () => void reached++)
    expect(pubsub.publish(topic, 1)).toBe(2)
    expect(reached).toBe(1)
    expect(logs.some((e) => e.level === 'error' && (e.error as Error).message === 'broken dashboard')).toBe(true)
    bad.unsubscribe()
    good.unsubscribe()
  })

  it('a publish made inside a callback is delivered after the current one, so every member sees the same order', () => {
    const topic = fresh()
    const seen: Record<string, string[]> = { a: [], b: [], c: [] }
    const a = pubsub.subscribe(topic, (m: string) => {
      seen.a!.push(m)
      if (m === 'first') pubsub.publish(topic, 'reply')
    })
    const b = pubsub.subscribe(topic, (m: string) => void seen.b!.push(m))
    const c = pubsub.subscribe(topic, (m: string) => void seen.c!.push(m))
    pubsub.publish(topic, 'first')
    expect(seen).toEqual({ a: ['first', 'reply'], b: ['first', 'reply'], c: ['first', 'reply'] })
    for (const h of [a, b, c]) h.unsubscribe()
  })

  it('a member that leaves during a fan-out gets nothing more; one that joins gets only later publications', () => {
    const topic = fresh()
    const got: string[] = []
    let late: CallbackSubscription | undefined
    const lateFn = (m: string): void => void got.push(`late:${m}`)
    const victim = { h: undefined as undefined | { unsubscribe(): boolean } }
    const first = pubsub.subscribe(topic, (m: string) => {
      got.push(`first:${m}`)
      victim.h?.unsubscribe()
      late ??= pubsub.subscribe(topic, lateFn)
    })
    victim.h = pubsub.subscribe(topic, (m: string) => void got.push(`victim:${m}`))
    pubsub.publish(topic, '1')
    pubsub.publish(topic, '2')
    // Order between members is not specified; what each one got is.
    expect(got.filter((g) => g.startsWith('victim'))).toEqual([])
    expect(got.filter((g) => g.startsWith('first'))).toEqual(['first:1', 'first:2'])
    expect(got.filter((g) => g.startsWith('late'))).toEqual(['late:2'])
    expect(pubsub.members(topic)).toBe(2)
    first.unsubscribe()
    pubsub.unsubscribe(topic, lateFn)
    expect(pubsub.members(topic)).toBe(0)
  })
})

describe('process members', () => {
  it('get { type: "pubsub", topic, message } in their mailbox, once however often they join', async () => {
    const topic = fresh()
    const received: unknown[] = []
    const pid = spawn(async (self) => {
      for (;;) {
        const m = await self.receive()
        if (m === 'stop') return
        received.push(m)
      }
    })
    pubsub.subscribe(topic, pid)
    pubsub.subscribe(topic, pid)
    expect(pubsub.members(topic)).toBe(1)
    expect(pubsub.publish(topic, { v: 1 })).toBe(1)
    expect(pubsub.publish(topic, { v: 2 })).toBe(1)
    await tick()
    expect(received).toEqual([
      { type: 'pubsub', topic, message: { v: 1 } },
      { type: 'pubsub', topic, message: { v: 2 } },
    ] satisfies PubSubMessage[])
    pubsub.unsubscribe(topic, pid)
    exit(pid, 'kill')
  })

  it('a process that exits leaves every topic at once', async () => {
    const t1 = fresh()
    const t2 = fresh()
    const pid = spawn(async (self) => {
      await self.receive((m) => m === 'never')
    })
    pubsub.subscribe(t1, pid)
    pubsub.subscribe(t2, pid)
    expect(pubsub.members(t1) + pubsub.members(t2)).toBe(2)
    exit(pid, 'kill')
    expect(pubsub.members(t1)).toBe(0)
    expect(pubsub.members(t2)).toBe(0)
    expect(pubsub.publish(t1, 'x')).toBe(0)
  })

  it('a process that returns normally leaves too', async () => {
    const topic = fresh()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const pid = spawn(async () => {
      await gate
    })
    pubsub.subscribe(topic, pid)
    expect(pubsub.members(topic)).toBe(1)
    release()
    const sub = pubsub.subscribe(topic)
    for (let i = 0; i < 50 && pubsub.members(topic) > 1; i++) await tick()
    expect(pubsub.members(topic)).toBe(1)
    sub.unsubscribe()
  })

  it('a dead pid cannot join (NoProcessError); a non-pid, non-function target is a TypeError', async () => {
    const pid = spawn(() => {})
    await tick()
    expect(() => pubsub.subscribe(fresh(), pid)).toThrow(NoProcessError)
    expect(() => pubsub.subscribe(fresh(), pid)).toThrow(/not alive/)
    expect(() => pubsub.unsubscribe(fresh(), 'name' as unknown as Pid)).toThrow(TypeError)
  })
})

describe('slow consumers', () => {
  it('a full buffer drops the oldest message by default and counts it', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe<number>(topic, { buffer: 4 })
    for (let i = 1; i <= 10; i++) pubsub.publish(topic, i)
    expect(sub.size).toBe(4)
    expect(sub.dropped).toBe(6)
    const got: number[] = []
    for (let m = await sub.receive({ timeout: 0 }); m !== undefined; m = await sub.receive({ timeout: 0 })) got.push(m)
    expect(got).toEqual([7, 8, 9, 10])
    expect(logs.filter((e) => e.level === 'warn' && e.message.includes('full'))).toHaveLength(1)
    // Room again: nothing more is dropped.
    pubsub.publish(topic, 11)
    expect(await sub.receive({ timeout: 0 })).toBe(11)
    expect(sub.dropped).toBe(6)
    sub.unsubscribe()
  })

  it("overflow: 'drop_newest' keeps the oldest", async () => {
    const topic = fresh()
    const sub = pubsub.subscribe<number>(topic, { buffer: 3, overflow: 'drop_newest' })
    for (let i = 1; i <= 10; i++) pubsub.publish(topic, i)
    expect(sub.dropped).toBe(7)
    const got: number[] = []
    while (sub.size > 0) got.push((await sub.receive({ timeout: 0 }))!)
    expect(got).toEqual([1, 2, 3])
    sub.unsubscribe()
  })

  it('the default buffer is bounded', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe(topic)
    for (let i = 0; i < 5000; i++) pubsub.publish(topic, i)
    expect(sub.size).toBe(1024)
    expect(sub.dropped).toBe(5000 - 1024)
    expect(await sub.receive({ timeout: 0 })).toBe(5000 - 1024)
    sub.unsubscribe()
  })

  it("latestBy keeps only the newest message per key while the consumer is behind, in the keys' first order", async () => {
    const topic = fresh()
    type Reading = { deviceId: string; celsius: number }
    const sub = pubsub.subscribe<Reading | string>(topic, { latestBy: 'deviceId' })
    for (let i = 0; i < 100; i++) {
      pubsub.publish(topic, { deviceId: 'a', celsius: i })
      pubsub.publish(topic, { deviceId: 'b', celsius: 1000 + i })
    }
    pubsub.publish(topic, 'no key') // never replaced
    pubsub.publish(topic, { deviceId: 'c', celsius: -1 })
    expect(sub.size).toBe(4)
    expect(sub.replaced).toBe(198)
    expect(sub.dropped).toBe(0)
    const got: Array<Reading | string> = []
    while (sub.size > 0) got.push((await sub.receive({ timeout: 0 }))!)
    expect(got).toEqual([{ deviceId: 'a', celsius: 99 }, { deviceId: 'b', celsius: 1099 }, 'no key', { deviceId: 'c', celsius: -1 }])
    // Caught up: the next reading of 'a' is queued again, not merged into a delivered one.
    pubsub.publish(topic, { deviceId: 'a', celsius: 5 })
    expect(await sub.receive({ timeout: 0 })).toEqual({ deviceId: 'a', celsius: 5 })
    sub.unsubscribe()
  })

  it('latestBy with more keys than the buffer drops the oldest key', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe<{ k: number }>(topic, { latestBy: 'k', buffer: 2 })
    pubsub.publish(topic, { k: 1 })
    pubsub.publish(topic, { k: 2 })
    pubsub.publish(topic, { k: 3 })
    pubsub.publish(topic, { k: 3 })
    expect(sub.dropped).toBe(1)
    expect(sub.replaced).toBe(1)
    expect(await sub.receive({ timeout: 0 })).toEqual({ k: 2 })
    expect(await sub.receive({ timeout: 0 })).toEqual({ k: 3 })
    expect(await sub.receive({ timeout: 0 })).toBeUndefined()
    // Key 1 was evicted with its message: a new one for it is queued afresh.
    pubsub.publish(topic, { k: 1 })
    expect(await sub.receive({ timeout: 0 })).toEqual({ k: 1 })
    sub.unsubscribe()
  })
})

describe('bad input', () => {
  it('rejects empty and non-string topics with a TypeError naming the topic', () => {
    for (const call of [
      () => pubsub.subscribe(''),
      () => pubsub.publish('', 1),
      () => pubsub.members(''),
      () => pubsub.unsubscribe('', () => {}),
    ]) {
      expect(call).toThrow(TypeError)
      expect(call).toThrow(/topic must not be empty/)
    }
    for (const bad of [42, null, undefined, { topic: 'x' }, Symbol('t')]) {
      expect(() => pubsub.subscribe(bad as unknown as string)).toThrow(/topic must be a string/)
      expect(() => pubsub.publish(bad as unknown as string, 1)).toThrow(TypeError)
    }
  })

  it('rejects a message that is not a term, naming the path, and delivers nothing', async () => {
    const topic = fresh()
    const sub = pubsub.subscribe(topic)
    expect(() => pubsub.publish(topic, { a: [1, () => 2] } as never)).toThrow(/message\.a\[1\] is a function/)
    expect(() => pubsub.publish(topic, undefined as never)).toThrow(TypeError)
    expect(() => pubsub.publish(topic, new (class Point {})() as never)).toThrow(/an instance of Point/)
    expect(sub.size).toBe(0)
    expect(await sub.receive({ timeout: 0 })).toBeUndefined()
    sub.unsubscribe()
  })

  it('rejects bad subscribe options with a TypeError or RangeError naming the option', () => {
    const topic = fresh()
    expect(() => pubsub.subscribe(topic, { buffer: 0 })).toThrow(RangeError)
    expect(() => pubsub.subscribe(topic, { buffer: 1.5 })).toThrow(/buffer must be a positive integer/)
    expect(() => pubsub.subscribe(topic, { buffer: '10' as never })).toThrow(TypeError)
    expect(() => pubsub.subscribe(topic, { overflow: 'block' as never })).toThrow(/overflow must be/)
    expect(() => pubsub.subscribe(topic, { latestBy: '' })).toThrow(/latestBy/)
    expect(() => pubsub.subscribe(topic, { bufer: 10 } as never)).toThrow(/unknown option 'bufer'/)
    expect(() => pubsub.subscribe(topic, null as never)).toThrow(TypeError)
    expect(pubsub.members(topic)).toBe(0)
  })

  it('rejects bad receive timeouts', () => {
    const sub = pubsub.subscribe(fresh())
    expect(() => sub.receive({ timeout: -1 })).toThrow(RangeError)
    expect(() => sub.receive({ timeout: 'soon' as never })).toThrow(TypeError)
    sub.unsubscribe()
  })
})
