// Y[M, N] = epilogue(X[M, K] . W[N, K]^T + bias[N]), tiled through workgroup memory.
// W is in Hugging Face [out, in] layout and is read through `weight4(n, k)` (four consecutive k)
// or `weight(n, k)`, which one of the weights_*.wgsl decoders supplies (f32, f16, q8, q4):
// dequantisation happens while the tile is staged, so the inner loop is identical for every
// storage format and always accumulates in f32. A scale per weight row (`row_scale`) multiplies
// the finished sum instead. X and Y hold XElem and YElem (f32, or f16 on adapters with
// `shader-f16`; declared by the loader, see elemWgsl): values are widened to f32 as they are read
// and rounded once as they are stored.
//
// Two tilings share the decoders and the epilogue:
// - `main`, for batches: each of the 16 x 8 threads keeps a ROWS x 4 block of Y in registers and
//   both tiles are staged as vec4 along K, so every step of the inner loop is ROWS x 4 four-wide
//   dot products fed by ROWS + 4 vec4 reads from workgroup memory; the usual register-tiled layout.
// - `few_rows_block`, for short inputs (up to 48 rows, see matmul.ts) and for every input on CPU
//   adapters: see there. Its entry points are in matmul_rows.wgsl and matmul_rows_subgroup.wgsl,
//   which also supply `row_values`, the way it reads X.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  // One of the EPILOGUE_* codes below. A uniform rather than a pipeline constant: one pipeline
  // fewer to compile per epilogue.
  epilogue: u32,
}

// What happens to each output before it is stored (matmul.ts's EPILOGUE, same codes):
const EPILOGUE_NONE: u32 = 0u;
// Exact GELU (BERT's first feed-forward projection).
const EPILOGUE_GELU: u32 = 1u;
// GeGLU (ModernBERT's Wi): W's rows [0, N/2) are inputs and [N/2, N) gates; the tile computes
// them interleaved (input i, gate i) so one thread holds both and Y is [M, N/2] of gelu(in) * gate.
const EPILOGUE_GEGLU: u32 = 2u;
// Add into Y (a pre-norm residual connection: Y += X . W^T + bias).
const EPILOGUE_RESIDUAL: u32 = 3u;
// Gated like GeGLU, with SiLU (Qwen3's SwiGLU) or tanh-approximated GELU (Gemma's) on the inputs.
const EPILOGUE_SWIGLU: u32 = 4u;
const EPILOGUE_GEGLU_TANH: u32 = 5u;
// ReLU (T5's feed-forward).
const EPILOGUE_RELU: u32 = 6u;
// Tanh-approximated GELU, ungated (ALBERT's gelu_new).
const EPILOGUE_GELU_TANH: u32 = 7u;

fn gated() -> bool {
  return P.epilogue == EPILOGUE_GEGLU || P.epilogue == EPILOGUE_SWIGLU || P.epilogue == EPILOGUE_GEGLU_TANH;
}

fn gate_activation(x: f32) -> f32 {
  if (P.epilogue == EPILOGUE_SWIGLU) {
    return silu(x);
  }
  if (P.epilogue == EPILOGUE_GEGLU_TANH) {
    return gelu_tanh(x);
  }
  return gelu(x);
}

@group(0) @binding(0) var<uniform> P: MatmulParams;
@group(0) @binding(1) var<storage, read> X: array<XElem>;
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<YElem>;

// The weight row behind tile column n (only the gated epilogues reorder them).
fn source_row(n: u32) -> u32 {
  if (gated()) {
    return select(n / 2u, P.N / 2u + n / 2u, (n & 1u) == 1u);
  }
  return n;
}

// `main`'s tile: 64 x 64 outputs, ROWS x 4 per thread.
const TILE_N: u32 = 64u;
const TILE_M: u32 = 64u;
const ROWS: u32 = 8u;
// K is staged 32 at a time, as 8 vec4: together the two tiles fill the 16 KiB of workgroup
// memory every WebGPU adapter offers.
const TILE_K4: u32 = 8u;
const THREADS: u32 = 128u;

var<workgroup> x_tile: array<vec4<f32>, TILE_M * TILE_K4>;
var<workgroup> w_tile: array<vec4<f32>, TILE_N * TILE_K4>;

fn x4(r: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (r < P.M) {
    let i = r * P.K + k;
    if (k + 3u < P.K) {
      v = vec4<f32>(f32(X[i]), f32(X[i + 1u]), f32(X[i + 2u]), f32(X[i + 3u]));
    } else {
      for (var j = 0u; k + j < P.K; j++) {
        v[j] = f32(X[i + j]);
      }
    }
  }
  return v;
}

