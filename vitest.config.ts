import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/support/chromium.js';
import { requireTestMachine } from './test/support/preflight.js';

requireTestMachine();

// Dawn in Node runs on Mesa's lavapipe where it is installed (.ci/run installs it): about 40x
// SwiftShader's speed on these tests (test/gpu/parity.test.ts: 23 s against 545 s), and a second
// driver beside the browser project's SwiftShader, which still runs every test/gpu file. Files
// that test an adapter without shader-f16 pick SwiftShader themselves (test/support/gpu.ts).
const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const NODE_ICD = existsSync(LAVAPIPE) ? LAVAPIPE : '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  test: {
    // Vitest's default is one core less than the machine has, per project: on 2 cores each project
    // ran its files one at a time, and once the browser project was done (two thirds of the way)
    // the second core sat idle for five minutes. Two each keeps both cores busy to the end: the
    // suite took 827 s here against 951 s.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', 'test/gpu/**/*.test.ts', 'test/package/**/*.test.ts', 'test/site/**/*.test.ts'],
          // Dawn's adapter (above) unless the caller picked another ICD. A cache folder of this
          // run's own: stored probes and hub conversions never leak between runs.
          env: {
            VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? NODE_ICD,
            M3WEB_CACHE_DIR: mkdtempSync(join(tmpdir(), 'm3web-test-cache-')),
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/gpu/**/*.test.ts', 'test/browser/**/*.test.ts'],
          // The trained-model check is about quantisation numerics, the same WGSL in both projects,
          // and costs a minute of software-adapter time: Node runs it once.
          exclude: ['test/gpu/trained-model.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
