// Top-k of a score buffer indexed by row, by threshold selection rather than a full sort:
//   histogram: counts live scores by the high 16 bits of an order-preserving key;
//   threshold: one workgroup finds the highest bin at which the count from the top reaches k;
//   compact:   appends every score in or above that bin (at most CAP) to a candidate list;
//   sort:      one workgroup sorts the candidates best first (bitonic network; equal scores put
//              the lower row first, so ties come out in a deterministic order) and writes k.
// Every entry that ties with the k-th score lands in the candidates, so the result is the exact
// top-k. Output: [survivors, k score bits, k rows]; survivors > CAP means the list overflowed
// (many scores in the boundary bin) and the caller selects from the score buffer instead.

struct TopkParams {
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> P: TopkParams;
@group(0) @binding(1) var<storage, read> Scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> Histogram: array<atomic<u32>>;
// [0]: threshold bin, [1]: survivors appended so far.
@group(0) @binding(3) var<storage, read_write> State: array<atomic<u32>, 2>;
@group(0) @binding(4) var<storage, read_write> CandidateScores: array<f32>;
@group(0) @binding(5) var<storage, read_write> CandidateRows: array<u32>;
@group(0) @binding(6) var<storage, read_write> Out: array<u32>;

const BINS: u32 = 65536u;
const THREADS: u32 = 256u;
const CAP: u32 = 2048u;
const MASKED: f32 = -3e38;

// Larger scores give larger keys (negative floats flip all bits, positive ones the sign bit);
// -0 counts as +0, as the comparisons in the sort do.
fn bin_of(s: f32) -> u32 {
  let b = select(bitcast<u32>(s), 0u, bitcast<u32>(s) == 0x80000000u);
  return select(b | 0x80000000u, ~b, (b >> 31u) == 1u) >> 16u;
}

fn live(s: f32) -> bool {
  return s > MASKED * 0.5;
}

// Grid-stride index: dispatches stay under the 65535-workgroup limit at any n.
fn stride(nwg: vec3<u32>) -> u32 {
  return nwg.x * THREADS;
}

@compute @workgroup_size(256)
fn histogram(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = gid.x; i < P.n; i += stride(nwg)) {
    let s = Scores[i];
    if (live(s)) {
      atomicAdd(&Histogram[bin_of(s)], 1u);
    }
  }
}

var<workgroup> above: array<u32, THREADS>;

@compute @workgroup_size(256)
fn threshold(@builtin(local_invocation_index) li: u32) {
  let per = BINS / THREADS;
  var part = 0u;
  for (var i = 0u; i < per; i++) {
    part += atomicLoad(&Histogram[li * per + i]);
  }
  above[li] = part;
  workgroupBarrier();
  // Inclusive suffix sums: above[t] counts the scores in the bins of threads t and up.
  for (var d = 1u; d < THREADS; d <<= 1u) {
    var v = 0u;
    if (li + d < THREADS) {
      v = above[li + d];
    }
    workgroupBarrier();
    above[li] += v;
    workgroupBarrier();
  }
  let incl = above[li];
  let excl = incl - part;
  if (li == 0u) {
    atomicStore(&State[1], 0u);
    if (incl < P.k) {
      // Fewer live scores than k: all of them.
      atomicStore(&State[0], 0u);
    }
  }
  if (excl < P.k && incl >= P.k) {
    var cum = excl;
    var bin = (li + 1u) * per;
    loop {
      bin -= 1u;
      cum += atomicLoad(&Histogram[bin]);
      if (cum >= P.k) {
        break;
      }
    }
    atomicStore(&State[0], bin);
  }
}

@compute @workgroup_size(256)
fn compact(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let cut = atomicLoad(&State[0]);
  for (var i = gid.x; i < P.n; i += stride(nwg)) {
    let s = Scores[i];
    if (live(s) && bin_of(s) >= cut) {
      let slot = atomicAdd(&State[1], 1u);
      if (slot < CAP) {
        CandidateScores[slot] = s;
        CandidateRows[slot] = i;
      }
    }
  }
}

var<workgroup> keys: array<f32, CAP>;
var<workgroup> ids: array<u32, CAP>;

fn before(ka: f32, ia: u32, kb: f32, ib: u32) -> bool {
  return ka > kb || (ka == kb && ia < ib);
}

@compute @workgroup_size(256)
fn sort(@builtin(local_invocation_index) li: u32) {
  // The survivor count passes through ids[0]: the two arrays already fill the 16 KiB of
  // workgroup memory WebGPU guarantees. The loop bounds below must be uniform, hence the
  // uniform load; the barrier keeps ids[0] from being overwritten before everyone has read it.
  if (li == 0u) {
    ids[0] = atomicLoad(&State[1]);
  }
  let total = workgroupUniformLoad(&ids[0]);
  workgroupBarrier();
  let m = min(total, CAP);
  var size = 2u;
  while (size < m) {
    size <<= 1u;
  }
  for (var t = li; t < size; t += THREADS) {
    if (t < m) {
      keys[t] = CandidateScores[t];
      ids[t] = CandidateRows[t];
    } else {
      keys[t] = MASKED;
      ids[t] = 0xffffffffu;
    }
  }
  workgroupBarrier();
  for (var run = 2u; run <= size; run <<= 1u) {
    for (var half = run >> 1u; half > 0u; half >>= 1u) {
      for (var t = li; t < size / 2u; t += THREADS) {
        let a = 2u * t - (t & (half - 1u));
        let b = a + half;
        // Runs alternate direction so that each pair of runs forms a bitonic sequence.
        let best_first = (a & run) == 0u;
        let ka = keys[a];
        let kb = keys[b];
        let ia = ids[a];
        let ib = ids[b];
        if (before(kb, ib, ka, ia) == best_first) {
          keys[a] = kb;
          keys[b] = ka;
          ids[a] = ib;
          ids[b] = ia;
        }
      }
      workgroupBarrier();
    }
  }
  if (li == 0u) {
    Out[0] = total;
  }
  for (var t = li; t < P.k; t += THREADS) {
    let inside = t < size;
    Out[1u + t] = bitcast<u32>(select(MASKED, keys[min(t, CAP - 1u)], inside));
    Out[1u + P.k + t] = select(0xffffffffu, ids[min(t, CAP - 1u)], inside);
  }
}
