import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardWidths } from '../../src/source/model-card.js';
import { declaredWidths, trainedWidths } from '../../src/source/trained-widths.js';
import { m3web } from '../support/cli.js';
import { type FakeHub, folderFiles, startFakeHub } from '../support/hub-server.js';
import { openedDims, ST_FILES } from '../support/oracle-pack.js';

// The Matryoshka widths that sentence-transformers (v3 on) writes into the model cards of the
// models it trains: the `matryoshka_dims` of the MatryoshkaLoss / Matryoshka2dLoss parameters.

const DISTILBERT_TINY = join(import.meta.dirname, '../oracle/fixtures/distilbert-tiny');

/** The "Training Details" of a card as sentence-transformers' model card template writes it. */
const lossBlock = (dims: number[], loss = 'MatryoshkaLoss') => `
#### Unnamed Dataset

* Size: 6,300 training samples
* Loss: [<code>${loss}</code>](https://sbert.net/docs/package_reference/sentence_transformer/losses.html#${loss.toLowerCase()}) with these parameters:
  \`\`\`json
  {
      "loss": "MultipleNegativesRankingLoss",
      "matryoshka_dims": [
          ${dims.join(',\n          ')}
      ],
      "matryoshka_weights": [
          ${dims.map(() => 1).join(',\n          ')}
      ],
      "n_dims_per_step": -1
  }
  \`\`\`
`;
const card = (...blocks: string[]) =>
  `---\ntags:\n- sentence-transformers\n- loss:MatryoshkaLoss\nbase_model: google-bert/bert-base-uncased\n---\n\n# SentenceTransformer\n\n## Training Details\n${blocks.join('\n')}`;

describe('Matryoshka widths from a model card', () => {
  it("reads the losses' matryoshka_dims, ascending; only widths every loss trained", () => {
    expect(cardWidths(card(lossBlock([768, 512, 256, 128, 64])))).toEqual([64, 128, 256, 512, 768]);
    expect(cardWidths(card(lossBlock([48, 32, 16], 'Matryoshka2dLoss')))).toEqual([16, 32, 48]);
    expect(cardWidths(card(lossBlock([768, 512, 256]), lossBlock([768, 256, 64])))).toEqual([256, 768]);
    expect(cardWidths('# all-MiniLM-L6-v2\n\nA hand-written card without losses.')).toBeUndefined();
    expect(cardWidths('"matryoshka_dims": [768, "x", 64]')).toBeUndefined();
    expect(cardWidths('"matryoshka_dims": []')).toBeUndefined();
  });

  it('config.json wins over the card, the card over the known repositories; cut to the hidden size', () => {
    const text = card(lossBlock([1024, 512, 256, 64]));
    expect(declaredWidths(768, {}, text)).toEqual([64, 256, 512, 768]);
    expect(declaredWidths(768, { matryoshka_dimensions: [128, 768] }, text)).toEqual([128, 768]);
    expect(trainedWidths('nomic-ai/nomic-embed-text-v1.5', 768, {}, card(lossBlock([768, 96])))).toEqual([96, 768]);
    expect(trainedWidths('nomic-ai/nomic-embed-text-v1.5', 768, {}, 'no losses here')).toEqual([64, 128, 256, 512, 768]);
  });
});

describe('opening a model whose card lists its widths', { timeout: 120_000 }, () => {
  const cardText = card(lossBlock([48, 32, 16]));
  let hub: FakeHub;
  let dir: string;
  beforeAll(async () => {
    process.env.M3WEB_CACHE_DIR = mkdtempSync(join(tmpdir(), 'm3web-model-card-'));
    const files = folderFiles(DISTILBERT_TINY, ST_FILES);
    hub = await startFakeHub(
      new Map([
        [
          'someone/distilbert-tiny-matryoshka',
          { files: new Map([...files, ['README.md', new TextEncoder().encode(cardText)]]), commit: 'ca4d' },
        ],
        ['someone/distilbert-tiny-plain', { files, commit: 'ca4e' }],
      ]),
    );
    dir = join(mkdtempSync(join(tmpdir(), 'm3web-card-folder-')), 'bert-tiny');
    cpSync(DISTILBERT_TINY, dir, { recursive: true });
    writeFileSync(join(dir, 'README.md'), cardText);
  });
  afterAll(async () => {
    await hub?.close();
    delete process.env.M3WEB_CACHE_DIR;
  });

  const widths = (model: string, dims?: number[]) => openedDims(model, hub.url, dims);

  it('by hub id, as a Node folder, and through `m3web convert`: its widths up to the full one; dims given win', async () => {
    expect(await widths('hf:someone/distilbert-tiny-matryoshka')).toEqual([16, 32, 48, 64]);
    expect(await widths('hf:someone/distilbert-tiny-plain')).toEqual([64]);
    expect(await widths(dir)).toEqual([16, 32, 48, 64]);
    expect(await widths(dir, [8, 64])).toEqual([8, 64]);
    const out = join(mkdtempSync(join(tmpdir(), 'm3web-card-pack-')), 'pack');
    const converted = await m3web(['convert', dir, '--out', out, '--quant', 'f32'], '');
    expect(converted.code, converted.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).dims).toEqual([16, 32, 48, 64]);
  });
});
