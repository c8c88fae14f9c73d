import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/checkpoint/load.js';
import { OnnxTensors } from '../../src/checkpoint/onnx.js';
import { bytesSource, SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { readHfFolder } from '../../src/node/hf-folder.js';
import { f32ToF16Bits } from '../../src/weights/f16.js';
import { folderFiles } from '../support/hub-server.js';
import { expectHubLikeOracle, packAgainstOracle, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';

// Weights from ONNX exports, as the repositories transformers.js loads carry them (onnx/model.onnx
// and no model.safetensors): test/oracle/make_onnx.py exports bert-tiny and mpnet-tiny with
// torch.onnx from the weights of the float64 oracle's fixtures, whose expected outputs they are
// checked against here.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const read = (...path: string[]) => new Uint8Array(readFileSync(join(FIXTURES, ...path)));
const BERT_ONNX = join(FIXTURES, 'bert-tiny-onnx');
const MPNET_ONNX = join(FIXTURES, 'mpnet-tiny-onnx');

const openOnnx = (bytes: Uint8Array, files: Record<string, Uint8Array> = {}) =>
  OnnxTensors.open(bytesSource(bytes, 'model.onnx'), async (name) => {
    const file = files[name];
    if (!file) throw new ModelFormatError(`no ${name}`);
    return bytesSource(file, name);
  });

/**
 * Every encoder tensor of bert-tiny's model.safetensors (a BertForMaskedLM: `bert.` names) is the
 * same read from `onnx` (BertModel's export) under its Hugging Face name.
 */
async function sameAsSafetensors(onnx: OnnxTensors): Promise<number> {
  const st = new SafetensorsFile(read('bert-tiny', 'model.safetensors'));
  let compared = 0;
  for (const [name, info] of st.tensors) {
    // Neither the pooler nor the MLM head is in the export: last_hidden_state does not use them.
    if (!name.startsWith('bert.') || name.startsWith('bert.pooler.')) continue;
    const want = st.get(name, info.shape);
    const got = await onnx.get(name.slice('bert.'.length), info.shape);
    expect(got, name).toEqual(want);
    compared++;
  }
  return compared;
}

interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
}

/** An ONNX ModelProto written by hand: `nodes`, and initializers with raw data (TensorProto data_type codes). */
function onnxGraph(
  nodes: GraphNode[],
  inits: { name: string; dims: number[]; type: number; raw: Uint8Array }[] = [],
): Uint8Array {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const field = (num: number, body: number[]) => [...varint(num * 8 + 2), ...varint(body.length), ...body];
  const text = (s: string) => [...new TextEncoder().encode(s)];
  const node = (n: GraphNode) =>
    field(1, [
      ...n.inputs.flatMap((i) => field(1, text(i))),
      ...n.outputs.flatMap((o) => field(2, text(o))),
      ...(n.name ? field(3, text(n.name)) : []),
      ...field(4, text(n.op)),
      ...(n.domain ? field(7, text(n.domain)) : []),
    ]);
  const init = (t: (typeof inits)[number]) =>
    field(5, [
      ...t.dims.flatMap((d) => [...varint(1 * 8), ...varint(d)]),
      ...varint(2 * 8),
      ...varint(t.type),
      ...field(8, text(t.name)),
      ...field(9, [...t.raw]),
    ]);
  return Uint8Array.from([...varint(1 * 8), ...varint(8), ...field(7, [...nodes.flatMap(node), ...inits.flatMap(init)])]);
}

/** A graph of the given ops (in `domain`), each on a value of its own, and no initializers. */
const onnxWithOps = (ops: string[], domain = '') =>
  onnxGraph(ops.map((op, i) => ({ op, inputs: [`x${i}`], outputs: [`y${i}`], domain })));

describe('ONNX weights', () => {
  it('maps every tensor of an export with scoped node names back to its Hugging Face name and layout', async () => {
    expect(await sameAsSafetensors(await openOnnx(read('bert-tiny-onnx', 'onnx', 'model.onnx')))).toBeGreaterThan(30);
  });

  it('opens by reading the graph and the tensor headers, not the payloads (each read a Range request on the hub)', async () => {
    const bytes = read('bert-tiny-onnx', 'onnx', 'model.onnx');
    let reads = 0;
    let total = 0;
    const counted = {
      name: 'model.onnx',
      size: bytes.length,
      read: async (offset: number, length: number) => {
        reads++;
        total += length;
        return bytes.subarray(offset, offset + length);
      },
    };
    await OnnxTensors.open(counted, async () => bytesSource(new Uint8Array(0), 'none'));
    // 855 kB, of which the word table alone is 396 kB: 234 kB in 32 reads when written.
    expect(total).toBeLessThan(0.35 * bytes.length);
    expect(reads).toBeLessThan(48);
  });

  it('finds the transposed MatMul weights through their bias Add where nodes have no names', async () => {
    expect(await sameAsSafetensors(await openOnnx(read('bert-tiny-onnx-variants', 'unnamed.onnx')))).toBeGreaterThan(30);
  });

  it('follows Casts from f16 initializers where nodes have no names', async () => {
    const onnx = await openOnnx(read('bert-tiny-onnx-variants', 'mpnet-fp16-unnamed.onnx'));
    const st = new SafetensorsFile(read('mpnet-tiny', 'model.safetensors'));
    let compared = 0;
    for (const [name, info] of st.tensors) {
      if (name.startsWith('pooler.')) continue;
      const want = st.get(name, info.shape);
      const got = await onnx.get(name, info.shape);
      // f16's rounding of values of a few units at most.
      expect(
        want.reduce((worst, w, i) => Math.max(worst, Math.abs(w - (got[i] as number))), 0),
        name,
      ).toBeLessThan(4e-3);
      compared++;
    }
    expect(compared).toBeGreaterThan(30);
  });

  it('reads a whole-f16 graph (as transformers.js model_fp16.onnx files are): f16 MatMul weights, transposed back', async () => {
    // y = x W^T with W = [[1, 2, 3], [4, 5, 6]] (out 2, in 3), stored as W^T [3, 2] in f16.
    const stored = [1, 4, 2, 5, 3, 6];
    const raw = new Uint8Array(new Uint16Array(stored.map(f32ToF16Bits)).buffer);
    const graph = onnxGraph(
      [{ op: 'MatMul', name: '/encoder/dense/MatMul', inputs: ['x', 'onnx::MatMul_7'], outputs: ['y'] }],
      [{ name: 'onnx::MatMul_7', dims: [3, 2], type: 10, raw }],
    );
    const onnx = await openOnnx(graph);
    expect([...(await onnx.get('encoder.dense.weight', [2, 3]))]).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(onnx.get('encoder.dense.weight', [3, 2])).rejects.toThrow(/shape \[2,3\], expected \[3,2\]/);
  });

  it('reads tensors kept in an external data file', async () => {
    const onnx = await openOnnx(read('bert-tiny-onnx-variants', 'external', 'model.onnx'), {
      'model.onnx_data': read('bert-tiny-onnx-variants', 'external', 'model.onnx_data'),
    });
    expect(await sameAsSafetensors(onnx)).toBeGreaterThan(30);
    // Without the data file the read fails, and says which file it wanted.
    const missing = await openOnnx(read('bert-tiny-onnx-variants', 'external', 'model.onnx'));
    await expect(missing.get('embeddings.LayerNorm.weight', [48])).rejects.toThrow(/model\.onnx_data/);
  });

  it('refuses quantized graphs, naming the float files it reads', async () => {
    await expect(openOnnx(onnxWithOps(['DynamicQuantizeLinear', 'MatMulInteger']))).rejects.toThrow(UnsupportedError);
    await expect(openOnnx(onnxWithOps(['MatMulNBits']))).rejects.toThrow(/model_fp16\.onnx/);
  });

  it('refuses onnxruntime-optimized graphs, whose fused ops pack the weights', async () => {
    const ms = 'com.microsoft';
    await expect(openOnnx(onnxWithOps(['EmbedLayerNormalization', 'Attention'], ms))).rejects.toThrow(UnsupportedError);
    await expect(openOnnx(onnxWithOps(['SkipLayerNormalization'], ms))).rejects.toThrow(/optimized.*SkipLayerNormalization/);
    // ONNX's own Attention (opset 23) takes projected queries, keys and values: its weights stay in MatMuls.
    await expect(openOnnx(onnxWithOps(['Attention']))).resolves.toBeInstanceOf(OnnxTensors);
  });

  it('reports truncated and foreign files as ModelFormatError', async () => {
    const bytes = read('bert-tiny-onnx', 'onnx', 'model.onnx');
    await expect(openOnnx(bytes.subarray(0, Math.floor(bytes.length / 2)))).rejects.toThrow(ModelFormatError);
    await expect(openOnnx(new TextEncoder().encode('{"not": "onnx"}'))).rejects.toThrow(ModelFormatError);
    await expect(openOnnx(onnxWithOps([]).subarray(0, 2))).rejects.toThrow(ModelFormatError);
  });

  it('a Node folder with only onnx/model.onnx loads as the safetensors folder does', async () => {
    const files = await readHfFolder(BERT_ONNX);
    expect(files.safetensors).toBeUndefined();
    expect(files.weights).toBeInstanceOf(OnnxTensors);
    const { weights } = await loadHfModel(files);
    expect(weights.layers).toHaveLength(4);
  });

  it('an ONNX-only folder converts to a pack that pools like the oracle at every exit (f32 and q8)', async () => {
    for (const quant of ['f32', 'q8'] as const) {
      const { tokensMatch, mean, cls } = await packAgainstOracle(BERT_ONNX, quant, undefined, join(FIXTURES, 'bert-tiny'));
      expect(tokensMatch).toBe(true);
      expect(mean).toBeGreaterThan(quant === 'f32' ? 0.99999 : 0.999);
      expect(cls).toBeGreaterThan(quant === 'f32' ? 0.99999 : 0.998);
    }
  });
});

describe('ONNX-only repositories by hub id', { timeout: 120_000 }, () => {
  const onnxFiles = (weights: string[]) =>
    new Map([
      ...folderFiles(
        MPNET_ONNX,
        ST_FILES.filter((f) => f !== 'model.safetensors'),
      ),
      ...folderFiles(MPNET_ONNX, weights),
    ]);
  const hub = serveFakeHub(
    'onnx',
    () =>
      new Map([
        ['Xenova/all-mpnet-base-v2', { files: onnxFiles(['onnx/model.onnx']), commit: '0111' }],
        ['Xenova/fp16-only', { files: onnxFiles(['onnx/model_fp16.onnx']), commit: '0222' }],
        [
          'Xenova/quantized-only',
          {
            files: new Map([...onnxFiles([]), ['onnx/model_quantized.onnx', onnxWithOps(['MatMulInteger'])]]),
            commit: '0333',
          },
        ],
      ]),
  );
  it.each([
    ['Xenova/all-mpnet-base-v2', 0.99999],
    ['Xenova/fp16-only', 0.9999],
  ])('%s embeds like the oracle (mean pooling from its sentence-transformers files)', (repo, bound) =>
    expectHubLikeOracle(hub.url, repo, join(FIXTURES, 'mpnet-tiny'), bound),
  );

  it('refuses a repository whose only ONNX weights are quantized, naming the file', async () => {
    const run = createEncoder({ model: 'hf:Xenova/quantized-only', hub: { url: hub.url }, device: 'cpu' });
    await expect(run).rejects.toThrow(UnsupportedError);
    await expect(createEncoder({ model: 'hf:Xenova/quantized-only', hub: { url: hub.url }, device: 'cpu' })).rejects.toThrow(
      /model_quantized\.onnx/,
    );
  });
});
