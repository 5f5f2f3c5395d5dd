import { defineConfig } from 'vitest/config'

// Integration tests share one Redis; each test uses its own random namespace, so files may run in parallel.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
