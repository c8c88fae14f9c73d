import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { jsonLines, m3web, vectors } from '../support/cli.js';
import { cosine } from '../support/random.js';

const ROOT = join(import.meta.dirname, '../..');
const MODEL = 'test/oracle/fixtures/bert-tiny';
const expected = JSON.parse(readFileSync(join(ROOT, MODEL, 'expected.json'), 'utf8')) as { texts: string[] };
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(ROOT, MODEL, 'expected.safetensors'))));
const HIDDEN = 48;

/** stderr without Dawn's warnings. */
const ours = (stderr: string) =>
  stderr
    .split('\n')
    .filter((line) => !line.startsWith('Warning: '))
    .join('\n');

/** The stderr lines `m3web: auto: <what>: ...` as { what: rest }. */
const autoLines = (stderr: string) =>
  Object.fromEntries([...stderr.matchAll(/^m3web: auto: ([^:]+): (.*)$/gm)].map((m) => [m[1], m[2]]));

const cache = mkdtempSync(join(tmpdir(), 'm3web-cli-auto-'));
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(cache, { recursive: true, force: true });
});

// The Node project's adapter (vitest.config.ts) is there to probe. Dawn writes its own warnings to
// stderr (lavapipe's limits, before anything of m3web's): the lines m3web writes are checked.
describe('m3web embed --backend auto', { timeout: 120_000 }, () => {
  const args = ['embed', '--model', MODEL, '--backend', 'auto', '--verbose'];
  const env = { M3WEB_CACHE_DIR: cache };

  it('chooses per call size by the probe, says why with --verbose, and stores the probe for the next run', async () => {
    const first = await m3web(args, jsonLines(expected.texts), env);
    expect(first.code, first.stderr).toBe(0);
    // The one line every run prints, first.
    expect(ours(first.stderr)).toMatch(
      /^m3web: backend (cpu|webgpu on [^\n]+) \(auto: the faster here, by measurement\)\n|^m3web: backend auto: \S+.* for one short text, \S+.* for batches\n/,
    );
    const why = autoLines(first.stderr);
    expect(why.probe).toMatch(/^measured now \(\d+ ms with making the backends\), then stored$/);
    expect(why['short texts']).toMatch(/^(the CPU|WebGPU): predicted [\d.]+ ms for 1×16 tokens at 4 layers/);
    expect(why.batches).toMatch(/^(the CPU|WebGPU): predicted [\d.]+ ms for 8×128 tokens at 4 layers/);
    expect(readdirSync(join(cache, 'probes'))).toHaveLength(1);
    const vs = vectors(first.stdout);
    expect(vs).toHaveLength(expected.texts.length);
    vs.forEach((v, i) => {
      expect(v).toHaveLength(HIDDEN);
      expect(cosine(v, oracle.get(`mean.${i}.4`, [HIDDEN]))).toBeGreaterThan(0.9999);
    });

    // A second run measures nothing and chooses the same.
    const second = await m3web(args, jsonLines(expected.texts.slice(0, 2)), env);
    expect(second.code, second.stderr).toBe(0);
    const again = autoLines(second.stderr);
    expect(again.probe).toBe('read from the cache (M3WEB_CACHE_DIR)');
    expect(again['short texts']).toBe(why['short texts']);
    expect(again.batches).toBe(why.batches);
    expect(readdirSync(join(cache, 'probes'))).toHaveLength(1);
  });

  it("shares the stored probe with createEncoder's device 'auto' (same adapter, model and depth)", async () => {
    const cli = autoLines((await m3web(args, '"hello"\n', env)).stderr);
    expect(cli.probe).toBe('read from the cache (M3WEB_CACHE_DIR)');
    vi.stubEnv('M3WEB_CACHE_DIR', cache);
    const enc = await createEncoder({ model: MODEL, device: 'auto' });
    try {
      // Reasons carry the predicted ms: a probe measured again would give other numbers.
      const { backends } = await enc.info();
      expect(`${backends.short.reason}`).toBe(cli['short texts']);
      expect(`${backends.batch.reason}`).toBe(cli.batches);
    } finally {
      await enc.dispose();
    }
    expect(readdirSync(join(cache, 'probes'))).toHaveLength(1);
  });
});
