// Y[M, N] = epilogue(X[M, K] . W[N, K]^T + bias[N]), tiled through workgroup memory.
// W is in Hugging Face [out, in] layout and is read through `weight4(n, k)` (four consecutive k)
// or `weight(n, k)`, which one of the weights_*.wgsl decoders supplies (f32, f16, q8, q4):
// dequantisation happens while the tile is staged, so the inner loop is identical for every
// storage format and always accumulates in f32.
//
// Each of the 16 x 8 threads keeps a ROWS x 4 block of Y in registers and both tiles are staged
// as vec4 along K, so every step of the inner loop is ROWS x 4 four-wide dot products fed by
// ROWS + 4 vec4 reads from workgroup memory. On software adapters (lavapipe, SwiftShader) memory
// reads, not arithmetic, bound the loop, so the larger the register block the better; on GPUs
// this is the usual register-tiled layout.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  // What happens to each output before it is stored:
  // 0: nothing; 1: exact GELU (BERT's first feed-forward projection);
  // 2: GeGLU (ModernBERT's Wi): W's rows [0, N/2) are inputs and [N/2, N) gates; the tile computes
  //    them interleaved (input i, gate i) so one thread holds both and Y is [M, N/2] of gelu(in) * gate;
  // 3: add into Y (a pre-norm residual connection: Y += X . W^T + bias).
  // A uniform rather than a pipeline constant: one pipeline fewer to compile per epilogue.
  epilogue: u32,
}

@group(0) @binding(0) var<uniform> P: MatmulParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

// Rows of Y per thread: the tile is 8 * ROWS rows. Short inputs use a smaller tile (each row
// tile re-decodes the whole weight tile, so fewer, fuller tiles win); see matmul.ts.
override ROWS: u32 = 8u;
// The weight row behind tile column n (only GeGLU reorders them).
fn source_row(n: u32) -> u32 {
  if (P.epilogue == 2u) {
    return select(n / 2u, P.N / 2u + n / 2u, (n & 1u) == 1u);
  }
  return n;
}

const TILE_N: u32 = 64u;
const MAX_TILE_M: u32 = 64u;
// K is staged 32 at a time, as 8 vec4: together the two tiles fill the 16 KiB of workgroup
// memory every WebGPU adapter offers.
const TILE_K4: u32 = 8u;
const THREADS: u32 = 128u;

var<workgroup> x_tile: array<vec4<f32>, MAX_TILE_M * TILE_K4>;
var<workgroup> w_tile: array<vec4<f32>, TILE_N * TILE_K4>;

fn x4(r: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (r < P.M) {
    let i = r * P.K + k;
    if (k + 3u < P.K) {
      v = vec4<f32>(X[i], X[i + 1u], X[i + 2u], X[i + 3u]);
    } else {
      for (var j = 0u; k + j < P.K; j++) {
        v[j] = X[i + j];
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
  let tile_m = 8u * ROWS;
  let row0 = wid.y * tile_m;
  let col0 = wid.x * TILE_N;
  var acc: array<vec4<f32>, 8>;

  for (var k0 = 0u; k0 < P.K; k0 += TILE_K4 * 4u) {
    for (var i = li; i < tile_m * TILE_K4; i += THREADS) {
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
    if (P.epilogue == 2u) {
      // N is even, so an even column's gate partner is always inside this thread's vec4.
      let half = P.N / 2u;
      for (var j = 0u; j < 4u; j += 2u) {
        let gc = col0 + lid.x * 4u + j;
        if (gc < P.N) {
          let i = gc / 2u;
          Y[gr * half + i] = gelu(acc[r][j] + Bias[i]) * (acc[r][j + 1u] + Bias[half + i]);
        }
      }
      continue;
    }
    for (var j = 0u; j < 4u; j++) {
      let gc = col0 + lid.x * 4u + j;
      if (gc < P.N) {
        var v = acc[r][j] + Bias[gc];
        if (P.epilogue == 1u) {
          v = gelu(v);
        }
        if (P.epilogue == 3u) {
          v += Y[gr * P.N + gc];
        }
        Y[gr * P.N + gc] = v;
      }
    }
  }
}
