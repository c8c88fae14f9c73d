// Weight decoder for matmul.wgsl: int8, four per u32 word, one f32 scale per output row. The
// scale multiplies the finished sum (`row_scale`), not every weight: a load fewer per step of the
// inner loop (lavapipe, 1024 x 384 . 384 x 1536: 30 -> 34 GFLOP/s).
@group(0) @binding(4) var<storage, read> W: array<u32>;
@group(0) @binding(5) var<storage, read> Scales: array<f32>;

fn weight(n: u32, k: u32) -> f32 {
  let i = n * P.K + k;
  // extractBits on i32 sign-extends the byte.
  let q = extractBits(bitcast<i32>(W[i >> 2u]), (i & 3u) * 8u, 8u);
  return f32(q);
}

// k and K multiples of 4: the four bytes of one word.
fn weight4(n: u32, k: u32) -> vec4<f32> {
  let w = bitcast<i32>(W[(n * P.K + k) >> 2u]);
  let q = vec4<i32>(extractBits(w, 0u, 8u), extractBits(w, 8u, 8u), extractBits(w, 16u, 8u), extractBits(w, 24u, 8u));
  return vec4<f32>(q);
}

fn row_scale(n: u32) -> f32 {
  return Scales[n];
}
