import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HfModelFiles, loadHfModel } from '../../src/checkpoint/load.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { InputError, ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { readHfFolder } from '../../src/node/hf-folder.js';
import { isPackFolder, openModelFolder, readModelConfig } from '../../src/node/model-folder.js';
import { cosine } from '../support/random.js';

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');

/** Rewrites a safetensors file's JSON header (tensor data unchanged). */
function editHeader(bytes: Uint8Array, edit: (header: Record<string, { shape: number[] }>) => void): Uint8Array {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - len);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + len), 8 + json.length);
  return out;
}

describe.each([
  ['bert-tiny', 'bert', 4, 48, 'bert.'],
  ['xlmr-tiny', 'xlm-roberta', 3, 64, 'roberta.'],
])('loadHfModel(%s)', (dir, modelType, numLayers, hidden, prefix) => {
  // Folders with model.safetensors, given as bytes.
  const files = readHfFolder(join(FIXTURES, dir)).then(({ weights: _, ...f }) => ({
    ...f,
    safetensors: new Uint8Array(readFileSync(join(FIXTURES, dir, 'model.safetensors'))),
  }));

  it('loads config, tokenizer and every layer', async () => {
    const { config, weights, tokenizer } = await loadHfModel(await files);
    expect(config).toMatchObject({ modelType, numLayers, hiddenSize: hidden });
    // tokenizer_config.json's model_max_length holds texts too, as in a pack converted from the folder.
    const f = await files;
    const short = await loadHfModel({ ...f, tokenizerConfig: { ...(f.tokenizerConfig as object), model_max_length: 40 } });
    expect(short.config.maxTokens).toBe(40);
    expect(config.maxTokens).toBeGreaterThan(40);
    expect(weights.layers).toHaveLength(numLayers);
    expect(weights.layers[0]?.qkv).toMatchObject({ quant: 'f32', rows: 3 * hidden, cols: hidden });
    expect(tokenizer.encode('Hi!', config.maxTokens).truncated).toBe(false);
  });

  it('gives the oracle mean-pooled vectors on the CPU', async () => {
    const { config, weights } = await loadHfModel(await files);
    const expected = JSON.parse(readFileSync(join(FIXTURES, dir, 'expected.json'), 'utf8'));
    const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(FIXTURES, dir, 'expected.safetensors'))));
    const cpu = new CpuEncoder(weights);
    const got = await cpu.embed(expected.ids, { layers: numLayers, dims: hidden, pooling: 'mean', normalize: false });
    got.forEach((v, i) => {
      expect(cosine(v, oracle.get(`mean.${i}.${numLayers}`, [config.hiddenSize]))).toBeGreaterThan(0.99999);
    });
  });

  it('loads only the first layers, quantized, when asked', async () => {
    const { weights } = await loadHfModel(await files, { quant: 'q8', layers: 2 });
    expect(weights.layers).toHaveLength(2);
    expect(weights.layers[1]?.ffnIn.quant).toBe('q8');
    await expect(loadHfModel(await files, { layers: numLayers + 1 })).rejects.toThrow(InputError);
    await expect(loadHfModel(await files, { layers: 0 })).rejects.toThrow(InputError);
  });

  it('names a missing tensor', async () => {
    const f = await files;
    const name = `${prefix}encoder.layer.1.attention.self.key.weight`;
    const safetensors = editHeader(f.safetensors, (h) => delete h[name]);
    await expect(loadHfModel({ ...f, safetensors })).rejects.toThrow(
      new ModelFormatError(`model.safetensors: missing tensor "${name}"`),
    );
  });

  it('names a tensor with the wrong shape', async () => {
    const f = await files;
    const name = `${prefix}encoder.layer.0.intermediate.dense.weight`;
    const safetensors = editHeader(f.safetensors, (h) => {
      const tensor = h[name] as { shape: number[] };
      tensor.shape = [...tensor.shape].reverse();
    });
    await expect(loadHfModel({ ...f, safetensors })).rejects.toThrow(ModelFormatError);
    await expect(loadHfModel({ ...f, safetensors })).rejects.toThrow(
      new RegExp(`"${name.replaceAll('.', '\\.')}" has shape \\[${hidden},`),
    );
  });

  it('reports a truncated safetensors file', async () => {
    const f = await files;
    const safetensors = f.safetensors.subarray(0, f.safetensors.length - 100);
    await expect(loadHfModel({ ...f, safetensors })).rejects.toThrow(ModelFormatError);
    await expect(loadHfModel({ ...f, safetensors })).rejects.toThrow(/truncated/);
    await expect(loadHfModel({ ...f, safetensors: f.safetensors.subarray(0, 5) })).rejects.toThrow(/truncated/);
  });

  it('rejects an unknown model_type', async () => {
    const f = await files;
    const config = { ...(f.config as object), model_type: 'gpt2' };
    await expect(loadHfModel({ ...f, config })).rejects.toThrow(UnsupportedError);
    await expect(loadHfModel({ ...f, config })).rejects.toThrow(/model_type "gpt2" is not supported/);
  });

  it('rejects position types it has no table or bias for (relative_key)', async () => {
    const f = await files;
    const config = { ...(f.config as object), position_embedding_type: 'relative_key' };
    await expect(loadHfModel({ ...f, config })).rejects.toThrow(UnsupportedError);
    await expect(loadHfModel({ ...f, config })).rejects.toThrow(/position_embedding_type "relative_key"/);
  });

  it('rejects a tokenizer whose ids do not fit vocab_size', async () => {
    const f = await files;
    const config = { ...(f.config as object), vocab_size: 100 };
    await expect(loadHfModel({ ...f, config })).rejects.toThrow(/vocab_size is 100/);
  });
});

