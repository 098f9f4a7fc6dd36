/**
 * `dashboard()`: a live web view of the whole cluster, served from any
 * node with `serve()` (ts/serve.ts). While at least one browser is
 * connected, the server gathers every node's overview once per interval
 * over RPC (ts/dashboard-collect.ts) and pushes it over the page's
 * WebSocket: aggregates per node, never per-process lists, except the
 * capped supervision tree of the node each browser chose, which is sent
 * only when it changed. With no browser connected it does nothing.
 * @module
 */
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

import { checkOptions } from './check.js'
import { nodes } from './cluster.js'
import { OBSERVER_MODULE, type NodeOverview, type TreeView, kill, overview, stopNode, tree } from './dashboard-collect.js'
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './dashboard-page/page.js'
import { log } from './logger.js'
import { metrics } from './metrics.js'
import { node } from './node.js'
import { rpc } from './rpc.js'
import { type Server, serve } from './serve.js'
import type { ServerWebSocket } from './websocket.js'

/** What {@link dashboard} takes. */
export interface DashboardOptions {
  /** TCP port; 0 (the default) picks a free one (see `url`). */
  port?: number
  /** Interface to listen on (default `'127.0.0.1'`). */
  hostname?: string
  /** Allow killing processes and stopping nodes from the page (default false: read-only, and the server refuses such requests). */
  control?: boolean
  /** Milliseconds between updates pushed to the page, 250 to 60,000 (default 1000). */
  interval?: number
  /** The most processes of the chosen node's tree sent to the page, 10 to 2000 (default 300). */
  treeCap?: number
}

/** A running dashboard, from {@link dashboard}. */
export interface Dashboard {
  /** The page's address, e.g. `http://127.0.0.1:4000/`. */
  readonly url: URL
  readonly port: number
  /** Whether the page may kill processes and stop nodes. */
  readonly control: boolean
  /** Closes the page's sockets and stops the server. Idempotent. */
  stop(): Promise<void>
}

/** One node as the page sees it. */
interface NodeEntry {
  node: string
  state: 'up' | 'down'
  overview: NodeOverview | null
  /** Why there is no overview (down, or the node did not answer). */
  error?: string
}

interface Client {
  /** The node whose tree this page shows (`null`: this node). */
  selected: string | null
  /** The last tree sent, as JSON, so an unchanged tree is not sent again. */
  lastTree: string
}

/** Nodes seen once stay listed (as down) this long after they were lost. */
const FORGET_DOWN_MS = 5 * 60_000
const require = createRequire(import.meta.url)

function asset(path: string): string {
  return readFileSync(require.resolve(path), 'utf8')
}

function checkNumber(value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`dashboard: ${what} must be a number from ${min} to ${max}`)
  }
  return value
}

/**
 * Serves the cluster dashboard from this node: nodes and their links, the
 * supervision tree of a chosen node (with mailbox depths and restarts),
 * pub/sub topics with members and rates, the shared table's size and top
 * key prefixes, and charts of message, RPC and delivery rates (uPlot,
 * served from the installed package: no CDN). `GET /metrics` on the same
 * port answers this node's Prometheus text.
 *
 * @example
 * await cluster.start({ name: 'ops', cookie })
 * const d = await dashboard({ port: 4000, control: true })
 * console.log(`dashboard at ${d.url}`)
 */
