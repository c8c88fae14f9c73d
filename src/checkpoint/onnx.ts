import { ModelFormatError, UnsupportedError } from '../errors.js';
import { ProtoReader, WIRE } from './protobuf.js';
import { type ByteSource, decodeToF32, type SafetensorsDtype, type TensorInfo, type TensorSource } from './safetensors.js';

/** onnx.proto's TensorProto.DataType codes of the float types m3web reads. */
const FLOAT_TYPES: Readonly<Record<number, SafetensorsDtype>> = { 1: 'F32', 10: 'F16', 16: 'BF16', 11: 'F64' };
const DTYPE_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Where transformers.js repositories (and folders copied from them) keep float ONNX weights, best first. */
export const ONNX_WEIGHT_FILES: readonly string[] = ['onnx/model.onnx', 'onnx/model_fp16.onnx', 'model.onnx'];

/** Ops of graphs whose weights are stored quantized. */
const QUANTIZED_OPS = new Set(['MatMulInteger', 'DequantizeLinear', 'MatMulNBits', 'QLinearMatMul', 'DynamicQuantizeMatMul']);
/** onnxruntime's fused transformer ops (domain com.microsoft): their weights no longer map to the model's parameters. */
const FUSED_OPS = new Set([
  'Attention',
  'MultiHeadAttention',
  'PackedAttention',
  'EmbedLayerNormalization',
  'SkipLayerNormalization',
  'FastGelu',
  'BiasGelu',
]);

/** An initializer's payload: where its bytes are, in this file or an external data file. */
interface Initializer {
  name: string;
  dtype: SafetensorsDtype | null;
  dims: number[];
  /** The file holding the bytes: '' for the .onnx file itself, else external_data's location. */
  file: string;
  begin: number;
  end: number;
  /** Values stored in typed fields (float_data, ...) instead of raw_data: m3web does not read those. */
  typed: boolean;
}

interface OnnxNode {
  name: string;
  op: string;
  /** '' for ONNX's own ops, 'com.microsoft' for onnxruntime's. */
  domain: string;
  inputs: string[];
  outputs: string[];
}

/** A tensor as the checkpoint readers ask for it: Hugging Face's name and [out, in] layout. */
interface Mapped {
  init: Initializer;
  /** A MatMul's right operand, stored [in, out]: read back transposed. */
  transposed: boolean;
}

async function readTensor(r: ProtoReader): Promise<Initializer> {
  const t: Initializer = { name: '', dtype: null, dims: [], file: '', begin: 0, end: 0, typed: false };
  const external = new Map<string, string>();
  while (!r.done) {
    const { field, wire } = await r.key();
    if (field === 1 && wire === WIRE.varint) t.dims.push(await r.varint());
    else if (field === 1 && wire === WIRE.bytes) {
      const packed = r.sub(await r.varint());
      while (!packed.done) t.dims.push(await packed.varint());
    } else if (field === 2 && wire === WIRE.varint) t.dtype = FLOAT_TYPES[await r.varint()] ?? null;
    else if (field === 8 && wire === WIRE.bytes) t.name = await r.string();
    else if (field === 9 && wire === WIRE.bytes) {
      const length = await r.varint();
      t.begin = r.pos;
      t.end = r.pos + length;
      r.skip(length);
    } else if (field === 13 && wire === WIRE.bytes) {
      const entry = r.sub(await r.varint());
      let key = '';
      let value = '';
      while (!entry.done) {
        const k = await entry.key();
        if (k.field === 1 && k.wire === WIRE.bytes) key = await entry.string();
        else if (k.field === 2 && k.wire === WIRE.bytes) value = await entry.string();
        else await entry.skipValue(k.wire);
      }
      external.set(key, value);
    } else if ([4, 5, 7, 10, 11].includes(field)) {
      t.typed = true;
      await r.skipValue(wire);
    } else await r.skipValue(wire);
  }
  if (external.size > 0) {
    const location = external.get('location') ?? '';
    const offset = Number(external.get('offset') ?? 0);
    const length = external.has('length') ? Number(external.get('length')) : Number.NaN;
    if (!/^[\w.-]+$/.test(location) || !Number.isSafeInteger(offset) || offset < 0) {
      throw new ModelFormatError(`ONNX initializer "${t.name}" has strange external data (${JSON.stringify(location)})`);
    }
    t.file = location;
    t.begin = offset;
    t.end = Number.isSafeInteger(length) ? offset + length : Number.NaN;
  }
  return t;
}

