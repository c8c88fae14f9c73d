// A mixture of experts' feed-forward (nomic-embed-text-v2-moe's NomicMoELayer) with each expert
// run over its own tokens only. Around the experts' matmuls (matmul.wgsl, dispatched indirectly):
//   route:   one workgroup: each token's TOP_K experts from its router logits (f32; ranked by
//            logit, ties to the lower expert, as model/moe.ts routeTokens), kept at their softmax
//            probability, not renormalised. Expert e's tokens fill its block of CAP rows in the
//            order the workgroup's atomics hand out (each row's result depends on its token
//            alone, so the order changes nothing); then the two indirect dispatches per expert:
//            the first projection's and the second's, over ceil(count / rows) tile rows.
//   gather:  Gathered[e CAP + j] = X[token of (e, j)], [E CAP, H].
//   combine: Out[t] = Bias + sum over t's experts of weight * Gathered[its row]: the second
//            projections wrote their rows back into Gathered.
// Route holds, as u32: the counts [E], the token of each expert row [E CAP], then the row of each
// (token, rank) [M TOP_K]. Weights holds each expert row's weight [E CAP]. X, Gathered and Out hold
// the activations' element type (XElem = YElem here).

struct MoeParams {
  M: u32,
  H: u32,
  E: u32,
  topK: u32,
  cap: u32,
  // Workgroups across the output columns, and rows per workgroup, of each projection's tiling.
  upTiles: u32,
  upRows: u32,
  downTiles: u32,
  downRows: u32,
}

const MAX_EXPERTS: u32 = 64u;
const ROUTE_THREADS: u32 = 256u;

@group(0) @binding(0) var<uniform> P: MoeParams;
@group(0) @binding(1) var<storage, read> Logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> Route: array<u32>;
@group(0) @binding(3) var<storage, read_write> Weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> Args: array<u32>;
@group(0) @binding(5) var<storage, read> X: array<XElem>;
@group(0) @binding(6) var<storage, read_write> Gathered: array<YElem>;
@group(0) @binding(7) var<storage, read_write> Out: array<YElem>;
@group(0) @binding(8) var<storage, read> Bias: array<f32>;

var<workgroup> counts: array<atomic<u32>, MAX_EXPERTS>;

@compute @workgroup_size(ROUTE_THREADS)
fn route(@builtin(local_invocation_index) li: u32) {
  if (li < P.E) {
    atomicStore(&counts[li], 0u);
  }
  workgroupBarrier();
  let rowOf = P.E + P.E * P.cap;
  for (var t = li; t < P.M; t += ROUTE_THREADS) {
    let row = t * P.E;
    var top = Logits[row];
    for (var e = 1u; e < P.E; e++) {
      top = max(top, Logits[row + e]);
    }
    var sum = 0.0;
    for (var e = 0u; e < P.E; e++) {
      sum += exp(Logits[row + e] - top);
    }
    for (var e = 0u; e < P.E; e++) {
      let mine = Logits[row + e];
      var rank = 0u;
      for (var o = 0u; o < P.E; o++) {
        let v = Logits[row + o];
        rank += select(0u, 1u, v > mine || (v == mine && o < e));
      }
      if (rank < P.topK) {
        let slot = e * P.cap + atomicAdd(&counts[e], 1u);
        Route[P.E + slot] = t;
        Weights[slot] = exp(mine - top) / sum;
        Route[rowOf + t * P.topK + rank] = slot;
      }
    }
  }
  workgroupBarrier();
  if (li < P.E) {
    let n = atomicLoad(&counts[li]);
    Route[li] = n;
    let a = li * 6u;
    Args[a] = P.upTiles;
    Args[a + 1u] = (n + P.upRows - 1u) / P.upRows;
    Args[a + 2u] = 1u;
    Args[a + 3u] = P.downTiles;
    Args[a + 4u] = (n + P.downRows - 1u) / P.downRows;
    Args[a + 5u] = 1u;
  }
}

// One workgroup per expert row (x: expert, y: row in its block).
@compute @workgroup_size(64)
fn gather(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  if (wid.y >= Route[wid.x]) {
    return;
  }
  let slot = wid.x * P.cap + wid.y;
  let src = Route[P.E + slot] * P.H;
  for (var c = li; c < P.H; c += 64u) {
    Gathered[slot * P.H + c] = YElem(f32(X[src + c]));
  }
}

// One workgroup per token.
@compute @workgroup_size(64)
fn combine(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = wid.x;
  let rows = P.E + P.E * P.cap + t * P.topK;
  for (var c = li; c < P.H; c += 64u) {
    var v = Bias[c];
    for (var k = 0u; k < P.topK; k++) {
      let slot = Route[rows + k];
      v += Weights[slot] * f32(Gathered[slot * P.H + c]);
    }
    Out[t * P.H + c] = YElem(v);
  }
}
