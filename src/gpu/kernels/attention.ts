import type { SharedReads } from '../device.js';
import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena } from '../resources.js';
import { type ElemIO, elemPairs, elemWgsl, ioKey } from '../shader.js';

const QUERIES = 64;
/** The head size attention.wgsl's q and acc arrays hold as written. */
const SHADER_HEAD_DIM = 128;
/** Larger heads (EmbeddingGemma's 256) get a copy of the shader with those arrays resized, see create. */
export const MAX_HEAD_DIM = 256;
/** The window of a global layer: none. */
const GLOBAL = 0xffffffff;

const PARAMS = new UniformBlock('AttentionParams', {
  S: 'u32',
  H: 'u32',
  head_dim: 'u32',
  scale: 'f32',
  window: 'u32',
  kv_width: 'u32',
  group: 'u32',
  causal: 'u32',
  alibi: 'u32',
  rel_reach: 'u32',
  dis: 'u32',
  dis_first: 'u32',
  dis_index: 'u32',
  dis_reach: 'u32',
});
const BINDINGS = new Bindings('attention', { params: 'uniform', qkv: 'read', lengths: 'read', positions: 'read', out: 'write' });

export function attentionShader(reads: SharedReads): ShaderInterface {
  return {
    files: ['attention', reads === 'subgroup' ? 'attention_rows_subgroup' : 'attention_rows'],
    params: PARAMS,
    layouts: [BINDINGS],
    // The q and acc arrays hold SHADER_HEAD_DIM floats as vec4s.
    constants: { QUERIES, GLOBAL, MAX_HEAD_VEC4S: SHADER_HEAD_DIM / 4 },
  };
}

/** ModernBERT's per-layer attention: a RoPE table (see src/model/rope.ts) and an optional window. */
export interface RotaryAttention {
  rope: GPUBuffer;
  /** Keys within this many positions each side (local layers); undefined for global layers. */
  windowHalf?: number;
}

/**
 * Grouped-query attention (Qwen3, Gemma 3): `kvHeads` key/value heads after the queries in each
 * QKV row, an optional causal mask and the score scale. Absent: BERT's and ModernBERT's
 * multi-head attention with scale head_dim^-0.5.
 */
export interface GroupedAttention {
  kvHeads: number;
  causal: boolean;
  scale: number;
}

/**
 * DeBERTa's disentangled attention (model/disentangled.ts): `table` holds the layer's q/k/v
 * projections of relative rows `first`.. (QKV's row layout) and, at element `index`, the relative
 * row of each distance i - j in -reach ..= reach (as f32).
 */
export interface DisentangledAttention {
  table: GPUBuffer;
  first: number;
  index: number;
  reach: number;
  c2p: boolean;
  p2c: boolean;
}