async function readNode(r: ProtoReader): Promise<OnnxNode> {
  const n: OnnxNode = { name: '', op: '', domain: '', inputs: [], outputs: [] };
  while (!r.done) {
    const { field, wire } = await r.key();
    if (wire !== WIRE.bytes || field === 5 || field === 6 || field > 7) await r.skipValue(wire);
    else if (field === 1) n.inputs.push(await r.string());
    else if (field === 2) n.outputs.push(await r.string());
    else if (field === 3) n.name = await r.string();
    else if (field === 4) n.op = await r.string();
    else n.domain = await r.string();
  }
  return n;
}

/** ModelProto.graph (field 7): its nodes (GraphProto field 1) and initializers (field 5). */
async function readGraph(source: ByteSource): Promise<{ nodes: OnnxNode[]; inits: Initializer[] }> {
  const nodes: OnnxNode[] = [];
  const inits: Initializer[] = [];
  const model = new ProtoReader(source, 0, source.size);
  let found = false;
  while (!model.done) {
    const { field, wire } = await model.key();
    if (field !== 7 || wire !== WIRE.bytes) {
      await model.skipValue(wire);
      continue;
    }
    found = true;
    const graph = model.sub(await model.varint());
    while (!graph.done) {
      const g = await graph.key();
      if (g.field === 1 && g.wire === WIRE.bytes) nodes.push(await readNode(graph.sub(await graph.varint())));
      else if (g.field === 5 && g.wire === WIRE.bytes) inits.push(await readTensor(graph.sub(await graph.varint())));
      else await graph.skipValue(g.wire);
    }
  }
  if (!found) throw new ModelFormatError(`${source.name}: no graph (is this an ONNX model?)`);
  return { nodes, inits };
}

/**
 * The module a MatMul by a weight belongs to: exporters name nodes by module path
 * ("/encoder/layer.0/attention/self/query/MatMul"); without such names, the bias initializer
 * ("encoder.layer.0.attention.self.query.bias") that the Add after it takes.
 */
function matmulModule(
  node: OnnxNode,
  consumers: Map<string, OnnxNode[]>,
  initializerOf: (value: string) => Initializer | undefined,
): string | null {
  const path = node.name.split('/').filter((s) => s !== '');
  if (node.name.startsWith('/') && path.length >= 2) return path.slice(0, -1).join('.');
  for (const add of consumers.get(node.outputs[0] ?? '') ?? []) {
    if (add.op !== 'Add') continue;
    const bias = add.inputs.map(initializerOf).find((i) => i?.name.endsWith('.bias'));
    if (bias) return bias.name.slice(0, -'.bias'.length);
  }
  return null;
}

/**
 * The float weights of an ONNX export (Optimum's, as transformers.js repositories carry them:
 * onnx/model.onnx or model_fp16.onnx) under Hugging Face's parameter names. Parameters a graph
 * uses as they are keep their names; torch.onnx folds each Linear's weight into a transposed
 * initializer ("onnx::MatMul_123") that a MatMul takes as its right operand, so those are found
 * through the graph (matmulModule) and read back transposed. Initializer payloads are read only
 * when asked for, from the file or its external data file (`external`).
 */
export class OnnxTensors implements TensorSource {
  private last: { name: string; values: Float32Array } | null = null;

  private constructor(
    private readonly source: ByteSource,
    private readonly tensors: Map<string, Mapped>,
    private readonly external: (file: string) => Promise<ByteSource>,
  ) {}

