// Scores the rows of one vector buffer against one query on the first `width` dims. Rows live in
// pages of 256, block-major inside a page ([block][row] of 16-byte blocks): the workgroup that
// owns a page, one invocation per row, reads each block of its rows as one contiguous run, and a
// narrow (Matryoshka prefix) width reads only the page's first blocks. Every row of a page is
// written, so rows outside the mask get MASKED and the top-k never sees stale scores.

struct ScoreParams {
  rows: u32,
  row0: u32,
  blocks: u32,
  width: u32,
  width_blocks: u32,
  normalize: u32,
  masked: u32,
}

@group(0) @binding(0) var<uniform> P: ScoreParams;
@group(0) @binding(1) var<storage, read> Query: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> Rows: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> Scales: array<f32>;
@group(0) @binding(4) var<storage, read> Mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> Scores: array<f32>;

const PAGE_ROWS: u32 = 256u;
// Below any real score and finite: WGSL implementations may assume there are no infinities.
const MASKED: f32 = -3e38;
const LANES = vec4<u32>(0u, 1u, 2u, 3u);

struct Slot {
  row: u32,
  base: u32,
  live: bool,
}

fn slot(li: u32, page: u32) -> Slot {
  let row = P.row0 + page * PAGE_ROWS + li;
  let live = page * PAGE_ROWS + li < P.rows && (P.masked == 0u || ((Mask[row >> 5u] >> (row & 31u)) & 1u) == 1u);
  return Slot(row, page * PAGE_ROWS * P.blocks + li, live);
}

// Dims of block b (of `per_block`) inside the scored width; past it the lanes are zeroed. Only
// the last block can be partial, so the loops below run the others without the select.
fn valid(b: u32, per_block: u32) -> u32 {
  return min(P.width - b * per_block, per_block);
}

fn cosine(acc: f32, sq: f32, scale: f32) -> f32 {
  if (P.normalize == 1u) {
    return acc / max(sqrt(sq), 1e-30);
  }
  return acc * scale;
}

// A block's dot product with the query, plus its squared norm when the score is normalised: the
// norm is a branch on a uniform rather than a select, so unnormalised scoring (the funnel's
// coarse pass, full-width search) does not pay for it.
fn f32_block(s: Slot, b: u32, n: u32) -> vec2<f32> {
  let v = select(vec4<f32>(0.0), bitcast<vec4<f32>>(Rows[s.base + b * PAGE_ROWS]), LANES < vec4<u32>(n));
  var sq = 0.0;
  if (P.normalize == 1u) {
    sq = dot(v, v);
  }
  return vec2<f32>(dot(bitcast<vec4<f32>>(Query[b]), v), sq);
}

@compute @workgroup_size(256)
fn score_f32(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = slot(li, wid.x);
  if (!s.live) {
    Scores[s.row] = MASKED;
    return;
  }
  var sum = vec2<f32>(0.0);
  let full = P.width / 4u;
  for (var b = 0u; b < full; b++) {
    sum += f32_block(s, b, 4u);
  }
  if (full < P.width_blocks) {
    sum += f32_block(s, full, valid(full, 4u));
  }
  Scores[s.row] = cosine(sum.x, sum.y, 1.0);
}

// The four signed bytes of a word as exact integers, lowest first: two shifts a lane, cheaper
// than unpack4x8snorm's clamp and scaling on software adapters, which run the coarse pass.
fn int8_lanes(word: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(bitcast<i32>(word)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

fn int8_block(s: Slot, b: u32, n: u32) -> vec2<f32> {
  let words = Rows[s.base + b * PAGE_ROWS];
  var sum = vec2<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let v = select(vec4<f32>(0.0), int8_lanes(words[j]), LANES + 4u * j < vec4<u32>(n));
    sum.x += dot(bitcast<vec4<f32>>(Query[b * 4u + j]), v);
    if (P.normalize == 1u) {
      sum.y += dot(v, v);
    }
  }
  return sum;
}

@compute @workgroup_size(256)
fn score_int8(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = slot(li, wid.x);
  if (!s.live) {
    Scores[s.row] = MASKED;
    return;
  }
  var sum = vec2<f32>(0.0);
  let full = P.width / 16u;
  for (var b = 0u; b < full; b++) {
    sum += int8_block(s, b, 16u);
  }
  if (full < P.width_blocks) {
    sum += int8_block(s, full, valid(full, 16u));
  }
  Scores[s.row] = cosine(sum.x, sum.y, Scales[s.row]);
}

@compute @workgroup_size(256)
fn score_binary(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = slot(li, wid.x);
  if (!s.live) {
    Scores[s.row] = MASKED;
    return;
  }
  var h = 0u;
  for (var b = 0u; b < P.width_blocks; b++) {
    // Bits of each word inside the width; a shift by 32 is undefined, hence the select.
    let bits = vec4<u32>(clamp(vec4<i32>(i32(valid(b, 128u))) - vec4<i32>(LANES * 32u), vec4<i32>(0), vec4<i32>(32)));
    let keep = select((vec4<u32>(1u) << bits) - 1u, vec4<u32>(0xffffffffu), bits == vec4<u32>(32u));
    let diff = countOneBits((Query[b] ^ Rows[s.base + b * PAGE_ROWS]) & keep);
    h += diff.x + diff.y + diff.z + diff.w;
  }
  Scores[s.row] = f32(i32(P.width) - 2 * i32(h)) / f32(P.width);
}
