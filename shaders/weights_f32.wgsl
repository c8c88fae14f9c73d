// Weight decoder for matmul.wgsl: plain f32, row-major [N, K]. Declared as vec4s so `weight4` is
// one load: CPU adapters issue a lane's loads one by one (uploadBuffer pads to whole vec4s).
@group(0) @binding(4) var<storage, read> W: array<vec4<f32>>;

fn weight(n: u32, k: u32) -> f32 {
  let i = n * P.K + k;
  return W[i >> 2u][i & 3u];
}

fn weight4(n: u32, k: u32) -> vec4<f32> {
  return W[(n * P.K + k) >> 2u];
}

fn row_scale(n: u32) -> f32 {
  return 1.0;
}
