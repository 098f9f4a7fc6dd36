// Debian's Chromium for the browser tests, driven by playwright-core (never a
// downloaded browser): installed with apt-get when missing and we are root;
// otherwise the test fails saying how to install it.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

const CHROMIUM = '/usr/bin/chromium'

/** Installs Debian's chromium when it is missing and we are root; otherwise says how. */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium first (sudo apt-get update && sudo apt-get install -y chromium)`)
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-q'], ['install', '-y', '-q', 'chromium']]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 600_000 })
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`)
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`)
}

/** Headless Chromium (installed first if needed). */
export function launchChromium(): Promise<Browser> {
  ensureChromium()
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] })
}
