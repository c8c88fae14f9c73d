// X[t] = word_rows[t] + position_table[Positions[t]] + token_type_table[0].
// The word rows were gathered on the CPU (the vocabulary table can exceed a storage binding), so
// only the batch's rows are here; layernorm.wgsl then normalises X in place. X holds YElem (see
// matmul.wgsl), the sum is f32.

struct EmbedParams {
  M: u32,
  H: u32,
}

@group(0) @binding(0) var<uniform> P: EmbedParams;
@group(0) @binding(1) var<storage, read> WordRows: array<f32>;
@group(0) @binding(2) var<storage, read> Positions: array<u32>;
@group(0) @binding(3) var<storage, read> PositionTable: array<f32>;
@group(0) @binding(4) var<storage, read> TokenType: array<f32>;
@group(0) @binding(5) var<storage, read_write> X: array<YElem>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 65535u * 64u + gid.x;
  if (i >= P.M * P.H) {
    return;
  }
  let t = i / P.H;
  let c = i % P.H;
  X[i] = YElem(WordRows[i] + PositionTable[Positions[t] * P.H + c] + TokenType[c]);
}
