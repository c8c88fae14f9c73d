// Weight decoder for matmul.wgsl: IEEE half, two per u32 word. Unpacking with unpack2x16float
// needs no `shader-f16` feature, so half-size weights work on every adapter (SwiftShader too).
@group(0) @binding(4) var<storage, read> W: array<u32>;

fn weight(n: u32, k: u32) -> f32 {
  let i = n * P.K + k;
  let pair = unpack2x16float(W[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}

// k and K multiples of 4: two whole words.
fn weight4(n: u32, k: u32) -> vec4<f32> {
  let i = (n * P.K + k) >> 1u;
  return vec4<f32>(unpack2x16float(W[i]), unpack2x16float(W[i + 1u]));
}

fn row_scale(n: u32) -> f32 {
  return 1.0;
}
