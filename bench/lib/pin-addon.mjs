// Pins the native addon for the length of a benchmark run.
//
// Other people may rebuild dist/ in the same checkout while the benchmark
// runs (minutes). Before commit bd7d099 the build rewrote the .node file in
// place, which killed running processes with SIGBUS; it now replaces it by
// rename, but a child process started after a rebuild (the memory
// measurement) would still load a different binary from the rest of the run.
// So the benchmark copies the addon it was built with to a private temporary
// file and points the napi-rs loader at it with its documented override,
// NAPI_RS_NATIVE_LIBRARY_PATH. Worker threads and child processes inherit the
// variable, so every part of the run loads the same copy; the package itself
// is still imported as 'ironwood'.
//
// Set NAPI_RS_NATIVE_LIBRARY_PATH yourself to choose the binary, or
// IRONWOOD_BENCH_NO_PIN=1 to load dist/native/ directly.

import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export function pinNativeAddon() {
  const none = { path: null, source: null, remove() {} }
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH || process.env.IRONWOOD_BENCH_NO_PIN === '1') return none
  const nativeDir = join(dirname(fileURLToPath(import.meta.resolve('ironwood'))), 'native')
  const binaries = readdirSync(nativeDir).filter((f) => f.endsWith('.node') && !f.startsWith('.'))
  const name = binaries.find((f) => f.includes(`.${process.platform}-${process.arch}`)) ?? binaries[0]
  if (name === undefined) return none // the loader will explain what is missing
  const dir = mkdtempSync(join(tmpdir(), 'ironwood-bench-addon-'))
  const path = join(dir, name)
  copyFileSync(join(nativeDir, name), path)
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = path
  return {
    path,
    source: relative(process.cwd(), join(nativeDir, name)),
    remove() {
      // The mapping stays valid after unlink; only the directory entry goes.
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