/** Launcher for shaders/attention.wgsl. */
export class AttentionKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    /** By ioKey of (qkv, ctx). */
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
    private readonly headDim: number,
    private readonly rotary: boolean,
  ) {}

  /**
   * The head size is a pipeline constant, so one kernel serves one model shape; `rotary`
   * compiles the RoPE variant (ModernBERT), whose every call must pass a table. `reads`: see
   * SharedReads; on lavapipe (12 x 384, 8 x 128 tokens, q8) `subgroup` takes attention from
   * 412 to 136 ms per forward. `elems`: the activation element types in use (every pair of
   * them is compiled).
   */
  static async create(
    device: GPUDevice,
    headDim: number,
    rotary = false,
    reads: SharedReads = 'direct',
    elems: readonly Elem[] = ['f32'],
  ): Promise<AttentionKernel> {
    if (headDim > MAX_HEAD_DIM) throw new RangeError(`head size ${headDim} exceeds ${MAX_HEAD_DIM}`);
    const layout = BINDINGS.layout(device);
    const compile = async (io: ElemIO): Promise<[string, GPUComputePipeline]> => {
      let code = await elemWgsl(io, ...attentionShader(reads).files);
      if (headDim > SHADER_HEAD_DIM) {
        // WGSL sizes private arrays by constant expressions only (an override cannot), and sizing
        // them for 256 in every pipeline would double the registers BERT's attention holds.
        const [from, to] = [SHADER_HEAD_DIM, MAX_HEAD_DIM].map((d) => `const MAX_HEAD_VEC4S: u32 = ${d / 4}u;`) as [
          string,
          string,
        ];
        if (!code.includes(from)) throw new Error(`attention.wgsl no longer declares "${from}"`);
        code = code.replace(from, to);
      }
      const pipeline = await computePipeline(device, {
        label: `attention-d${headDim}${rotary ? '-rope' : ''}-${ioKey(io)}`,
        layout: layout.pipelineLayout,
        compute: {
          module: device.createShaderModule({ label: 'attention', code }),
          constants: { ROPE: rotary ? 1 : 0, HEAD_DIM: headDim },
        },
      });
      return [ioKey(io), pipeline];
    };
    const pipelines = new Map(await Promise.all(elemPairs(elems).map(compile)));
    return new AttentionKernel(layout, pipelines, headDim, rotary);
  }

  /**
   * ctx[rows * S, H] from the fused qkv[rows * S, 3H] (with `grouped`: [rows * S, H + 2 kvHeads *
   * head_dim]), masking keys at or past each row's length; with `shape.alibiBase` (model/alibi.ts),
   * JinaBERT's ALiBi bias on the scores; with `shape.relative`, MPNet's relative bias
   * (model/relative-bias.ts: the table and its reach); with `shape.disentangled`, DeBERTa's terms.
   */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    qkv: GPUBuffer,
    lengths: GPUBufferBinding,
    ctx: GPUBuffer,
    shape: {
      rows: number;
      seqLen: number;
      heads: number;
      alibiBase?: number;
      relative?: { table: GPUBuffer; reach: number } | null;
      disentangled?: DisentangledAttention | null;
    },
    rotary?: RotaryAttention,
    grouped?: GroupedAttention,
  ): void {
    if (this.rotary !== (rotary !== undefined)) {
      throw new Error(`this attention kernel was compiled ${this.rotary ? 'with' : 'without'} RoPE`);
    }
    const dis = shape.disentangled;
    const params = PARAMS.write(uniforms, {
      S: shape.seqLen,
      H: shape.heads * this.headDim,
      head_dim: this.headDim,
      scale: grouped?.scale ?? 1 / Math.sqrt(this.headDim),
      window: rotary?.windowHalf ?? GLOBAL,
      kv_width: (grouped?.kvHeads ?? shape.heads) * this.headDim,
      group: shape.heads / (grouped?.kvHeads ?? shape.heads),
      causal: grouped?.causal ? 1 : 0,
      alibi: shape.alibiBase ?? 0,
      rel_reach: shape.relative?.reach ?? 0,
      dis: dis ? Number(dis.c2p) | (Number(dis.p2c) << 1) : 0,
      dis_first: dis?.first ?? 0,
      dis_index: dis?.index ?? 0,
      dis_reach: dis?.reach ?? 0,
    });
    const key = ioKey({ x: elemOf(qkv), y: elemOf(ctx) });
    const pipeline = this.pipelines.get(key);
    if (!pipeline) throw new Error(`no attention pipeline for ${key} activations`);
    pass.setPipeline(pipeline);
    if ([rotary, shape.relative, dis].filter(Boolean).length > 1) {
      throw new Error('attention takes one of RoPE, a relative bias and disentangled terms');
    }
    // Without any the shader never reads the table, but every binding must be filled.
    const positions = rotary?.rope ?? shape.relative?.table ?? dis?.table ?? lengths;
    pass.setBindGroup(0, this.layout.group({ params, qkv, lengths, positions, out: ctx }));
    pass.dispatchWorkgroups(Math.ceil(shape.seqLen / QUERIES), shape.heads, shape.rows);
  }
}