describe('readHfFolder', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'm3web-load-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const src = join(FIXTURES, 'bert-tiny');

  it('names a missing folder', async () => {
    await expect(readHfFolder(join(tmp, 'nope'))).rejects.toThrow(/model folder .*nope does not exist/);
  });

  it('names the missing file and the folder, in order', async () => {
    const dir = join(tmp, 'partial');
    const steps: [string, RegExp][] = [
      ['config.json', /config\.json not found in model folder .*partial/],
      ['tokenizer.json', /tokenizer\.json not found in model folder .*partial/],
      ['model.safetensors', /model\.safetensors not found in model folder .*partial/],
    ];
    mkdirSync(dir);
    for (const [file, message] of steps) {
      await expect(readHfFolder(dir)).rejects.toThrow(message);
      await expect(readHfFolder(dir)).rejects.toThrow(ModelFormatError);
      copyFileSync(join(src, file), join(dir, file));
    }
    const files: HfModelFiles = await readHfFolder(dir);
    expect(files.tokenizerConfig).toBeUndefined();
    expect((await loadHfModel(files)).weights.layers).toHaveLength(4);
  });

  it('reports invalid JSON with the file path', async () => {
    const dir = join(tmp, 'badjson');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), '{ nope');
    await expect(readHfFolder(dir)).rejects.toThrow(/badjson.config\.json is not valid JSON/);
  });
});

describe("a Hugging Face folder with some other tool's manifest.json", () => {
  const tmp = mkdtempSync(join(tmpdir(), 'm3web-stray-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const src = join(FIXTURES, 'bert-tiny');
  const dir = join(tmp, 'bert-tiny');
  mkdirSync(dir);
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) copyFileSync(join(src, f), join(dir, f));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ files: ['config.json', 'model.safetensors'], version: 3 }));

  it("opens as a checkpoint, in the API and in the CLI's reader", async () => {
    expect(await isPackFolder(dir)).toBe(false);
    expect(await readModelConfig(dir)).toEqual({ config: JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) });
    expect((await openModelFolder(dir)).weights.layers).toHaveLength(4);
    const enc = await createEncoder({ model: dir, device: 'cpu', cache: false });
    try {
      expect((await enc.embed(['hello']))[0]).toHaveLength(48);
    } finally {
      await enc.dispose();
    }
  });

  it('without config.json, is refused naming both readings', async () => {
    const bare = join(tmp, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'manifest.json'), '{"files": []}');
    await expect(readModelConfig(bare)).rejects.toThrow(ModelFormatError);
    await expect(readModelConfig(bare)).rejects.toThrow(
      /neither an m3web pack nor a Hugging Face checkpoint.*not an m3web pack manifest/,
    );
  });
});

describe('model_type camembert', () => {
  it('is read as the RoBERTa it is (CamembertModel: RoBERTa classes, `roberta.` names), and embeds like the oracle', async () => {
    const f = await readHfFolder(join(FIXTURES, 'xlmr-tiny'));
    const config = { ...(f.config as object), model_type: 'camembert', architectures: ['CamembertForMaskedLM'] };
    const camembert = await loadHfModel({ ...f, config });
    expect(camembert.config).toEqual((await loadHfModel(f)).config);
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'xlmr-tiny', 'expected.json'), 'utf8'));
    const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(FIXTURES, 'xlmr-tiny', 'expected.safetensors'))));
    const cpu = new CpuEncoder(camembert.weights);
    const got = await cpu.embed(expected.ids, { layers: 3, dims: 64, pooling: 'mean', normalize: false });
    for (const [i, v] of got.entries()) expect(cosine(v, oracle.get(`mean.${i}.3`, [64]))).toBeGreaterThan(0.99999);
    cpu.dispose();
  });
});
