// Multi-head scaled dot-product attention over right-padded rows, one invocation per query.
// QKV is the fused projection output [rows * S, 3H] (query | key | value per token). Keys are
// taken a tile at a time with an online (running-max) softmax, so the S x S score matrix never
// exists and long rows cost no extra memory. Keys at or past the row's length are masked out.
//
// Every invocation of a workgroup reads the same key and value at the same time, straight from
// QKV, four components at a time through `head4`, which attention_rows.wgsl (GPUs: such reads
// are one broadcast from cache) or attention_rows_subgroup.wgsl (CPU adapters) supplies along
// with the entry point. Staging keys through workgroup memory was slower on lavapipe (12 x 384,
// 8 x 128 tokens: 586 vs 399 ms; not measured on a hardware GPU) and cost the pipeline WebGPU's
// zero-initialisation of that memory, which SwiftShader compiles in time proportional to its
// size (16 KiB: 1.6 s). Control flow stays uniform across the workgroup (keys outside a query's
// window are scored and then masked), as subgroup operations require.
//
// ModernBERT adds two things. ROPE rotates each query and key by its position in the row as it
// is loaded (rotate_half form, cos/sin from a precomputed table), so the rotated QKV is never
// stored. A window (ModernBERT's local layers) limits query i to keys j with |i - j| <= window:
// the workgroup only visits the keys its 64 queries can see, so a local layer costs
// O(S * window) instead of O(S^2).
//
// Decoder embedders (Qwen3, Gemma 3) add grouped-query attention: QKV rows are [queries (H) |
// keys (KV_WIDTH) | values (KV_WIDTH)] and `group` query heads share one key/value head; Qwen3's
// causal mask (query i sees keys j <= i, so a workgroup stops at its last query); and a scale
// other than head_dim^-0.5 (Gemma's query_pre_attn_scalar). BERT and ModernBERT run with
// kv_width = H, group = 1, causal = 0.
//
// JinaBERT v2 adds ALiBi: head h's scores get -slope_h |i - j| (see alibi_slope). MPNet and T5
// add a learned bias per head and distance j - i, read from a table (see relative_bias). DeBERTa
// adds disentangled terms: query i against the key projection, and key j against the query
// projection, of relative-position row delta(i - j) (see disentangled_row).
//
// QKV and Out hold XElem and YElem (see matmul.wgsl); scores, the softmax and the accumulator
// are f32.

struct AttentionParams {
  S: u32,
  H: u32,
  head_dim: u32,
  scale: f32,
  // GLOBAL for full attention.
  window: u32,
  // Width of the keys (and of the values) in a QKV row: kv heads x head_dim.
  kv_width: u32,
  // Query heads per key/value head.
  group: u32,
  // 1: query i sees keys j <= i only.
  causal: u32,
  // ALiBi: the largest power of two at most the head count; 0 for none.
  alibi: u32,
  // MPNet's relative bias: distances beyond +-rel_reach share the bias at rel_reach; 0 for none.
  rel_reach: u32,
  // DeBERTa: bit 1 content -> position (c2p), bit 2 position -> content (p2c); 0 for none.
  dis: u32,
  // The relative row Positions' first projected row holds (the rows a batch reaches start there).
  dis_first: u32,
  // Where Positions holds delta(d) for d = i - j in -dis_reach ..= dis_reach, as f32.
  dis_index: u32,
  dis_reach: u32,
}

@group(0) @binding(0) var<uniform> P: AttentionParams;
@group(0) @binding(1) var<storage, read> QKV: array<XElem>;
@group(0) @binding(2) var<storage, read> Lengths: array<u32>;
// With ROPE: [position][pair] -> (cos, sin), see src/model/rope.ts. With rel_reach: [head][distance
// + rel_reach] -> bias, see src/model/relative-bias.ts. With dis: the layer's q | k | v projections
// of relative rows dis_first.. (QKV's row layout), and at dis_index the row of each distance, see
// src/model/disentangled.ts. Unread otherwise.
@group(0) @binding(3) var<storage, read> Positions: array<f32>;
@group(0) @binding(4) var<storage, read_write> Out: array<YElem>;

const QUERIES: u32 = 64u;
const MAX_HEAD_VEC4S: u32 = 32u;
const GLOBAL: u32 = 0xffffffffu;
// Keys scored before the accumulator is rescaled to their maximum.
const KEY_TILE: u32 = 64u;
// The head size as a pipeline constant: loops over a head then have a fixed trip count, so the
// compiler unrolls them and keeps q and acc in registers instead of indexed private memory
// (attention 2.3x faster on lavapipe at 32 dims). Must equal P.head_dim.
override HEAD_DIM: u32 = 64u;
override ROPE: bool = false;

// Component c of the query, key or value vector starting at `base`; queries and keys (`rotate`)
// turned for position `pos`. Zero past the head.
fn head_value(base: u32, pos: u32, c: u32, rotate: bool) -> f32 {
  if (c >= HEAD_DIM) {
    return 0.0;
  }
  let x = f32(QKV[base + c]);
  if (!ROPE || !rotate) {
    return x;
  }
  let half = HEAD_DIM / 2u;
  let low = c < half;
  let pair = select(c - half, c, low);
  let t = (pos * half + pair) * 2u;
  // rotate_half(x)[c] is -x[c + half] in the first half and x[c - half] in the second.
  let partner = f32(QKV[base + select(c - half, c + half, low)]);
  return x * Positions[t] + select(partner, -partner, low) * Positions[t + 1u];
}

