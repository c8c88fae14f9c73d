import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/checkpoint/load.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { principalAxes, symmetricEigen } from '../../src/distill/principal-axes.js';
import { cpuTeacher, distillStatic, zipfSif } from '../../src/distill/static-distill.js';
import { readHfFolder } from '../../src/node/hf-folder.js';
import { m3web } from '../support/cli.js';
import { cosine, rng } from '../support/random.js';

// `m3web distill` against test/oracle/make_distill.py: model2vec's recipe (teacher rows of every
// token between [CLS] and [SEP], PCA, Zipf + SIF weights) in float64 from bert-tiny.

const ROOT = join(import.meta.dirname, '../..');
const BERT = join(ROOT, 'test/oracle/fixtures/bert-tiny');
const ORACLE = join(ROOT, 'test/oracle/fixtures/distill-bert-tiny');
const expected = JSON.parse(readFileSync(join(ORACLE, 'expected.json'), 'utf8')) as { rows: number; dims: number; sif: number };
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(ORACLE, 'expected.safetensors'))));

/** The worst row cosine and the worst relative norm difference between two [rows, dims] tables. */
function compare(table: Float32Array, want: Float32Array, dims: number): { cos: number; norm: number } {
  let cos = 1;
  let norm = 0;
  for (let r = 0; r < want.length / dims; r++) {
    const a = table.subarray(r * dims, (r + 1) * dims);
    const b = want.subarray(r * dims, (r + 1) * dims);
    cos = Math.min(cos, cosine(a, b));
    const na = Math.hypot(...a);
    const nb = Math.hypot(...b);
    norm = Math.max(norm, Math.abs(na - nb) / nb);
  }
  return { cos, norm };
}

describe('m3web distill', { timeout: 120_000 }, () => {
  it('finds the eigenvectors of a symmetric matrix', () => {
    const n = 24;
    const r = rng(7);
    const m = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] = m[j * n + i] = r() - 0.5;
    const { values, vectors } = symmetricEigen(m.slice(), n);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += (m[i * n + j] as number) * (vectors[j * n + k] as number);
        expect(Math.abs(av - (values[k] as number) * (vectors[i * n + k] as number))).toBeLessThan(1e-12);
      }
    }
  });

  it('orders the principal axes by variance: a table stretched along one axis has it first', () => {
    const r = rng(3);
    const rows = new Float32Array(500 * 3);
    for (let i = 0; i < 500; i++) {
      rows[i * 3] = r() - 0.5;
      rows[i * 3 + 1] = 10 * (r() - 0.5);
      rows[i * 3 + 2] = 0.1 * (r() - 0.5);
    }
    const { axes, variance } = principalAxes(rows, 500, 3);
    expect(Math.abs(axes[1] as number)).toBeGreaterThan(0.999);
    expect(Math.abs(axes[3 + 0] as number)).toBeGreaterThan(0.999);
    expect(variance[0]).toBeGreaterThan(50 * (variance[1] as number));
  });

  it("distils bert-tiny into the oracle's table", async () => {
    const teacher = cpuTeacher(await loadHfModel(await readHfFolder(BERT)), 'mean');
    const out = await distillStatic(teacher, { dims: expected.dims, sif: expected.sif }).finally(() => teacher.dispose());
    expect(out).toMatchObject({ rows: expected.rows, dims: expected.dims });
    const { cos, norm } = compare(out.table, oracle.get('table', [expected.rows, expected.dims]), expected.dims);
    expect(cos).toBeGreaterThan(0.9999);
    expect(norm).toBeLessThan(1e-3);
    expect(zipfSif(3, 1)[0]).toBeGreaterThan(0.5);
  });

  it('writes a model2vec folder that createEncoder opens, whose vectors are the means of its rows', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'm3web-distill-')), 'static');
    const r = await m3web(
      ['distill', '--model', 'test/oracle/fixtures/bert-tiny', '--out', out, '--dims', '32', '--backend', 'cpu'],
      '',
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wrote a static embedder to .* \(2062 tokens x 32 dims, [\d.]+% of the variance/);
    const written = new SafetensorsFile(new Uint8Array(readFileSync(join(out, 'model.safetensors'))));
    const table = written.get('embeddings', [expected.rows, 32]);
    expect(compare(table, oracle.get('table', [expected.rows, 32]), 32).cos).toBeGreaterThan(0.9999);
    const enc = await createEncoder({ model: out, device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({ exits: [0], dims: [16, 32] });
      // "the" is one token of bert-tiny's vocabulary: its vector is that row, normalised.
      const id = (JSON.parse(readFileSync(join(BERT, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } })
        .model.vocab.the as number;
      const [v] = await enc.embed(['the']);
      expect(cosine(v as Float32Array, table.subarray(id * 32, (id + 1) * 32))).toBeGreaterThan(0.99999);
    } finally {
      await enc.dispose();
    }
    const again = await m3web(['distill', '--model', out, '--out', `${out}-2`], '');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/static embedder already/);
  });
});
