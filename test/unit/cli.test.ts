import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { estimateTokens } from '../../src/search/chunk.js';
import { jsonLines, m3web, vectors } from '../support/cli.js';
import { cosine } from '../support/random.js';

const ROOT = join(import.meta.dirname, '../..');
const MODEL = 'test/oracle/fixtures/bert-tiny';
const expected = JSON.parse(readFileSync(join(ROOT, MODEL, 'expected.json'), 'utf8')) as { texts: string[] };
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(ROOT, MODEL, 'expected.safetensors'))));
const HIDDEN = 48;

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('m3web embed (cpu)', { timeout: 60_000 }, () => {
  it('writes one unit vector per text, in input order, skipping blank lines', async () => {
    const r = await m3web(['embed', '--model', MODEL, '--backend', 'cpu', '--batch', '5'], `\n${jsonLines(expected.texts)}\n \n`);
    expect(r.stderr).toBe('m3web: backend cpu\n');
    expect(r.code).toBe(0);
    const vs = vectors(r.stdout);
    expect(vs).toHaveLength(expected.texts.length);
    vs.forEach((v, i) => {
      expect(v).toHaveLength(HIDDEN);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(cosine(v, oracle.get(`mean.${i}.4`, [HIDDEN]))).toBeGreaterThan(0.99999);
    });
  });

  it('matches the oracle mean at full depth with --no-normalize', async () => {
    const r = await m3web(
      ['embed', '--model', MODEL, '--backend', 'cpu', '--no-normalize'],
      jsonLines(expected.texts.slice(0, 1)),
    );
    expect(r.code).toBe(0);
    const [v] = vectors(r.stdout) as [number[]];
    const want = oracle.get('mean.0.4', [HIDDEN]);
    expect(cosine(v, want)).toBeGreaterThanOrEqual(0.99999);
    expect(norm(v)).toBeCloseTo(norm(Array.from(want)), 3);
  });

  it('honours --layers, --dims and --pooling cls', async () => {
    const r = await m3web(
      ['embed', '--model', MODEL, '--backend', 'cpu', '--layers', '2', '--dims', '16', '--pooling', 'cls'],
      jsonLines(expected.texts.slice(0, 2)),
    );
    expect(r.code).toBe(0);
    vectors(r.stdout).forEach((v, i) => {
      expect(v).toHaveLength(16);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(cosine(v, oracle.get(`cls.${i}.2`, [HIDDEN]).subarray(0, 16))).toBeGreaterThan(0.99999);
    });
  });

  it('exits 2 naming the line of a bad JSON line', async () => {
    const r = await m3web(['embed', '--model', MODEL, '--backend', 'cpu'], '"ok"\n\n{"text": "x"}\n"later"\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 3 is a JSON object, expected a string/);
    const bad = await m3web(['embed', '--model', MODEL, '--backend', 'cpu'], '"ok"\nnot json\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/line 2 is not valid JSON/);
  });

  it("refuses an empty or whitespace-only text with exit 2, by the API's rule, writing no vectors", async () => {
    for (const blank of ['', ' \t ']) {
      const r = await m3web(['embed', '--model', MODEL, '--backend', 'cpu'], `"ok"\n${JSON.stringify(blank)}\n"later"\n`);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/stdin line 2 is empty or only whitespace\n$/);
    }
    const enc = await createEncoder({ model: MODEL, device: 'cpu', cache: false });
    try {
      await expect(enc.embed(['ok', ' \t '])).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        message: /is empty or only whitespace/,
      });
    } finally {
      await enc.dispose();
    }
  });

  it('says in one stderr line why WebGPU was not used when no Vulkan driver is installed', async () => {
    const r = await m3web(['embed', '--model', MODEL], '"hello"\n', {
      VK_ICD_FILENAMES: '',
      VK_DRIVER_FILES: '',
      XDG_CONFIG_HOME: '/nonexistent',
      XDG_CONFIG_DIRS: '/nonexistent',
      XDG_DATA_HOME: '/nonexistent',
      XDG_DATA_DIRS: '/nonexistent',
    });
    expect(r.code).toBe(0);
    expect(vectors(r.stdout)).toHaveLength(1);
    // No system folder (/etc/vulkan/icd.d) holds a driver on the machines this runs on; if one
    // does, WebGPU may run instead, and the line says so.
    expect(r.stderr).toMatch(/^m3web: backend (cpu \(WebGPU not used: no Vulkan driver installed; [^\n]*\)|webgpu on [^\n]*)\n$/);
  });

  it('exits 1 with a one-line message for a missing model folder', async () => {
    const r = await m3web(['embed', '--model', 'no/such/model', '--backend', 'cpu'], '"hello"\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('m3web: model folder no/such/model does not exist\n');
  });

  it('--kind puts the prefix before each text and projects as embed({ kind }) does, on the bundled pack', async () => {
    const texts = ['Wie spät ist es?', 'The cathedral was finished in 1880, six centuries after it was begun.'];
    const bundled = 'public/models/m3-mini';
    const enc = await createEncoder({ model: bundled, device: 'cpu', cache: false });
    try {
      for (const kind of ['query', 'passage'] as const) {
        const r = await m3web(
          ['embed', '--model', bundled, '--backend', 'cpu', '--kind', kind, '--layers', '3', '--dims', '64'],
          jsonLines(texts),
        );
        expect(r.code).toBe(0);
        const want = await enc.embed(texts, { kind, layers: 3, dims: 64 });
        vectors(r.stdout).forEach((v, i) => {
          expect(v).toHaveLength(64);
          expect(cosine(v, want[i] as Float32Array)).toBeGreaterThan(0.99999);
        });
      }
      const [plain] = await enc.embed(texts.slice(0, 1), { layers: 3, dims: 64 });
      const [query] = vectors(
        (
          await m3web(
            ['embed', '--model', bundled, '--backend', 'cpu', '--kind', 'query', '--layers', '3', '--dims', '64'],
            jsonLines(texts.slice(0, 1)),
          )
        ).stdout,
      ) as [number[]];
      expect(cosine(query, plain as Float32Array)).toBeLessThan(0.99);
    } finally {
      await enc.dispose();
    }
    // A model without prefixes or a projection embeds the same with or without --kind.
    const tiny = await m3web(['embed', '--model', MODEL, '--backend', 'cpu', '--kind', 'passage'], jsonLines(texts));
    const tinyPlain = await m3web(['embed', '--model', MODEL, '--backend', 'cpu'], jsonLines(texts));
    expect(tiny.stdout).toBe(tinyPlain.stdout);
    const bad = await m3web(['embed', '--model', MODEL, '--kind', 'document'], '"hi"\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--kind/);
  });

  it('prints usage for --help, and exits 2 for unknown flags or commands', async () => {
    const help = await m3web(['embed', '--help'], '');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: m3web embed --model DIR/);
    const top = await m3web(['--help'], '');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Usage: m3web <command>/);
    const flag = await m3web(['embed', '--model', MODEL, '--frobnicate'], '');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--frobnicate/);
    const layers = await m3web(['embed', '--model', MODEL, '--backend', 'cpu', '--layers', '9'], '"hi"\n');
    expect(layers.code).toBe(2);
    expect(layers.stderr).toMatch(/--layers must be in 1\.\.4 for this model, got 9/);
    const cmd = await m3web(['train'], '');
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/unknown command "train"/);
  });
});