fn w4(n: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (n < P.N) {
    // weight4 reads whole words, which needs every row to start on a 4-weight boundary.
    let row = source_row(n);
    if (k + 3u < P.K && (P.K & 3u) == 0u) {
      v = weight4(row, k);
    } else {
      for (var j = 0u; j < 4u && k + j < P.K; j++) {
        v[j] = weight(row, k + j);
      }
    }
  }
  return v;
}

@compute @workgroup_size(16, 8)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
) {
  let row0 = wid.y * TILE_M;
  let col0 = wid.x * TILE_N;
  var acc: array<vec4<f32>, ROWS>;

  for (var k0 = 0u; k0 < P.K; k0 += TILE_K4 * 4u) {
    for (var i = li; i < TILE_M * TILE_K4; i += THREADS) {
      x_tile[i] = x4(row0 + i / TILE_K4, k0 + (i % TILE_K4) * 4u);
    }
    for (var i = li; i < TILE_N * TILE_K4; i += THREADS) {
      w_tile[i] = w4(col0 + i / TILE_K4, k0 + (i % TILE_K4) * 4u);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K4; kk++) {
      let w0 = w_tile[(lid.x * 4u) * TILE_K4 + kk];
      let w1 = w_tile[(lid.x * 4u + 1u) * TILE_K4 + kk];
      let w2 = w_tile[(lid.x * 4u + 2u) * TILE_K4 + kk];
      let w3 = w_tile[(lid.x * 4u + 3u) * TILE_K4 + kk];
      for (var r = 0u; r < ROWS; r++) {
        let a = x_tile[(lid.y * ROWS + r) * TILE_K4 + kk];
        acc[r] += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < ROWS; r++) {
    let gr = row0 + lid.y * ROWS + r;
    if (gr >= P.M) {
      break;
    }
    store4(gr, col0 + lid.x * 4u, acc[r]);
  }
}

// Y[row, c0 .. c0 + 3] (tile columns) from their four sums, through the epilogue.
fn store4(row: u32, c0: u32, raw: vec4<f32>) {
  let sums = raw * vec4<f32>(
    row_scale(source_row(c0)),
    row_scale(source_row(c0 + 1u)),
    row_scale(source_row(c0 + 2u)),
    row_scale(source_row(c0 + 3u)),
  );
  if (gated()) {
    // N is even and c0 a multiple of 4, so an even column's gate partner is always in `sums`.
    let half = P.N / 2u;
    for (var j = 0u; j < 4u; j += 2u) {
      if (c0 + j < P.N) {
        let i = (c0 + j) / 2u;
        Y[row * half + i] = YElem(gate_activation(sums[j] + Bias[i]) * (sums[j + 1u] + Bias[half + i]));
      }
    }
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    let c = c0 + j;
    if (c < P.N) {
      var v = sums[j] + Bias[c];
      if (P.epilogue == EPILOGUE_GELU) {
        v = gelu(v);
      }
      if (P.epilogue == EPILOGUE_GELU_TANH) {
        v = gelu_tanh(v);
      }
      if (P.epilogue == EPILOGUE_RELU) {
        v = max(v, 0.0);
      }
      if (P.epilogue == EPILOGUE_RESIDUAL) {
        v += f32(Y[row * P.N + c]);
      }
      Y[row * P.N + c] = YElem(v);
    }
  }
}

// Short inputs (one text of a few dozen tokens), FEW_ROWS rows of Y per workgroup row: `main`
// would stage and decode a whole weight tile to multiply mostly padding rows. Here there is no
// workgroup memory and no barrier: each thread owns four columns of Y and decodes their weights
// straight into registers, once per FEW_ROWS rows, and X is read at addresses that are the same
// across the workgroup (`row_values`). Measured on lavapipe: see matmul.ts.
const FEW_ROWS: u32 = 16u;
const FEW_THREADS: u32 = 32u;

// Called from uniform control flow with a uniform row0; `lane` is for `row_values` only.
fn few_rows_block(c0: u32, row0: u32, lane: u32) {
  let rows = min(FEW_ROWS, P.M - row0);
  var acc: array<vec4<f32>, FEW_ROWS>;
  for (var k = 0u; k < P.K; k += 4u) {
    let w0 = w4(c0, k);
    let w1 = w4(c0 + 1u, k);
    let w2 = w4(c0 + 2u, k);
    let w3 = w4(c0 + 3u, k);
    // A constant trip count, so the block stays in registers on GPUs; the guard is uniform.
    for (var r = 0u; r < FEW_ROWS; r++) {
      if (r < rows) {
        let a = row_values(row0 + r, k, lane);
        acc[r] += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
      }
    }
  }
  for (var r = 0u; r < rows; r++) {
    store4(row0 + r, c0, acc[r]);
  }
}
