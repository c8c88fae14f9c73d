import { UnsupportedError } from '../errors.js';
import type { GpuLinear, MatmulKernel } from '../gpu/kernels/matmul.js';
import { ARGS_PER_EXPERT, expertCapacity, MoeKernel } from '../gpu/kernels/moe.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { ELEM_BYTES, type Elem, GrowableBuffer, type UniformArena } from '../gpu/resources.js';
import type { MoeSpec } from '../weights/config.js';
import { expertBlocks } from '../weights/linear-blocks.js';
import type { BertLayer } from '../weights/weights.js';
import type { WeightUploads } from './gpu-graph.js';

/** One expert layer's weights on the GPU: the f32 router, each expert's two projections, their shared bias. */
interface ExpertLayer {
  router: GpuLinear;
  up: GpuLinear[];
  down: GpuLinear[];
  bias: GPUBuffer;
}

const U32 = 4;

/**
 * The mixture-of-experts feed-forward of a BertGraph (config.moe: nomic-embed-text-v2-moe), each
 * expert over the tokens routed to it only, in one submission with no readback: the router's
 * matmul, shaders/moe.wgsl's route (which writes each expert's indirect dispatch arguments) and
 * gather, per expert its two matmuls on its block of rows dispatched indirectly, then combine,
 * which writes the layer's feed-forward output as BERT's second projection would. Expert e's rows
 * sit in block e of expertCapacity(M) rows, so a block of either scratch buffer is bound at a
 * 256-byte offset.
 */
export class GpuExperts {
  private readonly logits: GrowableBuffer;
  private readonly route: GrowableBuffer;
  private readonly weights: GrowableBuffer;
  private readonly gathered: GrowableBuffer;
  private readonly hidden: GrowableBuffer;
  private readonly args: GPUBuffer;
  private sized: { logits: GPUBuffer; route: GPUBuffer; weights: GPUBuffer; gathered: GPUBuffer; hidden: GPUBuffer } | null =
    null;

  private constructor(
    device: GPUDevice,
    private readonly spec: MoeSpec,
    private readonly shape: { H: number; I: number; elem: Elem },
    private readonly kernel: MoeKernel,
    /** By layer index; null for the dense layers. */
    private readonly layers: readonly (ExpertLayer | null)[],
  ) {
    const { elem } = shape;
    this.logits = new GrowableBuffer(device, 'moe.logits');
    this.route = new GrowableBuffer(device, 'moe.route');
    this.weights = new GrowableBuffer(device, 'moe.weights');
    this.gathered = new GrowableBuffer(device, 'moe.gathered', undefined, elem);
    this.hidden = new GrowableBuffer(device, 'moe.hidden', undefined, elem);
    this.args = device.createBuffer({
      label: 'moe.args',
      size: spec.experts * ARGS_PER_EXPERT * U32,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT,
    });
  }

  /** Uploads each expert layer's router, expert blocks (expertBlocks: views of the stacked matrices) and shared bias. */
  static async create(
    device: GPUDevice,
    spec: MoeSpec,
    shape: { H: number; I: number; elem: Elem },
    layers: readonly BertLayer[],
    up: WeightUploads,
  ): Promise<GpuExperts> {
    // Blocks of expertCapacity rows start on 256-byte offsets only when a row has an even size.
    if (shape.H % 2 !== 0 || shape.I % 2 !== 0) {
      throw new UnsupportedError(`experts on WebGPU with an odd hidden (${shape.H}) or expert (${shape.I}) width`);
    }
    const kernel = await MoeKernel.create(device, spec.experts, [shape.elem]);
    const uploaded = layers.map((l, i) => {
      if (!l.experts) return null;
      const blocks = expertBlocks(l.ffnIn, l.ffnOut, spec.experts);
      return {
        router: up.linear(`layer${i}.router`, l.experts.router),
        up: blocks.map((b, e) => up.linear(`layer${i}.expert${e}.up`, b.up)),
        down: blocks.map((b, e) => up.linear(`layer${i}.expert${e}.down`, b.down)),
        bias: up.buffer(`layer${i}.experts.bias`, l.experts.bias),
      };
    });
    return new GpuExperts(device, spec, shape, kernel, uploaded);
  }

