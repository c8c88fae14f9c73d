import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import type { LoadProgress, ModelFolder } from '../../src/types.js';
import { folderFiles } from '../support/hub-server.js';
import { cosine } from '../support/random.js';

// A folder dropped or picked in a page (EncoderOptions.model as a ModelFolder), opened in Node:
// the same engine code as in the worker, Blobs standing in for the dropped Files.

const FIXTURE = join(import.meta.dirname, '../oracle/fixtures/bert-tiny');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as { texts: string[] };
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(FIXTURE, 'expected.safetensors'))));
const H = 48;

const folder = (name: string, files: Map<string, Uint8Array>): ModelFolder => ({
  name,
  files: Object.fromEntries([...files].map(([path, bytes]) => [path, new Blob([bytes.slice()])])),
});
const hfFolder = (extra: [string, Uint8Array][] = []) =>
  new Map([...folderFiles(FIXTURE, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']), ...extra]);

async function expectOracle(model: ModelFolder, extra: Record<string, unknown> = {}) {
  const enc = await createEncoder({ model, device: 'cpu', ...extra });
  try {
    (await enc.embed(expected.texts, { normalize: false })).forEach((v, i) => {
      expect(cosine(v, oracle.get(`mean.${i}.4`, [H]))).toBeGreaterThanOrEqual(0.99999);
    });
    return await enc.info();
  } finally {
    await enc.dispose();
  }
}

describe('createEncoder({ model: a dropped folder })', { timeout: 120_000 }, () => {
  it('converts a Hugging Face folder like a hub download, with progress in weight bytes', async () => {
    const events: LoadProgress[] = [];
    const info = await expectOracle(folder('my bert', hfFolder()), {
      dtype: 'f32',
      onProgress: (p: LoadProgress) => events.push(p),
    });
    expect(info.model).toMatchObject({ id: 'my-bert', source: 'folder my bert', quantization: 'f32', exits: [1, 2, 3, 4] });
    const size = hfFolder().get('model.safetensors')?.byteLength;
    expect(
      events.filter((e) => e.phase === 'download').every((e) => e.file === 'model.safetensors' && e.fileTotal === size),
    ).toBe(true);
    expect(events.at(-1)).toEqual({ phase: 'done', fileLoaded: 0, fileTotal: 0, loaded: size, total: size });
  });

  it('converts an ONNX-only folder (a transformers.js copy: onnx/model.onnx) like its safetensors twin', async () => {
    const onnx = join(FIXTURE, '../bert-tiny-onnx');
    const files = folderFiles(onnx, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']);
    const info = await expectOracle(folder('all-MiniLM', files), { dtype: 'f32' });
    expect(info.model).toMatchObject({ id: 'all-MiniLM', quantization: 'f32', exits: [1, 2, 3, 4] });
  });

  it('opens a pack folder, checking every file against its manifest', async () => {
    const ckpt = await openHfCheckpoint(FIXTURE);
    const pack = await convertCheckpoint(ckpt, { id: 'bert-tiny', quant: 'f32' }).finally(() => ckpt.close());
    const info = await expectOracle(folder('bert-tiny-pack', pack.files));
    expect(info.model).toMatchObject({ id: 'bert-tiny', source: 'folder bert-tiny-pack' });
    const damaged = new Map(pack.files);
    const layer = damaged.get('layer-00.bin') as Uint8Array;
    damaged.set(
      'layer-00.bin',
      layer.map((b, i) => (i === 0 ? b ^ 1 : b)),
    );
    await expect(createEncoder({ model: folder('damaged', damaged), device: 'cpu' })).rejects.toMatchObject({
      code: 'INTEGRITY',
    });
  });

  it('says what is wrong with a folder that is no model, or whose pytorch_model.bin is not one', async () => {
    await expect(
      createEncoder({ model: folder('photos', new Map([['a.jpg', new Uint8Array(4)]])), device: 'cpu' }),
    ).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: expect.stringMatching(/neither manifest\.json .*, config\.json .* nor a \.gguf file/),
    });
    const pickle = hfFolder([['pytorch_model.bin', new Uint8Array(64)]]);
    pickle.delete('model.safetensors');
    await expect(createEncoder({ model: folder('old', pickle), device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: expect.stringMatching(/^pytorch_model\.bin: is not a torch\.save file/),
    });
    await expect(
      createEncoder({ model: { name: 'x', files: { 'config.json': 'text' } } as unknown as ModelFolder, device: 'cpu' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
