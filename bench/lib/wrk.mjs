// Runs Debian's wrk against a URL on 127.0.0.1, installing it with apt-get
// first when it is missing and we may (root), like bench/lib/redis-server.mjs
// does for redis-server. Returns requests/s, or throws with what to do.
import { spawnSync } from 'node:child_process'

function has() {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' })
  return r.error === undefined
}

/** Makes sure `wrk` runs; returns null, or why it cannot. */
export function ensureWrk(log = () => {}) {
  if (has()) return null
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'wrk is not installed and we are not root: install it with `sudo apt-get install -y wrk`'
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const run = (args) => spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 240_000 })
  log('installing wrk with apt-get (once) …')
  let r = run(['install', '-y', '-q', '--no-install-recommends', 'wrk'])
  if (r.status !== 0) {
    run(['update', '-q'])
    r = run(['install', '-y', '-q', '--no-install-recommends', 'wrk'])
  }
  if (r.status !== 0 || !has()) return `apt-get install wrk failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`
  return null
}

/** `{ rps, requests, non2xx, errors }` of one wrk run (1 thread, `connections` keep-alive connections, `seconds`). */
export function wrk(url, { connections = 64, seconds = 3 } = {}) {
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], { encoding: 'utf8', timeout: (seconds + 30) * 1000 })
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error}`)
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1])
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0)
  const errors = /Socket errors: (.*)/.exec(r.stdout)?.[1] ?? ''
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1])
  if (!(rps > 0) || !(requests > 0)) throw new Error(`could not read wrk's output:\n${r.stdout}`)
  return { rps, requests, non2xx, errors }
}