  static async open(source: ByteSource, external: (file: string) => Promise<ByteSource>): Promise<OnnxTensors> {
    const { nodes, inits } = await readGraph(source);
    if (nodes.some((n) => QUANTIZED_OPS.has(n.op))) {
      throw new UnsupportedError(
        `${source.name} is a quantized ONNX graph: m3web reads f32 or f16 ONNX weights (onnx/model.onnx, model_fp16.onnx) and quantizes them itself`,
      );
    }
    const fused = nodes.find((n) => n.domain === 'com.microsoft' && FUSED_OPS.has(n.op));
    if (fused) {
      throw new UnsupportedError(
        `${source.name} is an onnxruntime-optimized graph (fused ${fused.op}), whose weights are packed for its kernels: m3web reads the plain export (onnx/model.onnx)`,
      );
    }
    const byName = new Map(inits.map((i) => [i.name, i]));
    const tensors = new Map<string, Mapped>();
    for (const init of inits) if (init.dtype) tensors.set(init.name, { init, transposed: false });
    const consumers = new Map<string, OnnxNode[]>();
    const producers = new Map<string, OnnxNode>();
    for (const n of nodes) {
      for (const i of n.inputs) {
        const list = consumers.get(i);
        if (list) list.push(n);
        else consumers.set(i, [n]);
      }
      for (const o of n.outputs) producers.set(o, n);
    }
    // An f16 export may cast each weight (and bias) to f32 before it is used.
    const initializerOf = (value: string): Initializer | undefined => {
      const cast = producers.get(value);
      return (
        byName.get(value) ?? (cast && ['Cast', 'Identity'].includes(cast.op) ? initializerOf(cast.inputs[0] ?? '') : undefined)
      );
    };
    for (const n of nodes) {
      if (n.op !== 'MatMul') continue;
      const init = initializerOf(n.inputs[1] ?? '');
      if (!init?.dtype || init.dims.length !== 2) continue;
      const module = matmulModule(n, consumers, initializerOf);
      if (module && !byName.has(`${module}.weight`)) tensors.set(`${module}.weight`, { init, transposed: true });
    }
    const opened = new Map<string, Promise<ByteSource>>();
    const open = (file: string) => {
      const known = opened.get(file);
      if (known) return known;
      const source = external(file);
      opened.set(file, source);
      return source;
    };
    return new OnnxTensors(source, tensors, open);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  shape(name: string): readonly number[] | undefined {
    const t = this.tensors.get(name);
    return t && (t.transposed ? [...t.init.dims].reverse() : t.init.dims);
  }

  names(): Iterable<string> {
    return this.tensors.keys();
  }

  async get(name: string, shape: readonly number[]): Promise<Float32Array> {
    return (await this.whole(name, shape)).slice();
  }

  async getRows(name: string, shape: readonly number[], from: number, to: number): Promise<Float32Array> {
    const row = shape.slice(1).reduce((a, b) => a * b, 1);
    const rows = shape[0] ?? 1;
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= rows))
      throw new RangeError(`${this.source.name}: rows ${from}..${to} of tensor "${name}" outside 0..${rows}`);
    const t = this.mapped(name, shape);
    if (t.transposed) return (await this.whole(name, shape)).subarray(from * row, to * row);
    return this.read(name, t.init, from * row, to * row);
  }

  /** The whole tensor in Hugging Face's layout; the last one is kept, since matrices are read a block of rows at a time. */
  private async whole(name: string, shape: readonly number[]): Promise<Float32Array> {
    const { init, transposed } = this.mapped(name, shape);
    if (this.last?.name === name) return this.last.values;
    const stored = await this.read(
      name,
      init,
      0,
      shape.reduce((a, b) => a * b, 1),
    );
    let values = stored;
    if (transposed) {
      const [out, inner] = shape as [number, number];
      values = new Float32Array(stored.length);
      for (let i = 0; i < inner; i++) for (let o = 0; o < out; o++) values[o * inner + i] = stored[i * out + o] as number;
    }
    this.last = { name, values };
    return values;
  }

  private mapped(name: string, shape: readonly number[]): Mapped {
    const t = this.tensors.get(name);
    if (!t) throw new ModelFormatError(`${this.source.name}: missing tensor "${name}"`);
    const dims = t.transposed ? [...t.init.dims].reverse() : t.init.dims;
    if (dims.length !== shape.length || dims.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(`${this.source.name}: tensor "${name}" has shape [${dims}], expected [${shape}]`);
    }
    if (t.init.typed) {
      throw new UnsupportedError(`${this.source.name}: tensor "${name}" keeps its values in typed fields, not raw_data`);
    }
    return t;
  }

  /** Values [from, to) of an initializer's stored order, as f32. */
  private async read(name: string, init: Initializer, from: number, to: number): Promise<Float32Array> {
    const dtype = init.dtype as SafetensorsDtype;
    const bytes = DTYPE_BYTES[dtype] as number;
    const count = init.dims.reduce((a, b) => a * b, 1);
    if (Number.isFinite(init.end) && init.end - init.begin !== count * bytes) {
      throw new ModelFormatError(
        `${this.source.name}: tensor "${name}" holds ${init.end - init.begin} bytes, [${init.dims}] needs ${count * bytes}`,
      );
    }
    const file = init.file === '' ? this.source : await this.external(init.file);
    const begin = init.begin + from * bytes;
    const length = (to - from) * bytes;
    const raw = await file.read(begin, length);
    if (raw.length !== length) throw new ModelFormatError(`${file.name}: truncated while reading "${name}"`);
    const info: TensorInfo = { dtype, shape: init.dims, begin: 0, end: length };
    return decodeToF32(info, raw, name);
  }
}
