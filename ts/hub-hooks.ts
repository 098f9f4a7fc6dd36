/**
 * The hub's hooks (ProcessHub's, in camelCase): named points where user
 * handlers run with one payload object. Higher `priority` runs first; a
 * handler id is unique per hook; a throwing handler is logged and never
 * breaks the hub. `childDataAlter` is the one alter hook: each handler gets
 * the value the previous one returned. See docs/hub.md for every payload.
 * @module
 */
import type { Pid } from './pid.js'
import type { Term } from './terms.js'
import { log } from './logger.js'

/** A child of the hub and where it runs. */
export interface HubChildNodes {
  /** The child id. */
  id: string
  /** Where it runs: one entry per replica (one under `singularity`). */
  nodes: Array<{ node: string; pid: Pid }>
}

/** What `childDataAlter` handlers receive and return. */
export interface ChildData {
  /** The child spec about to start. */
  spec: { id: string; start: [string, Term[]]; restart: 'permanent' | 'transient' | 'temporary' }
  /** Its metadata. */
  metadata: Record<string, Term>
  /** The nodes it is about to start on. */
  nodes: string[]
}

/** Every hook and its payload. */
export interface HubHookPayloads {
  preClusterJoin: { node: string }
  postClusterJoin: { node: string }
  preClusterLeave: { node: string }
  postClusterLeave: { node: string }
  registryPidInsert: HubChildNodes
  registryPidRemove: { id: string }
  preChildrenStart: { children: Array<{ id: string; start: [string, Term[]] }> }
  postChildrenStart: { results: Array<{ id: string; pid?: Pid; error?: string }> }
  processStartups: { started: Array<{ id: string; pid: Pid }> }
  childPidUpdate: { id: string; node: string; pid: Pid }
  childrenMigrated: { node: string; ids: string[] }
  forwardedMigration: { ids: string[]; to: string }
  lockChanged: { locked: boolean; reason: string }
  preRedistribution: { event: 'nodeup' | 'nodedown'; node: string }
  postRedistribution: { event: 'nodeup' | 'nodedown'; node: string }
  preChildrenRedistribution: { event: 'nodeup' | 'nodedown'; node: string; ids: string[] }
  hubShutdown: { reason: string }
  childDataAlter: ChildData
}

/** A hook name. */
export type HubHookName = keyof HubHookPayloads

/** A handler of hook `K`; `childDataAlter` handlers return the (possibly changed) data. */
export type HubHookHandler<K extends HubHookName> = K extends 'childDataAlter'
  ? (data: ChildData) => ChildData | void
  : (payload: HubHookPayloads[K]) => void

/** Options of `hub.on`. */
export interface HubHookOptions {
  /** The handler's id, unique for this hook (default: generated). */
  id?: string | undefined
  /** Higher runs first (default 0); equal priorities run in the order added. */
  priority?: number | undefined
}

/** The names `hub.on` accepts. */
export const HOOK_NAMES: readonly HubHookName[] = [
  'preClusterJoin',
  'postClusterJoin',
  'preClusterLeave',
  'postClusterLeave',
  'registryPidInsert',
  'registryPidRemove',
  'preChildrenStart',
  'postChildrenStart',
  'processStartups',
  'childPidUpdate',
  'childrenMigrated',
  'forwardedMigration',
  'lockChanged',
  'preRedistribution',
  'postRedistribution',
  'preChildrenRedistribution',
  'hubShutdown',
  'childDataAlter',
]

interface Entry {
  id: string
  priority: number
  seq: number
  fn: (payload: any) => unknown
}

/** @internal One hub's handlers. */
export class HubHooks {
  readonly #byName = new Map<HubHookName, Entry[]>()
  #seq = 0
  #hubId: string

  constructor(hubId: string) {
    this.#hubId = hubId
  }

  /** Adds a handler; returns its id. TypeError for an unknown hook or a duplicate id. */
  on<K extends HubHookName>(name: K, fn: HubHookHandler<K>, opts: HubHookOptions = {}): string {
    checkName(name, 'hub.on')
    if (typeof fn !== 'function') throw new TypeError(`hub.on('${name}'): the handler must be a function`)
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`hub.on('${name}'): options must be an object like { id, priority }`)
    const { priority = 0 } = opts
    if (typeof priority !== 'number' || !Number.isFinite(priority)) {
      throw new TypeError(`hub.on('${name}'): priority must be a finite number, got ${String(priority)}`)
    }
    const seq = ++this.#seq
    const id = opts.id ?? `${name}#${seq}`
    if (typeof id !== 'string' || id.length === 0) throw new TypeError(`hub.on('${name}'): id must be a non-empty string`)
    const list = this.#byName.get(name) ?? []
    if (list.some((e) => e.id === id)) throw new TypeError(`hub.on('${name}'): a handler with id '${id}' is already registered`)
    list.push({ id, priority, seq, fn })
    list.sort((a, b) => b.priority - a.priority || a.seq - b.seq)
    this.#byName.set(name, list)
    return id
  }

  /** Removes a handler; whether it was there. */
  off(name: HubHookName, id: string): boolean {
    checkName(name, 'hub.off')
    const list = this.#byName.get(name)
    const at = list?.findIndex((e) => e.id === id) ?? -1
    if (at < 0) return false
    list!.splice(at, 1)
    return true
  }

  /** Whether any handler listens to `name` (lets callers skip building a payload). */
  has(name: HubHookName): boolean {
    return (this.#byName.get(name)?.length ?? 0) > 0
  }

  /** Runs every handler of `name` with `payload`; a throw is logged, never propagated. */
  emit<K extends Exclude<HubHookName, 'childDataAlter'>>(name: K, payload: HubHookPayloads[K]): void {
    const list = this.#byName.get(name)
    if (list === undefined) return
    for (const e of [...list]) {
      try {
        const r = e.fn(payload)
        if (r instanceof Promise) r.catch((error: unknown) => this.#logThrow(name, e.id, error))
      } catch (error) {
        this.#logThrow(name, e.id, error)
      }
    }
  }

  /** Runs the `childDataAlter` handlers in turn; a handler that throws or returns a bad shape is skipped (and logged). */
  alter(data: ChildData): ChildData {
    const list = this.#byName.get('childDataAlter')
    if (list === undefined) return data
    let current = data
    for (const e of [...list]) {
      try {
        const next = e.fn(current) as ChildData | undefined
        if (next === undefined) continue
        if (typeof next !== 'object' || next === null || typeof next.spec !== 'object' || next.spec === null || next.spec.id !== current.spec.id) {
          log({ level: 'error', message: `hub ${this.#hubId}: childDataAlter handler '${e.id}' returned a bad value (it must return { spec, metadata, nodes } with the same spec.id); ignored` })
          continue
        }
        current = next
      } catch (error) {
        this.#logThrow('childDataAlter', e.id, error)
      }
    }
    return current
  }

  #logThrow(name: string, id: string, error: unknown): void {
    log({ level: 'error', message: `hub ${this.#hubId}: hook ${name} handler '${id}' threw`, error })
  }
}

function checkName(name: unknown, what: string): asserts name is HubHookName {
  if (typeof name !== 'string' || !HOOK_NAMES.includes(name as HubHookName)) {
    throw new TypeError(`${what}: unknown hook ${JSON.stringify(name)}; hooks are ${HOOK_NAMES.join(', ')}`)
  }
}
