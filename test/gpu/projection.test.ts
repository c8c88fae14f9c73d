import { expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { cosine } from '../support/random.js';

/**
 * The projection of prompted text on WebGPU: the GPU reads back full-width, unnormalised vectors
 * and the projection runs after them, as on the CPU (test/unit/projection.test.ts). Against
 * make_m3mini.py's projected vectors; Node only (the browser project has no local model folder).
 */
const model = typeof process === 'undefined' ? null : `${import.meta.dirname}/../../public/models/m3-mini`;

it.skipIf(model === null)(
  'embed({ kind }) on webgpu equals the PyTorch oracle at 1, 3 and 6 layers',
  async () => {
    const expected = await readFixtureJson<{ prompted: ['query' | 'passage', string, number][] }>(
      'test/oracle/fixtures/m3-mini/expected.json',
    );
    const oracle = new SafetensorsFile(await readFixtureBytes('test/oracle/fixtures/m3-mini/expected.safetensors'), 'expected');
    const L = 6;
    const H = 256;
    const projected = await oracle.get('projected', [expected.prompted.length, L, H]);
    const enc = await createEncoder({ model: model as string, device: 'webgpu' });
    try {
      expect((await enc.info()).backend).toBe('webgpu');
      for (const [j, [kind, text]] of expected.prompted.entries()) {
        for (const layers of [1, 3, 6]) {
          const [got] = await enc.embed([text], { kind, layers, normalize: false });
          const want = projected.subarray((j * L + layers - 1) * H, (j * L + layers) * H);
          expect(cosine(got as Float32Array, want)).toBeGreaterThan(0.9999);
        }
      }
    } finally {
      await enc.dispose();
    }
  },
  240_000,
);
