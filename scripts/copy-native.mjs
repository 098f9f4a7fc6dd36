// Copies the generated native loader, its types and the built binary next to
// the compiled JS (dist/native/), where dist/native.js loads them from.
import { copyFileSync, mkdirSync, readdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'

const from = 'ts/native'
const to = 'dist/native'
mkdirSync(to, { recursive: true })
const files = readdirSync(from).filter((f) => /^binding\.(cjs|d\.cts)$|\.node$/.test(f))
if (!files.some((f) => f.endsWith('.node'))) {
  console.error('copy-native: no .node binary in ts/native; run `npm run build:native` first')
  process.exit(1)
}
// Copy then rename: replacing the file (a new inode) instead of writing into
// it keeps a process that has the old binary mapped from crashing (SIGBUS).
for (const f of files) {
  const tmp = join(to, `.${f}.${process.pid}.tmp`)
  copyFileSync(join(from, f), tmp)
  renameSync(tmp, join(to, f))
}
