import { defineConfig } from 'vitest/config';

// Packages run from source inside the repo through the `@vfio-ts/source` export condition (as vitest itself does).
const conditions = ['@vfio-ts/source', 'import', 'module', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@vfio-ts/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'codegen/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/*.kernel.test.ts'],
    testTimeout: 30_000,
    reporters: ['default'],
  },
});
