// Install test (issue 10): packs the root and linux-x64-gnu tarballs
// (scripts/pack-local.mjs), installs them into fresh projects with no Rust
// toolchain on PATH, and runs the smoke program under Node and Bun; checks the
// loader's error when no binary fits. Run by `npm run test:install`.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const here = fileURLToPath(new URL('.', import.meta.url))
const bun = join(repo, 'node_modules/.bin/bun')
const RUN_TIMEOUT = 60_000

// PATH without the Rust toolchain: drop ~/.cargo/bin and rustup dirs, and any
// other dir that still holds a `cargo` or `rustc` (the test asserts they are gone).
const hasRust = (dir) => ['cargo', 'rustc'].some((b) => existsSync(join(dir, b)) || existsSync(join(dir, `${b}.exe`)))
const cleanPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((d) => d && !/[\\/]\.cargo[\\/]|[\\/]\.rustup[\\/]|rustup/.test(`${d}/`) && !hasRust(d))
  .join(delimiter)
// Nothing from the outer `npm run` (npm_*), and no Rust toolchain hints.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_|CARGO|RUSTUP|RUSTC|RUSTFLAGS)/i.test(k)),
)
env.PATH = cleanPath
env.npm_config_audit = 'false'
env.npm_config_fund = 'false'
env.npm_config_update_notifier = 'false'

const temps = []
function project(name) {
  const dir = mkdtempSync(join(tmpdir(), `ironwood-install-${name}-`))
  temps.push(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `ironwood-${name}`, private: true, type: 'module' }))
  return dir
}
function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: RUN_TIMEOUT })
  return { ...r, output: `${r.stdout ?? ''}${r.stderr ?? ''}` }
}
function npmInstall(cwd, args) {
  const r = run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', ...args], cwd)
  assert.equal(r.status, 0, `npm install failed:\n${r.output}`)
}

let rootTgz
let platformTgz
before(() => {
  execFileSync(process.execPath, [join(repo, 'scripts/pack-local.mjs')], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })
  const tgz = readdirSync(join(repo, '.pack')).filter((f) => f.endsWith('.tgz'))
  rootTgz = join(repo, '.pack', tgz.find((f) => /^ironwood-\d/.test(f)))
  platformTgz = join(repo, '.pack', tgz.find((f) => f.startsWith('ironwood-linux-x64-gnu-')))
  assert.ok(statSync(rootTgz).isFile() && statSync(platformTgz).isFile())
})
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true })
})

describe('install from the packed tarballs, without Rust', () => {
  it('has no cargo or rustc on the PATH used below', () => {
    for (const bin of ['cargo', 'rustc']) {
      const r = spawnSync('sh', ['-c', `command -v ${bin}`], { env, encoding: 'utf8' })
      assert.notEqual(r.status, 0, `${bin} still found at ${r.stdout.trim()}`)
    }
    assert.equal(spawnSync('sh', ['-c', 'command -v npm'], { env }).status, 0, 'npm must stay on PATH')
  })

  it('installs root + linux-x64-gnu and runs the smoke program on Node and Bun', (t) => {
    const started = Date.now()
    const dir = project('smoke')
    npmInstall(dir, [rootTgz, platformTgz])
    const installed = Date.now()
    for (const f of ['smoke.mjs', 'smoke-worker.mjs', 'smoke-node.mjs']) copyFileSync(join(here, f), join(dir, f))
    for (const [label, cmd] of [
      ['node', process.execPath],
      ['bun', bun],
    ]) {
      const t0 = Date.now()
      const r = run(cmd, ['smoke.mjs'], dir)
      // A timeout (SIGTERM from spawnSync) means the program did not exit on its own.
      assert.equal(r.signal, null, `${label}: smoke did not exit on its own within ${RUN_TIMEOUT} ms:\n${r.output}`)
      assert.equal(r.status, 0, `${label}: smoke failed:\n${r.output}`)
      // The label names the runtime the program really ran on (Bun is not Node in disguise).
      assert.match(r.stdout, new RegExp(`smoke passed on ${label} `), r.output)
      t.diagnostic(`${label}: ${Date.now() - t0} ms`)
      for (const line of r.stdout.trim().split('\n')) t.diagnostic(`${label}: ${line}`)
    }
    t.diagnostic(`npm install ${installed - started} ms, total ${Date.now() - started} ms`)
  })

  it('names the platform when no binary fits (root package alone)', () => {
    const dir = project('nobinary')
    // --omit=optional: what a user gets with optional dependencies disabled,
    // and independent of what the registry holds.
    npmInstall(dir, ['--omit=optional', rootTgz])
    const platform = `${process.platform}-${process.arch}`
    for (const [label, cmd] of [
      ['node', process.execPath],
      ['bun', bun],
    ]) {
      writeFileSync(join(dir, 'load.mjs'), "await import('ironwood')\n")
      const r = run(cmd, ['load.mjs'], dir)
      assert.notEqual(r.status, 0, `${label}: loading without a binary should fail`)
      assert.match(r.output, new RegExp(`no native binary could be loaded for ${platform}`), `${label}:\n${r.output}`)
      assert.match(r.output, /--include=optional/, `${label}:\n${r.output}`)
    }
  })
})
