// Preloaded by `bun test` (bunfig.toml): vitest names that bun:test spells
// differently, so the same suites run under both runners (docs/bun.md).
// Only exact equivalents belong here.
import { describe, it, test } from 'bun:test'

for (const fn of [it, test, describe]) {
  // vitest `runIf(cond)` is bun `if(cond)`: run when cond holds, skip otherwise.
  if (typeof fn.runIf !== 'function' && typeof fn.if === 'function') fn.runIf = fn.if
}