describe('m3web embed on a static embedder (model2vec)', { timeout: 60_000 }, () => {
  it('runs it on the CPU, says why, and writes the oracle means cut to --dims', async () => {
    const dir = 'test/oracle/fixtures/model2vec-tiny';
    const m2v = JSON.parse(readFileSync(join(ROOT, dir, 'expected.json'), 'utf8')) as { texts: string[] };
    const means = new SafetensorsFile(new Uint8Array(readFileSync(join(ROOT, dir, 'expected.safetensors'))));
    const r = await m3web(['embed', '--model', dir, '--dims', '16'], jsonLines(m2v.texts.slice(0, 3)));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/backend cpu \(a static embedder/);
    vectors(r.stdout).forEach((v, i) => {
      expect(v).toHaveLength(16);
      expect(cosine(v, means.get(`mean.${i}`, [32]).subarray(0, 16))).toBeGreaterThan(0.99999);
    });
  });
});

describe('m3web convert, embed and eval on a pack', { timeout: 120_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'm3web-cli-'));
  const pack = join(tmp, 'pack');

  it('converts a Hugging Face folder into a pack that embeds like the oracle', async () => {
    const conv = await m3web(['convert', MODEL, '--out', pack, '--quant', 'q8', '--dims', '16,48', '--name', 'tiny'], '');
    expect(conv.stderr).toMatch(/wrote tiny \(q8, 5 shards, [\d.]+ MB\)/);
    expect(conv.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ id: 'tiny', exits: [1, 2, 3, 4], dims: [16, 48], pooling: 'mean' });
    const r = await m3web(['embed', '--model', pack, '--backend', 'cpu', '--no-normalize'], jsonLines(expected.texts));
    expect(r.code).toBe(0);
    vectors(r.stdout).forEach((v, i) => {
      expect(cosine(v, oracle.get(`mean.${i}.4`, [HIDDEN]))).toBeGreaterThan(0.999);
    });
  });

  it('converts an ONNX-only folder into the pack its safetensors twin gives, and leaves nothing behind when it fails', async () => {
    const fromOnnx = join(tmp, 'from-onnx');
    const conv = await m3web(
      ['convert', 'test/oracle/fixtures/bert-tiny-onnx', '--out', fromOnnx, '--name', 'tiny', '--dims', '16,48'],
      '',
    );
    expect(conv.code).toBe(0);
    for (const shard of ['embeddings.bin', 'layer-00.bin', 'layer-03.bin'])
      expect(readFileSync(join(fromOnnx, shard)).equals(readFileSync(join(pack, shard))), shard).toBe(true);

    const broken = join(tmp, 'broken-onnx');
    mkdirSync(join(broken, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'tokenizer.json'])
      writeFileSync(join(broken, f), readFileSync(join(ROOT, 'test/oracle/fixtures/bert-tiny-onnx', f)));
    const graph = readFileSync(join(ROOT, 'test/oracle/fixtures/bert-tiny-onnx/onnx/model.onnx'));
    writeFileSync(join(broken, 'onnx/model.onnx'), graph.subarray(0, graph.length - 1000));
    const failed = await m3web(['convert', broken, '--out', fromOnnx], '');
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/model\.onnx/);
    // The pack written before is still whole, and no half-written folder is left beside it.
    expect(readFileSync(join(fromOnnx, 'layer-03.bin')).equals(readFileSync(join(pack, 'layer-03.bin')))).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('indexes documents into an export that index.import() loads, and names a bad documents line', async () => {
    const docs = join(tmp, 'docs.jsonl');
    const out = join(tmp, 'docs.m3index');
    writeFileSync(docs, expected.texts.map((text, i) => JSON.stringify({ id: `t${i}`, text, meta: { i } })).join('\n'));
    const r = await m3web(['index', '--model', pack, '--docs', docs, '--out', out, '--dims', '16', '--vector', 'int8'], '');
    expect(r.stderr).toMatch(
      new RegExp(`wrote .*docs.m3index \\(${expected.texts.length} documents, tiny at 4 layers x 16 dims int8`),
    );
    expect(r.code).toBe(0);
    const encoder = await createEncoder({ model: pack, device: 'cpu' });
    const index = await createIndex({ encoder, name: 'cli', dims: 16, vector: 'int8' });
    await index.import(new Uint8Array(readFileSync(out)));
    expect(index.size).toBe(expected.texts.length);
    const [hit] = await index.search(expected.texts[2] as string, { k: 1, exact: true, mode: 'vector' });
    expect(hit).toMatchObject({ id: 't2', meta: { i: 2 } });
    index.close();

    const symmetric = await m3web(['index', '--model', pack, '--docs', docs, '--out', out, '--dims', '16', '--symmetric'], '');
    expect(symmetric.stderr).toMatch(/tiny at 4 layers x 16 dims f32, symmetric/);
    const sentences = await createIndex({ encoder, name: 'cli-symmetric', dims: 16, symmetric: true });
    await sentences.import(new Uint8Array(readFileSync(out)));
    expect(sentences.size).toBe(expected.texts.length);
    sentences.close();

    // Titled documents: the title travels with each document into the export.
    writeFileSync(docs, expected.texts.map((text, i) => JSON.stringify({ id: `t${i}`, text, title: `Heading ${i}` })).join('\n'));
    const chunked = await m3web(
      ['index', '--model', pack, '--docs', docs, '--out', out, '--dims', '16', '--chunk-tokens', '3'],
      '',
    );
    expect(chunked.code).toBe(0);
    const small = await createIndex({ encoder, name: 'cli-chunked', dims: 16 });
    await small.import(new Uint8Array(readFileSync(out)));
    const long = expected.texts.findIndex((t) => estimateTokens(t) > 6);
    const [chunkHit] = await small.search(expected.texts[long] as string, { k: 1, mode: 'lexical' });
    expect(chunkHit?.id).toBe(`t${long}`);
    expect(chunkHit?.title?.text).toBe(`Heading ${long}`);
    expect(estimateTokens(chunkHit?.chunk.text ?? '')).toBeLessThanOrEqual(3);
    small.close();
    await encoder.dispose();

    writeFileSync(docs, '{"id":"a","text":"fine"}\n{"id":3,"text":"bad id"}\n');
    const bad = await m3web(['index', '--model', pack, '--docs', docs, '--out', out], '');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/documents line 2 must be an object with string "id" and "text"/);
    writeFileSync(docs, '{"id":"a","text":"fine"}\n{"id":"b","text":"  "}\n');
    const blank = await m3web(['index', '--model', pack, '--docs', docs, '--out', out], '');
    expect(blank.code).toBe(2);
    expect(blank.stderr).toMatch(/documents line 2: "text" is empty or only whitespace/);
    writeFileSync(docs, '{"id":"a","text":"fine"}\n{"id":"b","text":"fine","title":7}\n');
    const badTitle = await m3web(['index', '--model', pack, '--docs', docs, '--out', out], '');
    expect(badTitle.code).toBe(2);
    expect(badTitle.stderr).toMatch(/documents line 2: "title" must be a string/);

    // A site's pages: a document per section, titled and linked to its anchor.
    const site = join(tmp, 'site');
    mkdirSync(join(site, 'guide'), { recursive: true });
    writeFileSync(
      join(site, 'guide', 'index.html'),
      '<h1>Guide</h1><p>Welcome.</p><h2 id="tides">Tides</h2><p>The moon pulls the sea.</p>',
    );
    writeFileSync(join(site, 'faq.md'), '# FAQ\n\n## Why?\nBecause the sea rises twice a day.\n');
    const pages = await m3web(['index', '--model', pack, '--docs', site, '--out', out, '--dims', '16'], '');
    expect(pages.stderr).toMatch(/3 sections from 2 pages/);
    expect(pages.code).toBe(0);
    const siteEncoder = await createEncoder({ model: pack, device: 'cpu' });
    const siteIndex = await createIndex({ encoder: siteEncoder, name: 'cli-site', dims: 16 });
    await siteIndex.import(new Uint8Array(readFileSync(out)));
    const [tide] = await siteIndex.search('moon', { k: 1, mode: 'lexical' });
    expect(tide).toMatchObject({
      id: 'guide/#tides',
      title: { text: 'Guide › Tides' },
      meta: { page: 'guide/' },
    });
    // The addresses a site generator serves its Markdown pages at.
    const folders = await m3web(['index', '--model', pack, '--docs', site, '--out', out, '--dims', '16', '--urls', 'folder'], '');
    expect(folders.code).toBe(0);
    await siteIndex.import(new Uint8Array(readFileSync(out)));
    expect((await siteIndex.search('why rises', { k: 1, mode: 'lexical' }))[0]?.meta).toMatchObject({
      url: 'faq/#why',
      page: 'faq/',
    });
    const notPages = await m3web(['index', '--model', pack, '--docs', docs, '--out', out, '--urls', 'clean'], '');
    expect(notPages.code).toBe(2);
    expect(notPages.stderr).toMatch(/--urls is for pages/);
    siteIndex.close();
    await siteEncoder.dispose();
  });

  it('with --cache, embeds only what changed since the last run, and sets aside a cache built otherwise', async () => {
    const docs = join(tmp, 'cached.jsonl');
    const out = join(tmp, 'cached-static');
    const cache = join(tmp, 'site.m3index');
    const write = (texts: string[]) =>
      writeFileSync(docs, texts.map((text, i) => JSON.stringify({ id: `t${i}`, text })).join('\n'));
    const run = (extra: string[] = []) =>
      m3web(['index', '--static', '--model', pack, '--docs', docs, '--out', out, '--dims', '16', '--cache', cache, ...extra], '');
    const texts = expected.texts.slice(0, 4);
    write(texts);
    const first = await run();
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/indexed 4 of 4 documents/);
    expect(existsSync(cache)).toBe(true);

    // One text edited, one gone, one new: one embedded for each of the edited and the new.
    write(['the tide turns at noon', ...texts.slice(1, 3), 'a new page about harbours']);
    const second = await run();
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/from .*site\.m3index: 2 unchanged, 2 changed, 0 new, 0 gone; 2 embedded/);
    write(['the tide turns at noon', ...texts.slice(1, 3)]);
    const third = await run();
    expect(third.stderr).toMatch(/3 unchanged, 0 changed, 0 new, 1 gone; 0 embedded/);
    const encoder = await createEncoder({ model: pack, device: 'cpu' });
    const cached = await createIndex({ encoder, name: 'cli-cached', dims: 16 });
    await cached.import(new Uint8Array(readFileSync(cache)));
    expect(cached.size).toBe(3);
    expect((await cached.search('tide noon', { k: 1, mode: 'lexical' }))[0]?.id).toBe('t0');
    cached.close();
    await encoder.dispose();

    // Another width: the cache is not this index's, so everything is embedded and it is replaced.
    const wider = await m3web(['index', '--static', '--model', pack, '--docs', docs, '--out', out, '--cache', cache], '');
    expect(wider.code).toBe(0);
    expect(wider.stderr).toMatch(/not using the cache .*site\.m3index: .*; embedding every document/);
    expect(wider.stderr).toMatch(/indexed 3 of 3 documents/);
    // A broken cache file is set aside the same way.
    writeFileSync(cache, 'not an index');
    const broken = await run();
    expect(broken.code).toBe(0);
    expect(broken.stderr).toMatch(/not using the cache/);
  });

  it('evaluates every (layers, dims) cell and writes the quality table', async () => {
    const data = join(tmp, 'data');
    mkdirSync(join(data, 'flores-dev'), { recursive: true });
    mkdirSync(join(data, 'stsb-dev'), { recursive: true });
    const rows = (texts: string[]) => `index_id\tcategory\ttext\n${texts.map((t, i) => `${i + 1}\tx\t${t}`).join('\n')}\n`;
    writeFileSync(join(data, 'flores-dev', 'eng_Latn.tsv'), rows(['The cat sleeps.', 'It rains today.', 'Numbers: 42']));
    writeFileSync(join(data, 'flores-dev', 'deu_Latn.tsv'), rows(['Die Katze schläft.', 'Heute regnet es.', 'Zahlen: 42']));
    writeFileSync(
      join(data, 'stsb-dev', 'stsb-en-dev.csv'),
      'A cat sleeps.,"A cat, asleep.",4.5\nA dog runs.,It rains.,0.2\nHe eats.,He is eating.,4.0\n',
    );
    const r = await m3web(['eval', '--model', pack, '--data', data, '--write'], '');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/FLORES dev: 1 languages vs English; STS dev: en/);
    const table = r.stdout.trim().split('\n').slice(3);
    expect(table).toHaveLength(4 * 2 + 1);
    expect(table.at(-1)).toMatch(/^lexical/);
    const manifest = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8'));
    expect(manifest.quality.rows).toHaveLength(8);
    expect(manifest.quality.rows[0]).toMatchObject({ layers: 1, dims: 16 });
    expect(manifest.quality.baseline.name).toMatch(/TF-IDF/);
  });

  it('measures search on xquad-style data and stores the best fusion as the hybrid default', async () => {
    const data = join(tmp, 'search-data');
    mkdirSync(join(data, 'xquad-dev'), { recursive: true });
    const squad = (paragraphs: [string, string[]][]) =>
      JSON.stringify({
        data: [{ paragraphs: paragraphs.map(([context, qs]) => ({ context, qas: qs.map((question) => ({ question })) })) }],
      });
    writeFileSync(
      join(data, 'xquad-dev', 'xquad.en.json'),
      squad([
        ['The cat sleeps on the sofa all afternoon.', ['Where does the cat sleep?']],
        ['Rain is expected in Berlin tomorrow morning.', ['What is the weather in Berlin?']],
      ]),
    );
    writeFileSync(
      join(data, 'xquad-dev', 'xquad.de.json'),
      squad([
        ['Die Katze schläft den ganzen Nachmittag auf dem Sofa.', ['Wo schläft die Katze?']],
        ['Morgen früh wird in Berlin Regen erwartet.', ['Wie ist das Wetter in Berlin?']],
      ]),
    );
    const r = await m3web(['eval', '--search', '--model', pack, '--data', data, '--write'], '');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^de {5}cross {3}/m);
    expect(r.stdout).toMatch(/^lexical {15}100\.0 100\.0/m);
    // Both fusions are tried: by rank and by score.
    expect(r.stdout).toMatch(/^hybrid k60 v0\.015 /m);
    expect(r.stdout).toMatch(/^hybrid scores v0\.3 /m);
    const manifest = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8'));
    expect(manifest.search).toMatchObject({ dataset: expect.stringMatching(/xquad-dev/), fusion: { k: 60 } });
    expect(manifest.search.fusion.weights.lexical).toBe(1);

    const chunked = await m3web(['eval', '--search', '--model', pack, '--data', data, '--chunk-tokens', '4'], '');
    expect(chunked.code).toBe(0);
    expect(chunked.stdout).toMatch(/^lexical {15}/m);
    const both = await m3web(['eval', '--search', '--model', pack, '--data', data, '--chunk-tokens', '4', '--write'], '');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--chunk-tokens and --write do not go together/);

    // A cross-encoder reranks the lexical and standard hybrid rankings: two more rows.
    const reranked = await m3web(
      ['eval', '--search', '--model', pack, '--data', data, '--rerank', 'test/oracle/fixtures/ce-bert-tiny'],
      '',
    );
    expect(reranked.code).toBe(0);
    expect(reranked.stdout).toMatch(/^lexical\+rerank {6}[ \d.]+$/m);
    expect(reranked.stdout).toMatch(/^hybrid\+rerank {7}[ \d.]+$/m);
    const noSearch = await m3web(['eval', '--model', pack, '--rerank', 'test/oracle/fixtures/ce-bert-tiny'], '');
    expect(noSearch.code).toBe(2);
    expect(noSearch.stderr).toMatch(/--rerank needs --search/);

    // German questions find English paragraphs by their content words' translations, not only by "Berlin".
    expect(chunked.stdout).toMatch(/^lexical {15}100\.0 100\.0 {3}50\.0 {2}50\.0$/m);
    const translated = await m3web(['eval', '--search', '--model', pack, '--data', data, '--lexicons', 'public/lexicons'], '');
    expect(translated.code).toBe(0);
    expect(translated.stdout).toMatch(/^lexical {15}100\.0 100\.0 {2}100\.0 100\.0$/m);
    for (const [flags, error] of [
      [['--lexicons', 'public/lexicons'], /--lexicons needs --search/],
      [['--lexicons', 'public/lexicons', '--search', '--write'], /--lexicons and --write do not go together/],
    ] as const) {
      const refused = await m3web(['eval', '--model', pack, ...flags], '');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(error);
    }
  });
});

