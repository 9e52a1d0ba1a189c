import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/image/image.test.ts'],
          globalSetup: ['test/env/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores: integration files share one Docker engine; keep the pressure sane.
          maxWorkers: 2,
          // Unit tests first (group 0), then integration: different worker limits need separate groups.
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'image',
          include: ['test/integration/image/image.test.ts'],
          globalSetup: ['test/env/global-setup.ts'],
          testTimeout: 300_000,
          // A first run builds the stand-in base images and compiles the image: minutes.
          hookTimeout: 3_600_000,
          maxWorkers: 1,
          // The image build loads both cores: it runs alone, after the other integration files, so
          // their timing bounds are not measured against it.
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
