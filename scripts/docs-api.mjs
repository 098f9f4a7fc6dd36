// Generates the API reference (docs/api/*.md) from the TSDoc of the public
// API with TypeDoc + typedoc-plugin-markdown: `npm run docs:api`.
//
// One page per concept. The public API is exactly what ts/index.ts exports,
// so the concepts are derived from it: each module index.ts re-exports from
// is its own page, except the small modules merged into a bigger concept
// below. For each page a generated entry file (.typedoc/, ignored) re-exports
// just what index.ts exports from those modules, so a new module (pubsub,
// serve, hub) gets its page by being exported from index.ts, and nothing
// internal is documented.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..')
const work = join(root, '.typedoc')
const out = join(root, 'docs/api')

// Small modules documented with the concept they belong to (module -> page).
const MERGE = {
  pid: 'process',
  ref: 'process',
  'dynamic-supervisor': 'supervisor',
  'child-spec': 'supervisor',
  'supervisor-server': 'supervisor',
  node: 'cluster',
  subscription: 'pubsub',
  'serve-options': 'serve',
  websocket: 'serve',
  'hub-ring': 'hub',
}
// Page titles; a page without one is titled by its module name.
const TITLES = {
  state: 'Shared state (ETS): state, Table',
  terms: 'Terms: what can be stored and sent',
  process: 'Processes: spawn, send, links, monitors, Pid, Ref',
  genserver: 'GenServer',
  supervisor: 'Supervisor and DynamicSupervisor',
  functions: 'Registered functions',
  cluster: 'Cluster: start, connect, node, nodes',
  rpc: 'RPC',
  errors: 'Errors',
  logger: 'Logger',
  introspection: 'Introspection',
  pubsub: 'Pub/sub',
  serve: 'HTTP server with hooks and WebSockets',
  hub: 'Process hub',
  metrics: 'Metrics',
  dashboard: 'Dashboard',
}

const index = readFileSync(join(root, 'ts/index.ts'), 'utf8')
const pages = new Map() // page -> export statements
for (const m of index.matchAll(/export\s+(\*|\{[^}]*\})\s+from\s+'\.\/([\w-]+)\.js'/g)) {
  const [, what, mod] = m
  const page = MERGE[mod] ?? mod
  if (!pages.has(page)) pages.set(page, [])
  pages.get(page).push(`export ${what.replace(/\s+/g, ' ')} from '../ts/${mod}.js'`)
}
if (pages.size === 0) throw new Error('docs-api: found no exports in ts/index.ts')

rmSync(work, { recursive: true, force: true })
mkdirSync(work, { recursive: true })
const entries = []
for (const [page, lines] of pages) {
  const file = join(work, `${page}.ts`)
  // `@module <page>` names the page; its text is the source module's own summary.
  const summary = moduleSummary(page)
  writeFileSync(file, `/**\n${summary}\n * @module ${page}\n */\n${lines.join('\n')}\n`)
  entries.push(file)
}
writeFileSync(
  join(work, 'tsconfig.json'),
  JSON.stringify({ extends: '../tsconfig.base.json', compilerOptions: { noEmit: true }, include: ['../ts/**/*.ts', './*.ts'] }, null, 2),
)

// Generated into .typedoc/out and copied over docs/api only on success, so a
// failed run (say, a type error TypeDoc reports) leaves the committed pages as they were.
const tmpOut = join(work, 'out')
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules/typedoc/bin/typedoc'),
    '--options',
    join(root, 'typedoc.json'),
    '--tsconfig',
    join(work, 'tsconfig.json'),
    '--out',
    tmpOut,
    ...entries.flatMap((e) => ['--entryPoints', e]),
  ],
  { cwd: root, stdio: 'inherit' },
)
rmSync(out, { recursive: true, force: true })
cpSync(tmpOut, out, { recursive: true })
console.log(`docs-api: ${pages.size} pages in docs/api/: ${[...pages.keys()].join(', ')}`)

/** The module comment of ts/<page>.ts (without its tags), as comment lines, with a title. */
function moduleSummary(page) {
  let text = ''
  try {
    const src = readFileSync(join(root, 'ts', `${page}.ts`), 'utf8')
    const m = src.match(/^\/\*\*([\s\S]*?)\*\//)
    if (m && /@module/.test(m[1])) {
      text = m[1]
        .split('\n')
        .map((l) => l.replace(/^\s*\* ?/, ''))
        .filter((l) => !l.startsWith('@'))
        .join('\n')
        .trim()
    }
  } catch {
    // a page without a source module of its name: title only
  }
  return (text || (TITLES[page] ?? page)).split('\n').map((l) => ` * ${l}`.trimEnd()).join('\n')
}
