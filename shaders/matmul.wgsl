// Y[M, N] = epilogue(X[M, K] . W[N, K]^T + bias[N]), tiled through workgroup memory.
// W is in Hugging Face [out, in] layout and is read through `weight(n, k)`, which one of the
// weights_*.wgsl decoders supplies (f32, f16, q8, q4): dequantisation happens while the tile is
// staged, so the inner loop is identical for every storage format and always accumulates in f32.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> P: MatmulParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

// 1 for short inputs (a 16-row tile wastes less on one short text), 4 for large batches.
override ROWS_PER_THREAD: u32 = 4u;
// What happens to each output before it is stored:
// 0: nothing; 1: exact GELU (BERT's first feed-forward projection);
// 2: GeGLU (ModernBERT's Wi): W's rows [0, N/2) are inputs and [N/2, N) gates; the tile computes
//    them interleaved (input i, gate i) so one thread holds both and Y is [M, N/2] of gelu(in) * gate;
// 3: add into Y (a pre-norm residual connection: Y += X . W^T + bias).
override EPILOGUE: u32 = 0u;

// The weight row behind tile column n (only GeGLU reorders them).
fn source_row(n: u32) -> u32 {
  if (EPILOGUE == 2u) {
    return select(n / 2u, P.N / 2u + n / 2u, (n & 1u) == 1u);
  }
  return n;
}

const TILE_K: u32 = 16u;
const TILE_N: u32 = 64u;
const MAX_TILE_M: u32 = 64u;

var<workgroup> a_tile: array<f32, TILE_K * MAX_TILE_M>;
var<workgroup> w_tile: array<vec4<f32>, TILE_K * TILE_N / 4u>;

@compute @workgroup_size(16, 16)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
) {
  let tile_m = 16u * ROWS_PER_THREAD;
  let row0 = wid.y * tile_m;
  let col0 = wid.x * TILE_N;
  var acc: array<vec4<f32>, 4>;

  for (var k0 = 0u; k0 < P.K; k0 += TILE_K) {
    // Stage X transposed ([k][m]) so each thread's row reads are a broadcast.
    for (var i = li; i < tile_m * TILE_K; i += 256u) {
      let r = i / TILE_K;
      let c = i % TILE_K;
      let gr = row0 + r;
      let gk = k0 + c;
      var v = 0.0;
      if (gr < P.M && gk < P.K) {
        v = X[gr * P.K + gk];
      }
      a_tile[c * MAX_TILE_M + r] = v;
    }
    // Stage W as [k][n]; each thread later reads its 4 adjacent columns as one vec4.
    for (var i = li; i < TILE_N * TILE_K; i += 256u) {
      let n = i / TILE_K;
      let c = i % TILE_K;
      let gn = col0 + n;
      let gk = k0 + c;
      var w = 0.0;
      if (gn < P.N && gk < P.K) {
        w = weight(source_row(gn), gk);
      }
      w_tile[(c * TILE_N + n) / 4u][n % 4u] = w;
    }
    workgroupBarrier();
    for (var c = 0u; c < TILE_K; c++) {
      let wv = w_tile[(c * TILE_N) / 4u + lid.x];
      for (var r = 0u; r < ROWS_PER_THREAD; r++) {
        acc[r] += a_tile[c * MAX_TILE_M + lid.y * ROWS_PER_THREAD + r] * wv;
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < ROWS_PER_THREAD; r++) {
    let gr = row0 + lid.y * ROWS_PER_THREAD + r;
    if (gr >= P.M) {
      break;
    }
    if (EPILOGUE == 2u) {
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
        if (EPILOGUE == 1u) {
          v = gelu(v);
        }
        if (EPILOGUE == 3u) {
          v += Y[gr * P.N + gc];
        }
        Y[gr * P.N + gc] = v;
      }
    }
  }
}
