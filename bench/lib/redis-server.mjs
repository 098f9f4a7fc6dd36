// Starts a throwaway redis-server on 127.0.0.1 for the benchmark, installing
// Debian's package first when it is missing and we are allowed to (root with
// apt-get). The server has no persistence (`--save '' --appendonly no`), runs
// in a temporary directory, and is only ever stopped by its own PID.

import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const BINARY = 'redis-server'

function has(binary) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' })
  return r.error === undefined && r.status === 0 ? r.stdout.trim() : null
}

function aptInstall(log) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'redis-server is not installed and we are not root, so it cannot be installed with apt-get'
  }
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error) {
    return 'redis-server is not installed and apt-get is not available'
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const run = (args) => spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 240_000 })
  log('installing redis-server with apt-get (once) …')
  let r = run(['install', '-y', '-q', '--no-install-recommends', BINARY])
  if (r.status !== 0) {
    // The package lists may be missing or stale: update once and retry.
    const u = run(['update', '-q'])
    if (u.status !== 0) return `apt-get update failed: ${(u.stderr || String(u.error)).trim().split('\n').pop()}`
    r = run(['install', '-y', '-q', '--no-install-recommends', BINARY])
  }
  if (r.status !== 0) return `apt-get install redis-server failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`
  return null
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

// Resolves once the server answers PING on 127.0.0.1:port.
function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port })
    let buf = ''
    const done = (ok) => {
      sock.destroy()
      resolve(ok)
    }
    sock.setTimeout(500, () => done(false))
    sock.on('error', () => done(false))
    sock.on('connect', () => sock.write('PING\r\n'))
    sock.on('data', (d) => {
      buf += d
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'))
    })
  })
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

async function startOnce(port, dir) {
  const child = spawn(
    BINARY,
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--protected-mode', 'yes',
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--dir', dir,
      '--loglevel', 'warning',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const spawnError = new Promise((resolve) => child.once('error', resolve))
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break
    const err = await Promise.race([spawnError, new Promise((r) => setTimeout(r, 50, null))])
    if (err) return { error: `could not spawn redis-server: ${err.message}` }
    if (await ping(port)) return { child }
  }
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL') // our own child, by its handle (PID)
    await waitExit(child, 2000)
  }
  return { error: `redis-server did not start on 127.0.0.1:${port}: ${output.trim().split('\n').pop() || 'no output'}` }
}

/**
 * Starts a private redis-server. Resolves to `{ port, pid, version, stop }`,
 * or `{ skipped: reason }` when no server can be had. `stop()` is idempotent;
 * `stopSync()` is for `process.on('exit')`.
 */
export async function startRedis({ install = true, log = () => {} } = {}) {
  let version = has(BINARY)
  if (version === null) {
    if (!install) return { skipped: 'redis-server is not installed (auto-install disabled)' }
    const why = aptInstall(log)
    if (why !== null) return { skipped: why }
    version = has(BINARY)
    if (version === null) return { skipped: 'redis-server still not runnable after apt-get install' }
  }
  const dir = mkdtempSync(join(tmpdir(), 'ironwood-bench-redis-'))
  let last = 'unknown error'
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const r = await startOnce(port, dir)
    if (r.error) {
      last = r.error
      continue
    }
    const { child } = r
    const pid = child.pid
    let stopped = false
    const cleanDir = () => rmSync(dir, { recursive: true, force: true })
    return {
      port,
      pid,
      version: version.replace(/^Redis server /, '').split(' ')[0],
      async stop() {
        if (stopped) return
        stopped = true
        if (child.exitCode === null && child.signalCode === null) {
          process.kill(pid, 'SIGTERM')
          if (!(await waitExit(child, 3000))) {
            process.kill(pid, 'SIGKILL')
            await waitExit(child, 2000)
          }
        }
        cleanDir()
      },
      stopSync() {
        if (stopped) return
        stopped = true
        if (child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {}
        }
        try {
          cleanDir()
        } catch {}
      },
    }
  }
  rmSync(dir, { recursive: true, force: true })
  return { skipped: last }
}