describe('m3web convert and embed on a ModernBERT folder', { timeout: 120_000 }, () => {
  const dir = 'test/oracle/fixtures/modernbert-tiny';
  const mb = JSON.parse(readFileSync(join(ROOT, dir, 'expected.json'), 'utf8')) as { texts: string[] };
  const mbOracle = new SafetensorsFile(new Uint8Array(readFileSync(join(ROOT, dir, 'expected.safetensors'))));
  const H = 64;

  it('embeds the Hugging Face folder like the oracle, at an early exit too', async () => {
    const r = await m3web(['embed', '--model', dir, '--backend', 'cpu', '--no-normalize', '--layers', '2'], jsonLines(mb.texts));
    expect(r.stderr).toBe('m3web: backend cpu\n');
    expect(r.code).toBe(0);
    vectors(r.stdout).forEach((v, i) => {
      expect(cosine(v, mbOracle.get(`mean.none.${i}.2`, [H]))).toBeGreaterThan(0.99999);
    });
  });

  it('converts it with --exit-norm final into a pack that embeds like the oracle', async () => {
    const pack = join(mkdtempSync(join(tmpdir(), 'm3web-mb-')), 'pack');
    const conv = await m3web(['convert', dir, '--out', pack, '--quant', 'q8', '--exit-norm', 'final', '--dims', '32,64'], '');
    expect(conv.stderr).toMatch(/wrote modernbert-tiny \(q8, 5 shards/);
    expect(conv.code).toBe(0);
    expect(JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8'))).toMatchObject({ exitNorm: 'final', dims: [32, 64] });
    const r = await m3web(['embed', '--model', pack, '--backend', 'cpu', '--no-normalize', '--layers', '2'], jsonLines(mb.texts));
    expect(r.code).toBe(0);
    vectors(r.stdout).forEach((v, i) => {
      expect(cosine(v, mbOracle.get(`mean.final.${i}.2`, [H]))).toBeGreaterThan(0.999);
    });
  });
});