export async function dashboard(options?: DashboardOptions): Promise<Dashboard> {
  checkOptions(options, 'dashboard: options')
  const control = options?.control ?? false
  if (typeof control !== 'boolean') throw new TypeError('dashboard: control must be a boolean')
  const interval = checkNumber(options?.interval, 'interval', 250, 60_000, 1000)
  const treeCap = checkNumber(options?.treeCap, 'treeCap', 10, 2000, 300)
  const uplotJs = asset('uplot/dist/uPlot.iife.min.js')
  const uplotCss = asset('uplot/dist/uPlot.min.css')

  const clients = new Map<ServerWebSocket<undefined>, Client>()
  /** Every node seen, with when it was last seen up. */
  const known = new Map<string, number>()
  let timer: ReturnType<typeof setInterval> | undefined
  let gathering = false
  let stopped = false

  async function gather(): Promise<void> {
    if (gathering || clients.size === 0) return
    gathering = true
    try {
      const now = Date.now()
      const self = node()
      const others = nodes()
      const entries: NodeEntry[] = [{ node: self, state: 'up', overview: overview() }]
      const results = others.length === 0 ? [] : await rpc.multicall(others, OBSERVER_MODULE, 'overview', [], { timeout: Math.max(interval, 1000) })
      for (const r of results) {
        if (r.ok) entries.push({ node: r.node, state: 'up', overview: r.value as unknown as NodeOverview })
        else entries.push({ node: r.node, state: nodes().includes(r.node) ? 'up' : 'down', overview: null, error: String((r.error as Error)?.message ?? r.error) })
      }
      for (const e of entries) if (e.state === 'up') known.set(e.node, now)
      const up = new Set(entries.map((e) => e.node))
      for (const [n, seen] of known) {
        if (up.has(n)) continue
        if (now - seen > FORGET_DOWN_MS) known.delete(n)
        else entries.push({ node: n, state: 'down', overview: null, error: 'down' })
      }
      entries.sort((a, b) => (a.node < b.node ? -1 : 1))
      const message = JSON.stringify({ type: 'overview', self, control, interval, time: now, nodes: entries })
      for (const ws of clients.keys()) ws.send(message)
      await sendTrees(self)
    } catch (error) {
      log({ level: 'warn', message: 'dashboard: gathering the cluster state failed', error })
    } finally {
      gathering = false
    }
  }

  async function sendTrees(self: string): Promise<void> {
    const wanted = new Set<string>()
    for (const c of clients.values()) wanted.add(c.selected ?? self)
    const trees = new Map<string, TreeView | null>()
    await Promise.all(
      [...wanted].map(async (n) => {
        try {
          trees.set(n, n === self ? tree(treeCap) : ((await rpc.call(n, OBSERVER_MODULE, 'tree', [treeCap], { timeout: Math.max(interval, 1000) })) as unknown as TreeView))
        } catch {
          trees.set(n, null)
        }
      }),
    )
    for (const [ws, c] of clients) {
      const n = c.selected ?? self
      const text = JSON.stringify({ type: 'tree', node: n, tree: trees.get(n) ?? null })
      if (text === c.lastTree) continue
      c.lastTree = text
      ws.send(text)
    }
  }

  async function onMessage(ws: ServerWebSocket<undefined>, data: unknown): Promise<void> {
    const reply = (m: object): void => void ws.send(JSON.stringify(m))
    let msg: { type?: unknown; node?: unknown; id?: unknown }
    try {
      msg = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data as Uint8Array)) as typeof msg
      if (typeof msg !== 'object' || msg === null) throw new TypeError('not an object')
    } catch {
      reply({ type: 'error', message: 'expected a JSON object' })
      return
    }
    const target = msg.node
    const isKnown = typeof target === 'string' && (target === node() || known.has(target))
    if (msg.type === 'select') {
      const c = clients.get(ws)
      if (c === undefined || !isKnown) return reply({ type: 'error', message: 'select: unknown node' })
      c.selected = target === node() ? null : target
      c.lastTree = ''
      return void gather()
    }
    if (msg.type === 'kill' || msg.type === 'stop') {
      if (!control) return reply({ type: 'error', message: `${msg.type}: refused, this dashboard is read-only (start it with { control: true })` })
      if (!isKnown) return reply({ type: 'error', message: `${msg.type}: unknown node` })
      try {
        let done: unknown
        if (msg.type === 'kill') {
          if (typeof msg.id !== 'number' || !Number.isSafeInteger(msg.id)) return reply({ type: 'error', message: 'kill: id must be an integer' })
          done = target === node() ? kill(msg.id) : await rpc.call(target, OBSERVER_MODULE, 'kill', [msg.id], { timeout: 5000 })
        } else {
          done = target === node() ? stopNode() : await rpc.call(target, OBSERVER_MODULE, 'stopNode', [], { timeout: 5000 })
        }
        reply({ type: 'done', action: msg.type, node: target, ok: done === true })
      } catch (error) {
        reply({ type: 'error', message: `${msg.type}: ${(error as Error).message}` })
      }
      return
    }
    reply({ type: 'error', message: 'unknown request type' })
  }

  const pages: Record<string, [string, string]> = {
    '/': [PAGE_HTML, 'text/html; charset=utf-8'],
    '/app.js': [PAGE_JS, 'text/javascript; charset=utf-8'],
    '/app.css': [PAGE_CSS, 'text/css; charset=utf-8'],
    '/uplot.js': [uplotJs, 'text/javascript; charset=utf-8'],
    '/uplot.css': [uplotCss, 'text/css; charset=utf-8'],
  }

  const server: Server = await serve(
    async (req) => {
      const path = new URL(req.url).pathname
      if (req.method !== 'GET' && req.method !== 'HEAD') return new Response('method not allowed', { status: 405 })
      if (path === '/metrics') return metrics.handler(req)
      const page = pages[path]
      if (page === undefined) return new Response('not found', { status: 404 })
      return new Response(page[0], { headers: { 'content-type': page[1], 'cache-control': 'no-cache' } })
    },
    {
      ...(options?.port !== undefined && { port: options.port }),
      ...(options?.hostname !== undefined && { hostname: options.hostname }),
      websocket: {
        maxPayload: 4096,
        slowClient: 'drop',
        open(ws) {
          clients.set(ws, { selected: null, lastTree: '' })
          timer ??= setInterval(() => void gather(), interval)
          void gather()
        },
        message: (ws, data) => onMessage(ws, data),
        close(ws) {
          clients.delete(ws)
          if (clients.size === 0 && timer !== undefined) {
            clearInterval(timer)
            timer = undefined
          }
        },
      },
    },
  )

  return {
    url: server.url,
    port: server.port,
    control,
    async stop() {
      if (stopped) return
      stopped = true
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      await server.stop({ timeout: 1000 })
      clients.clear()
    },
  }
}