  /** Uniform slots of one expert layer beyond a dense feed-forward's two: the router, route's block and 2E - 2 more matmuls. */
  get extraSlots(): number {
    return 2 * this.spec.experts;
  }

  /**
   * The most tokens a batch may have for the scratch buffers to stay within `bytes` each: every
   * expert's block holds up to all of them, rounded up to 64.
   */
  maxTokens(bytes: number): number {
    const { H, I, elem } = this.shape;
    const rows = Math.floor(bytes / (this.spec.experts * Math.max(H, I) * ELEM_BYTES[elem]));
    return Math.floor(rows / 64) * 64;
  }

  reserve(maxM: number): void {
    const { H, I, elem } = this.shape;
    const E = this.spec.experts;
    const cap = expertCapacity(maxM);
    this.sized = {
      logits: this.logits.ensure(maxM * E * 4),
      route: this.route.ensure((E + E * cap + maxM * this.spec.topK) * U32),
      weights: this.weights.ensure(E * cap * 4),
      gathered: this.gathered.ensure(E * cap * H * ELEM_BYTES[elem]),
      hidden: this.hidden.ensure(E * cap * I * ELEM_BYTES[elem]),
    };
  }

  /** out[M, H] = layer i's feed-forward of x[M, H]. */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    matmul: MatmulKernel,
    i: number,
    x: GPUBuffer,
    out: GPUBuffer,
    M: number,
  ): void {
    const layer = this.layers[i];
    if (!layer || !this.sized) throw new Error(`GpuExperts: layer ${i} has no experts, or encode before reserve`);
    const { H, I, elem } = this.shape;
    const { experts: E, topK } = this.spec;
    const { logits, route, weights, gathered, hidden } = this.sized;
    const cap = expertCapacity(M);
    const eb = ELEM_BYTES[elem];
    matmul.encode(pass, uniforms, x, layer.router, logits, M); // logits [M, E]
    // Each expert's matmuls run over its share of the tokens: about M topK / E rows.
    const expect = Math.ceil((M * topK) / E);
    const upTiling = matmul.tiling(layer.up[0] as GpuLinear, gathered, hidden, expect);
    const downTiling = matmul.tiling(layer.down[0] as GpuLinear, hidden, gathered, expect);
    const run = this.kernel.bind(
      uniforms,
      { logits, route, weights, args: this.args, x, gathered, out, bias: layer.bias },
      { M, H, experts: E, topK, cap },
      {
        up: { tiles: Math.ceil(I / upTiling.cols), rows: upTiling.rows },
        down: { tiles: Math.ceil(H / downTiling.cols), rows: downTiling.rows },
      },
    );
    run.route(pass);
    run.gather(pass);
    for (let e = 0; e < E; e++) {
      const rowsIn = { buffer: gathered, offset: e * cap * H * eb, size: cap * H * eb };
      const rowsHidden = { buffer: hidden, offset: e * cap * I * eb, size: cap * I * eb };
      const args = (p: number) => ({ buffer: this.args, offset: (e * ARGS_PER_EXPERT + p * 3) * U32 });
      const rows = { bound: cap, expect };
      matmul.encodeIndirect(pass, uniforms, { x: rowsIn, y: rowsHidden }, layer.up[e] as GpuLinear, rows, 'gelu', args(0));
      matmul.encodeIndirect(pass, uniforms, { x: rowsHidden, y: rowsIn }, layer.down[e] as GpuLinear, rows, 'none', args(1));
    }
    run.combine(pass);
  }

  destroy(): void {
    for (const b of [this.logits, this.route, this.weights, this.gathered, this.hidden]) b.destroy();
    this.args.destroy();
  }
}
