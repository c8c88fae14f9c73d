// A mixture of experts' routing (nomic-embed-text-v2-moe's NomicMoELayer), between its two stacked
// projections: Hidden [M, E * I] holds gelu(x W1_e^T) of every expert e side by side, and each token
// row is scaled in place by its experts' weights: the softmax of its router Logits [M, E] (f32)
// for its TOP_K most probable experts, not renormalised, and 0 for the others. The second
// projection, [H, E * I] with the experts' shared bias, then sums what the chosen experts give.
// One workgroup per token row: invocation e < E weighs expert e (its rank among the row's
// probabilities, ties to the lower expert), then all of them scale the row. Logits hold XElem =
// f32 (routing decided in f32, as the reference does), Hidden YElem.

struct MoeParams {
  E: u32,
  I: u32,
  topK: u32,
}

const MAX_EXPERTS: u32 = 64u;

@group(0) @binding(0) var<uniform> P: MoeParams;
@group(0) @binding(1) var<storage, read> Logits: array<XElem>;
@group(0) @binding(2) var<storage, read_write> Hidden: array<YElem>;

var<workgroup> weight: array<f32, MAX_EXPERTS>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let m = wid.x;
  if (li < P.E) {
    let row = m * P.E;
    var top = f32(Logits[row]);
    for (var e = 1u; e < P.E; e++) {
      top = max(top, f32(Logits[row + e]));
    }
    let mine = f32(Logits[row + li]);
    var sum = 0.0;
    var rank = 0u;
    for (var e = 0u; e < P.E; e++) {
      let v = f32(Logits[row + e]);
      sum += exp(v - top);
      // A higher logit is a higher probability: ranking on logits needs no exp.
      rank += select(0u, 1u, v > mine || (v == mine && e < li));
    }
    weight[li] = select(0.0, exp(mine - top) / sum, rank < P.topK);
  }
  workgroupBarrier();
  let width = P.E * P.I;
  let base = m * width;
  for (var c = li; c < width; c += 64u) {
    Hidden[base + c] = YElem(f32(Hidden[base + c]) * weight[c / P.I]);
  }
}
