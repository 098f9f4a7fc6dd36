import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests import the built package ('ironwood' -> dist/) exactly as users do.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // `vitest run --typecheck.only` (npm run test:types): the type tests,
    // compiled against the built package's .d.ts, never run.
    typecheck: {
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './test/types/tsconfig.json',
    },
  },
})
