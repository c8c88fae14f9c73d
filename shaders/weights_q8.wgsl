// Weight decoder for matmul.wgsl: int8, four per u32 word, one f32 scale per output row.
@group(0) @binding(4) var<storage, read> W: array<u32>;
@group(0) @binding(5) var<storage, read> Scales: array<f32>;

fn weight(n: u32, k: u32) -> f32 {
  let i = n * P.K + k;
  // extractBits on i32 sign-extends the byte.
  let q = extractBits(bitcast<i32>(W[i >> 2u]), (i & 3u) * 8u, 8u);
  return f32(q) * Scales[n];
}
