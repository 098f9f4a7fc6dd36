import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests import the built package ('ironwood' -> dist/) exactly as users do.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