// The ALiBi paper's slopes, as src/model/alibi.ts computes them for the CPU: with m = P.alibi,
// 2^(-8 (h + 1) / m) for the first m heads, 2^(-4 (2 (h - m) + 1) / m) for the rest.
fn alibi_slope(head: u32) -> f32 {
  if (P.alibi == 0u) {
    return 0.0;
  }
  let m = f32(P.alibi);
  if (head < P.alibi) {
    return exp2(-8.0 * f32(head + 1u) / m);
  }
  return exp2(-4.0 * f32(2u * (head - P.alibi) + 1u) / m);
}

// MPNet's bias for query q and key k of `head`; 0 without one.
fn relative_bias(head: u32, q: u32, k: u32) -> f32 {
  if (P.rel_reach == 0u) {
    return 0.0;
  }
  let reach = i32(P.rel_reach);
  let d = clamp(i32(k) - i32(q), -reach, reach);
  return Positions[head * (2u * P.rel_reach + 1u) + u32(d + reach)];
}

// DeBERTa: where the projections of the relative row that query q and key k read start in Positions.
fn disentangled_row(q: u32, k: u32, stride: u32) -> u32 {
  let delta = u32(Positions[P.dis_index + u32(i32(q) - i32(k) + i32(P.dis_reach))]);
  return (delta - P.dis_first) * stride;
}

// Four components of a relative row's projection from `base`, zero past the head.
fn rel4(base: u32, c0: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (c0 + i < HEAD_DIM) {
      v[i] = Positions[base + c0 + i];
    }
  }
  return v;
}

fn visible(q: u32, k: u32) -> bool {
  return (P.window == GLOBAL || max(q, k) - min(q, k) <= P.window) && (P.causal == 0u || k <= q);
}

override HEAD_VEC4S: u32 = (HEAD_DIM + 3u) / 4u;

// Called from uniform control flow; `lane` is for `head4` only.
fn attend(li: u32, wid: vec3<u32>, lane: u32) {
  let row = wid.z;
  let head = wid.y;
  let q0 = wid.x * QUERIES;
  let qi = q0 + li;
  let len = Lengths[row];
  let stride = P.H + 2u * P.kv_width;
  let kv_head = (head / P.group) * HEAD_DIM;
  let q_active = qi < P.S;
  let q_pos = min(qi, P.S - 1u);
  let q_base = (row * P.S + q_pos) * stride + head * HEAD_DIM;

  var q: array<vec4<f32>, MAX_HEAD_VEC4S>;
  var acc: array<vec4<f32>, MAX_HEAD_VEC4S>;
  for (var c = 0u; c < HEAD_VEC4S; c++) {
    for (var i = 0u; i < 4u; i++) {
      q[c][i] = head_value(q_base, q_pos, c * 4u + i, true) * P.scale;
    }
    acc[c] = vec4<f32>(0.0);
  }
  let slope = alibi_slope(head);
  var running_max = -3.4e38;
  var running_sum = 0.0;
  var scores: array<f32, KEY_TILE>;

  // Keys any of this workgroup's queries can see.
  var first = 0u;
  var end = len;
  if (P.window != GLOBAL) {
    first = select(0u, q0 - P.window, q0 > P.window);
    end = min(len, q0 + QUERIES + P.window);
  }
  if (P.causal == 1u) {
    end = min(end, q0 + QUERIES);
  }
  for (var j0 = first; j0 < end; j0 += KEY_TILE) {
    let tile_len = min(KEY_TILE, end - j0);

    // Keys outside this query's window keep the floor score and get no weight below.
    var tile_max = running_max;
    for (var j = 0u; j < tile_len; j++) {
      let k_base = (row * P.S + j0 + j) * stride + P.H + kv_head;
      var s = 0.0;
      var rel = 0u;
      if (P.dis != 0u) {
        rel = disentangled_row(q_pos, j0 + j, stride);
      }
      for (var c = 0u; c < HEAD_VEC4S; c++) {
        let k4 = head4(k_base, j0 + j, c * 4u, lane, true);
        s += dot(q[c], k4);
        // q is scaled already; the key's term takes the scale here.
        if ((P.dis & 1u) != 0u) {
          s += dot(q[c], rel4(rel + P.H + kv_head, c * 4u));
        }
        if ((P.dis & 2u) != 0u) {
          s += P.scale * dot(k4, rel4(rel + head * HEAD_DIM, c * 4u));
        }
      }
      s -= slope * f32(max(q_pos, j0 + j) - min(q_pos, j0 + j));
      s += relative_bias(head, q_pos, j0 + j);
      s = select(-3.4e38, s, visible(q_pos, j0 + j));
      scores[j] = s;
      tile_max = max(tile_max, s);
    }
    // Rescale what was accumulated under the old maximum once per tile, not once per key.
    let correction = exp(running_max - tile_max);
    running_sum *= correction;
    for (var c = 0u; c < HEAD_VEC4S; c++) {
      acc[c] *= correction;
    }
    for (var j = 0u; j < tile_len; j++) {
      let p = select(0.0, exp(scores[j] - tile_max), visible(q_pos, j0 + j));
      running_sum += p;
      let v_base = (row * P.S + j0 + j) * stride + P.H + P.kv_width + kv_head;
      for (var c = 0u; c < HEAD_VEC4S; c++) {
        acc[c] += p * head4(v_base, 0u, c * 4u, lane, false);
      }
    }
    running_max = tile_max;
  }

  if (q_active) {
    let o_base = (row * P.S + qi) * P.H + head * HEAD_DIM;
    // A padded query past a local window's reach sees no key at all: it gets zeros, not NaN.
    let inv = select(0.0, 1.0 / running_sum, running_sum > 0.0);
    for (var c = 0u; c < HEAD_DIM; c++) {
      Out[o_base + c] = YElem(acc[c / 4u][c % 4u] * inv);
    }
  }
}
