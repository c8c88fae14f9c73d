// Weight decoder for matmul.wgsl: 4-bit, eight per u32 word (low nibble first), value =
// (nibble - 8) * scale, one f32 scale per 32 weights of a row; rows are padded to 32 weights.
@group(0) @binding(4) var<storage, read> W: array<u32>;
@group(0) @binding(5) var<storage, read> Scales: array<f32>;

fn weight(n: u32, k: u32) -> f32 {
  let groups = (P.K + 31u) / 32u;
  let i = n * groups * 32u + k;
  let q = i32(extractBits(W[i >> 3u], (i & 7u) * 4u, 4u)) - 8;
  return f32(q) * Scales[n * groups + k / 32u];
}

// k a multiple of 4: four nibbles of one word, all in the same group of 32.
fn weight4(n: u32, k: u32) -> vec4<f32> {
  let groups = (P.K + 31u) / 32u;
  let i = n * groups * 32u + k;
  let w = W[i >> 3u] >> ((i & 4u) * 4u);
  let q = vec4<i32>(vec4<u32>(w & 15u, (w >> 4u) & 15u, (w >> 8u) & 15u, (w >> 12u) & 15u)) - vec4<i32>(8);
  return vec4<f32>(q) * Scales[n * groups + k / 32u];
}

// Its scales change every 32 weights along K, so they stay inside the loop.
fn row_scale(n: u32) -> f32 {
  return 1.0;
}
