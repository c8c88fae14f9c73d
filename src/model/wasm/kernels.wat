;; The CPU fallback's kernels in f32 with 128-bit SIMD (the WGSL kernels' counterparts):
;;   matmul:    y[m, n] = x[m, :] . W[n, :] + b[n]. Rows of x and W are contiguous along K, so every
;;              load is a run of 4 floats of both operands. A 4 x 2 block of outputs lives in 8
;;              vector accumulators (plus 6 loaded vectors: 14 of the 16 vector registers of
;;              x86-64, fewer than arm64's 32), so each loaded vector is used 2 to 4 times.
;;              Leftover rows, columns and K % 4 dims go through $dot.
;;   gelu:      in place, the epilogue of BERT's first feed-forward projection.
;;   attention: multi-head (or grouped-query) softmax attention over one text of a batch, 4 keys
;;              at a time.
;;   quantize, qmatmul: q8 weights kept as int8, activations quantised per row to i16, sums in i32;
;;              qmatmul computes a range of output columns, so threads can share one call.
;; All pointers are byte offsets into the imported memory; the launcher (kernels.ts) lays it out.
(module
  ;; Imported so that threads can share it: assemble.ts also makes the module with this memory
  ;; `shared`, for the thread pool (threads.ts); 65536 pages = the 4 GiB a 32-bit memory can address.
  (import "env" "memory" (memory 1 65536))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; x[xp ..] . w[wp ..] over n floats.
  (func $dot (param $xp i32) (param $wp i32) (param $n i32) (result f32)
    (local $end i32) (local $end4 i32) (local $acc v128) (local $s f32)
    (local.set $end (i32.add (local.get $xp) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $xp) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $xp) (local.get $end4)))
        (local.set $acc (f32x4.add (local.get $acc)
          (f32x4.mul (v128.load align=4 (local.get $xp)) (v128.load align=4 (local.get $wp)))))
        (local.set $xp (i32.add (local.get $xp) (i32.const 16)))
        (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
        (br $vec)))
    (local.set $s (call $hsum (local.get $acc)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $xp) (local.get $end)))
        (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $xp)) (f32.load (local.get $wp)))))
        (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
        (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
        (br $tail)))
    (local.get $s))

  ;; y[dst] = lanes of acc + the K % 4 dims past k4 bytes + bias.
  (func $emit (param $dst i32) (param $acc v128) (param $xp i32) (param $wp i32) (param $k4 i32) (param $rem i32) (param $bias f32)
    (f32.store (local.get $dst)
      (f32.add
        (f32.add (call $hsum (local.get $acc))
          (call $dot (i32.add (local.get $xp) (local.get $k4)) (i32.add (local.get $wp) (local.get $k4)) (local.get $rem)))
        (local.get $bias))))

  ;; y[m, n0 .. N) for one row of x, column by column.
  (func $row (param $x i32) (param $w i32) (param $b i32) (param $y i32) (param $n0 i32) (param $N i32) (param $K i32)
    (local $n i32) (local $ks i32)
    (local.set $ks (i32.shl (local.get $K) (i32.const 2)))
    (local.set $n (local.get $n0))
    (block $done
      (loop $cols
        (br_if $done (i32.ge_u (local.get $n) (local.get $N)))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2)))
          (f32.add
            (call $dot (local.get $x) (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $ks))) (local.get $K))
            (f32.load (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $cols))))

  (func (export "matmul") (param $x i32) (param $w i32) (param $b i32) (param $y i32) (param $M i32) (param $N i32) (param $K i32)
    (local $m i32) (local $n i32) (local $p i32)
    (local $ks i32) (local $k4 i32) (local $rem i32) (local $ys i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $w0 i32) (local $w1 i32)
    (local $y0 i32) (local $b0 f32) (local $b1 f32)
    (local $wa v128) (local $wb v128) (local $xv v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128)
    (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local.set $ks (i32.shl (local.get $K) (i32.const 2)))
    (local.set $k4 (i32.shl (i32.and (local.get $K) (i32.const -4)) (i32.const 2)))
    (local.set $rem (i32.and (local.get $K) (i32.const 3)))
    (local.set $ys (i32.shl (local.get $N) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.gt_u (i32.add (local.get $m) (i32.const 4)) (local.get $M)))
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $m) (local.get $ks))))
        (local.set $x1 (i32.add (local.get $x0) (local.get $ks)))
        (local.set $x2 (i32.add (local.get $x1) (local.get $ks)))
        (local.set $x3 (i32.add (local.get $x2) (local.get $ks)))
        (local.set $y0 (i32.add (local.get $y) (i32.mul (local.get $m) (local.get $ys))))
        (local.set $n (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.gt_u (i32.add (local.get $n) (i32.const 2)) (local.get $N)))
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $ks))))
            (local.set $w1 (i32.add (local.get $w0) (local.get $ks)))
            (local.set $a00 (v128.const i32x4 0 0 0 0))
            (local.set $a01 (v128.const i32x4 0 0 0 0))
            (local.set $a10 (v128.const i32x4 0 0 0 0))
            (local.set $a11 (v128.const i32x4 0 0 0 0))
            (local.set $a20 (v128.const i32x4 0 0 0 0))
            (local.set $a21 (v128.const i32x4 0 0 0 0))
            (local.set $a30 (v128.const i32x4 0 0 0 0))
            (local.set $a31 (v128.const i32x4 0 0 0 0))
            (local.set $p (i32.const 0))
            (block $k_done
              (loop $k
                (br_if $k_done (i32.ge_u (local.get $p) (local.get $k4)))
                (local.set $wa (v128.load align=4 (i32.add (local.get $w0) (local.get $p))))
                (local.set $wb (v128.load align=4 (i32.add (local.get $w1) (local.get $p))))
                (local.set $xv (v128.load align=4 (i32.add (local.get $x0) (local.get $p))))
                (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $xv) (local.get $wa))))
                (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load align=4 (i32.add (local.get $x1) (local.get $p))))
                (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $xv) (local.get $wa))))
                (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load align=4 (i32.add (local.get $x2) (local.get $p))))
                (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $xv) (local.get $wa))))
                (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load align=4 (i32.add (local.get $x3) (local.get $p))))
                (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $xv) (local.get $wa))))
                (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $xv) (local.get $wb))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $k)))
            (local.set $b0 (f32.load (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2)))))
            (local.set $b1 (f32.load offset=4 (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2)))))
            (local.set $p (i32.add (local.get $y0) (i32.shl (local.get $n) (i32.const 2))))
            (call $emit (local.get $p) (local.get $a00) (local.get $x0) (local.get $w0) (local.get $k4) (local.get $rem) (local.get $b0))
            (call $emit (i32.add (local.get $p) (i32.const 4)) (local.get $a01) (local.get $x0) (local.get $w1) (local.get $k4) (local.get $rem) (local.get $b1))
            (local.set $p (i32.add (local.get $p) (local.get $ys)))
            (call $emit (local.get $p) (local.get $a10) (local.get $x1) (local.get $w0) (local.get $k4) (local.get $rem) (local.get $b0))
            (call $emit (i32.add (local.get $p) (i32.const 4)) (local.get $a11) (local.get $x1) (local.get $w1) (local.get $k4) (local.get $rem) (local.get $b1))
            (local.set $p (i32.add (local.get $p) (local.get $ys)))
            (call $emit (local.get $p) (local.get $a20) (local.get $x2) (local.get $w0) (local.get $k4) (local.get $rem) (local.get $b0))
            (call $emit (i32.add (local.get $p) (i32.const 4)) (local.get $a21) (local.get $x2) (local.get $w1) (local.get $k4) (local.get $rem) (local.get $b1))
            (local.set $p (i32.add (local.get $p) (local.get $ys)))
            (call $emit (local.get $p) (local.get $a30) (local.get $x3) (local.get $w0) (local.get $k4) (local.get $rem) (local.get $b0))
            (call $emit (i32.add (local.get $p) (i32.const 4)) (local.get $a31) (local.get $x3) (local.get $w1) (local.get $k4) (local.get $rem) (local.get $b1))
            (local.set $n (i32.add (local.get $n) (i32.const 2)))
            (br $cols)))
        ;; An odd N leaves one column for each of the 4 rows.
        (call $row (local.get $x0) (local.get $w) (local.get $b) (local.get $y0) (local.get $n) (local.get $N) (local.get $K))
        (call $row (local.get $x1) (local.get $w) (local.get $b) (i32.add (local.get $y0) (local.get $ys)) (local.get $n) (local.get $N) (local.get $K))
        (call $row (local.get $x2) (local.get $w) (local.get $b) (i32.add (local.get $y0) (i32.mul (local.get $ys) (i32.const 2))) (local.get $n) (local.get $N) (local.get $K))
        (call $row (local.get $x3) (local.get $w) (local.get $b) (i32.add (local.get $y0) (i32.mul (local.get $ys) (i32.const 3))) (local.get $n) (local.get $N) (local.get $K))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $rows)))
    ;; M % 4 leftover rows.
    (block $done
      (loop $left
        (br_if $done (i32.ge_u (local.get $m) (local.get $M)))
        (call $row
          (i32.add (local.get $x) (i32.mul (local.get $m) (local.get $ks)))
          (local.get $w) (local.get $b)
          (i32.add (local.get $y) (i32.mul (local.get $m) (local.get $ys)))
          (i32.const 0) (local.get $N) (local.get $K))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $left))))

  ;; ---- q8 weights: int8 rows times activations quantised per row to int16 ----
  ;; Baseline SIMD has no int8 x int8 product: both operands would be widened to i16 for
  ;; i32x4.dot_i16x8_s anyway, so activations go straight to i16, which costs nothing in speed and
  ;; keeps the result within ~1e-4 of the f32 matmul over the dequantised weights (int8
  ;; activations would put it ~1e-2 off, more than the GPU parity tests allow).

  ;; Each row of x [M, K] f32 becomes q = round(x / s), s = max|x| / A, as i16 rows of Kp values
  ;; (zeros past K) with s in xs[m]. A is what keeps the i32 sums of qmatmul from overflowing.
  (func (export "quantize") (param $x i32) (param $q i32) (param $xs i32) (param $M i32) (param $K i32) (param $Kp i32) (param $A f32)
    (local $m i32) (local $p i32) (local $end i32) (local $end4 i32) (local $end8 i32) (local $qp i32)
    (local $mx v128) (local $max f32) (local $inv f32) (local $iv v128)
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $m) (local.get $M)))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $K) (i32.const 2))))
        (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $K) (i32.const -4)) (i32.const 2))))
        (local.set $end8 (i32.add (local.get $x) (i32.shl (i32.and (local.get $K) (i32.const -8)) (i32.const 2))))
        (local.set $mx (v128.const i32x4 0 0 0 0))
        (local.set $p (local.get $x))
        (block $done
          (loop $vec
            (br_if $done (i32.ge_u (local.get $p) (local.get $end4)))
            (local.set $mx (f32x4.max (local.get $mx) (f32x4.abs (v128.load align=4 (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $vec)))
        (local.set $max (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
          (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
        (block $done
          (loop $tail
            (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $max (f32.max (local.get $max) (f32.abs (f32.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $tail)))
        (f32.store (i32.add (local.get $xs) (i32.shl (local.get $m) (i32.const 2))) (f32.div (local.get $max) (local.get $A)))
        ;; An all-zero row: scale 0, q 0, so the row's outputs are the bias.
        (local.set $inv (select (f32.div (local.get $A) (local.get $max)) (f32.const 0) (f32.gt (local.get $max) (f32.const 0))))
        (local.set $iv (f32x4.splat (local.get $inv)))
        (local.set $p (local.get $x))
        (local.set $qp (local.get $q))
        (block $done
          (loop $vec
            (br_if $done (i32.ge_u (local.get $p) (local.get $end8)))
            (v128.store align=2 (local.get $qp)
              (i16x8.narrow_i32x4_s
                (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load align=4 (local.get $p)) (local.get $iv))))
                (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 align=4 (local.get $p)) (local.get $iv))))))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (local.set $qp (i32.add (local.get $qp) (i32.const 16)))
            (br $vec)))
        (block $done
          (loop $tail
            (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
            (i32.store16 (local.get $qp) (i32.trunc_sat_f32_s (f32.nearest (f32.mul (f32.load (local.get $p)) (local.get $inv)))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $qp (i32.add (local.get $qp) (i32.const 2)))
            (br $tail)))
        (local.set $q (i32.add (local.get $q) (i32.shl (local.get $Kp) (i32.const 1))))
        (memory.fill (local.get $qp) (i32.const 0) (i32.sub (local.get $q) (local.get $qp)))
        (local.set $x (local.get $end))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $rows))))

  ;; [sum of a's lanes, of b's, of c's, of d's].
  (func $sum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $s0 v128) (local $s1 v128)
    (local.set $s0 (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $s1 (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $s0) (local.get $s1))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $s0) (local.get $s1))))

  ;; i16 x[xp ..] . i8 w[wp ..] over Kp (a multiple of 8) values, in i32.
  (func $qdot (param $xp i32) (param $wp i32) (param $Kp i32) (result i32)
    (local $p i32) (local $acc v128)
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $p) (local.get $Kp)))
        (local.set $acc (i32x4.add (local.get $acc)
          (i32x4.dot_i16x8_s
            (v128.load align=2 (i32.add (local.get $xp) (i32.shl (local.get $p) (i32.const 1))))
            (v128.load8x8_s align=1 (i32.add (local.get $wp) (local.get $p))))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $vec)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))

  ;; The epilogue of 4 sums: acc * scale + bias, then GELU when gelu is set.
  (func $finish (param $acc v128) (param $scale v128) (param $bias v128) (param $gelu i32) (result v128)
    (local $r v128)
    (local.set $r (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (local.get $acc)) (local.get $scale)) (local.get $bias)))
    (if (result v128) (local.get $gelu)
      (then (call $gelu4 (local.get $r)))
      (else (local.get $r))))

  ;; One column of 4 rows, y rows ys bytes apart: lane i of the finished sums to dst + i * ys.
  (func $store_col (param $dst i32) (param $ys i32) (param $v v128)
    (f32.store (local.get $dst) (f32x4.extract_lane 0 (local.get $v)))
    (local.set $dst (i32.add (local.get $dst) (local.get $ys)))
    (f32.store (local.get $dst) (f32x4.extract_lane 1 (local.get $v)))
    (local.set $dst (i32.add (local.get $dst) (local.get $ys)))
    (f32.store (local.get $dst) (f32x4.extract_lane 2 (local.get $v)))
    (local.set $dst (i32.add (local.get $dst) (local.get $ys)))
    (f32.store (local.get $dst) (f32x4.extract_lane 3 (local.get $v))))

  ;; y[m, n] = (x[m, :] . w[n, :]) * xs[m] * ws[n] + b[n], then GELU when gelu is set, for the
  ;; columns n in [n0, n1) of y's N (a thread's share): x i16 rows and w i8 rows of Kp (a multiple
  ;; of 8) values, sums exact in i32. Blocks of 4 rows of x by 2 rows of w keep 8 accumulators
  ;; (plus 2 widened weight vectors and 1 x vector: 11 of 16 registers); the M % 4 rows left go 4
  ;; columns at a time, and the last column of an odd share one at a time.
  (func (export "qmatmul") (param $x i32) (param $xs i32) (param $w i32) (param $ws i32) (param $b i32) (param $y i32)
    (param $M i32) (param $N i32) (param $Kp i32) (param $n0 i32) (param $n1 i32) (param $gelu i32)
    (local $m i32) (local $n i32) (local $p i32) (local $q i32) (local $xst i32) (local $ys i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $y0 i32)
    (local $sv v128) (local $wa v128) (local $wb v128) (local $xv v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128)
    (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local.set $xst (i32.shl (local.get $Kp) (i32.const 1)))
    (local.set $ys (i32.shl (local.get $N) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.gt_u (i32.add (local.get $m) (i32.const 4)) (local.get $M)))
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $m) (local.get $xst))))
        (local.set $x1 (i32.add (local.get $x0) (local.get $xst)))
        (local.set $x2 (i32.add (local.get $x1) (local.get $xst)))
        (local.set $x3 (i32.add (local.get $x2) (local.get $xst)))
        (local.set $y0 (i32.add (local.get $y) (i32.mul (local.get $m) (local.get $ys))))
        (local.set $sv (v128.load align=4 (i32.add (local.get $xs) (i32.shl (local.get $m) (i32.const 2)))))
        (local.set $n (local.get $n0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.gt_u (i32.add (local.get $n) (i32.const 2)) (local.get $n1)))
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $Kp))))
            (local.set $w1 (i32.add (local.get $w0) (local.get $Kp)))
            (local.set $a00 (v128.const i32x4 0 0 0 0))
            (local.set $a01 (v128.const i32x4 0 0 0 0))
            (local.set $a10 (v128.const i32x4 0 0 0 0))
            (local.set $a11 (v128.const i32x4 0 0 0 0))
            (local.set $a20 (v128.const i32x4 0 0 0 0))
            (local.set $a21 (v128.const i32x4 0 0 0 0))
            (local.set $a30 (v128.const i32x4 0 0 0 0))
            (local.set $a31 (v128.const i32x4 0 0 0 0))
            (local.set $p (i32.const 0))
            (block $k_done
              (loop $k
                (br_if $k_done (i32.ge_u (local.get $p) (local.get $Kp)))
                (local.set $wa (v128.load8x8_s align=1 (i32.add (local.get $w0) (local.get $p))))
                (local.set $wb (v128.load8x8_s align=1 (i32.add (local.get $w1) (local.get $p))))
                (local.set $q (i32.shl (local.get $p) (i32.const 1)))
                (local.set $xv (v128.load align=2 (i32.add (local.get $x0) (local.get $q))))
                (local.set $a00 (i32x4.add (local.get $a00) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a01 (i32x4.add (local.get $a01) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load align=2 (i32.add (local.get $x1) (local.get $q))))
                (local.set $a10 (i32x4.add (local.get $a10) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a11 (i32x4.add (local.get $a11) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load align=2 (i32.add (local.get $x2) (local.get $q))))
                (local.set $a20 (i32x4.add (local.get $a20) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a21 (i32x4.add (local.get $a21) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load align=2 (i32.add (local.get $x3) (local.get $q))))
                (local.set $a30 (i32x4.add (local.get $a30) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a31 (i32x4.add (local.get $a31) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $p (i32.add (local.get $p) (i32.const 8)))
                (br $k)))
            (local.set $p (i32.add (local.get $y0) (i32.shl (local.get $n) (i32.const 2))))
            (call $store_col (local.get $p) (local.get $ys)
              (call $finish (call $sum4 (local.get $a00) (local.get $a10) (local.get $a20) (local.get $a30))
                (f32x4.mul (local.get $sv) (v128.load32_splat (i32.add (local.get $ws) (i32.shl (local.get $n) (i32.const 2)))))
                (v128.load32_splat (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
                (local.get $gelu)))
            (call $store_col (i32.add (local.get $p) (i32.const 4)) (local.get $ys)
              (call $finish (call $sum4 (local.get $a01) (local.get $a11) (local.get $a21) (local.get $a31))
                (f32x4.mul (local.get $sv) (v128.load32_splat offset=4 (i32.add (local.get $ws) (i32.shl (local.get $n) (i32.const 2)))))
                (v128.load32_splat offset=4 (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
                (local.get $gelu)))
            (local.set $n (i32.add (local.get $n) (i32.const 2)))
            (br $cols)))
        (if (i32.lt_u (local.get $n) (local.get $n1))
          (then
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $Kp))))
            (call $store_col (i32.add (local.get $y0) (i32.shl (local.get $n) (i32.const 2))) (local.get $ys)
              (call $finish
                (i32x4.replace_lane 3
                  (i32x4.replace_lane 2
                    (i32x4.replace_lane 1
                      (i32x4.splat (call $qdot (local.get $x0) (local.get $w0) (local.get $Kp)))
                      (call $qdot (local.get $x1) (local.get $w0) (local.get $Kp)))
                    (call $qdot (local.get $x2) (local.get $w0) (local.get $Kp)))
                  (call $qdot (local.get $x3) (local.get $w0) (local.get $Kp)))
                (f32x4.mul (local.get $sv) (v128.load32_splat (i32.add (local.get $ws) (i32.shl (local.get $n) (i32.const 2)))))
                (v128.load32_splat (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
                (local.get $gelu)))))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $rows)))
    (block $left_done
      (loop $left
        (br_if $left_done (i32.ge_u (local.get $m) (local.get $M)))
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $m) (local.get $xst))))
        (local.set $y0 (i32.add (local.get $y) (i32.mul (local.get $m) (local.get $ys))))
        (local.set $sv (v128.load32_splat (i32.add (local.get $xs) (i32.shl (local.get $m) (i32.const 2)))))
        (local.set $n (local.get $n0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.gt_u (i32.add (local.get $n) (i32.const 4)) (local.get $n1)))
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $Kp))))
            (local.set $w1 (i32.add (local.get $w0) (local.get $Kp)))
            (local.set $w2 (i32.add (local.get $w1) (local.get $Kp)))
            (local.set $w3 (i32.add (local.get $w2) (local.get $Kp)))
            (local.set $a00 (v128.const i32x4 0 0 0 0))
            (local.set $a01 (v128.const i32x4 0 0 0 0))
            (local.set $a10 (v128.const i32x4 0 0 0 0))
            (local.set $a11 (v128.const i32x4 0 0 0 0))
            (local.set $p (i32.const 0))
            (block $k_done
              (loop $k
                (br_if $k_done (i32.ge_u (local.get $p) (local.get $Kp)))
                (local.set $xv (v128.load align=2 (i32.add (local.get $x0) (i32.shl (local.get $p) (i32.const 1)))))
                (local.set $a00 (i32x4.add (local.get $a00)
                  (i32x4.dot_i16x8_s (local.get $xv) (v128.load8x8_s align=1 (i32.add (local.get $w0) (local.get $p))))))
                (local.set $a01 (i32x4.add (local.get $a01)
                  (i32x4.dot_i16x8_s (local.get $xv) (v128.load8x8_s align=1 (i32.add (local.get $w1) (local.get $p))))))
                (local.set $a10 (i32x4.add (local.get $a10)
                  (i32x4.dot_i16x8_s (local.get $xv) (v128.load8x8_s align=1 (i32.add (local.get $w2) (local.get $p))))))
                (local.set $a11 (i32x4.add (local.get $a11)
                  (i32x4.dot_i16x8_s (local.get $xv) (v128.load8x8_s align=1 (i32.add (local.get $w3) (local.get $p))))))
                (local.set $p (i32.add (local.get $p) (i32.const 8)))
                (br $k)))
            (v128.store align=4 (i32.add (local.get $y0) (i32.shl (local.get $n) (i32.const 2)))
              (call $finish (call $sum4 (local.get $a00) (local.get $a01) (local.get $a10) (local.get $a11))
                (f32x4.mul (local.get $sv) (v128.load align=4 (i32.add (local.get $ws) (i32.shl (local.get $n) (i32.const 2)))))
                (v128.load align=4 (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
                (local.get $gelu)))
            (local.set $n (i32.add (local.get $n) (i32.const 4)))
            (br $cols)))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $n) (local.get $n1)))
            (f32.store (i32.add (local.get $y0) (i32.shl (local.get $n) (i32.const 2)))
              (f32x4.extract_lane 0
                (call $finish
                  (i32x4.splat (call $qdot (local.get $x0) (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $Kp))) (local.get $Kp)))
                  (f32x4.mul (local.get $sv) (v128.load32_splat (i32.add (local.get $ws) (i32.shl (local.get $n) (i32.const 2)))))
                  (v128.load32_splat (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
                  (local.get $gelu))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $cols)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $left))))


  ;; e^x for x >= -87 (below, the e^-87 of the clamp): 2^n by the exponent bits times a degree-7
  ;; Taylor polynomial of e^r, |r| <= ln2 / 2 (relative error < 2e-8 before f32 rounding).
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.max (local.get $x) (f32x4.splat (f32.const -87))))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504)))))
    (local.set $r (f32x4.sub
      (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 0.693145751953125))))
      (f32x4.mul (local.get $n) (f32x4.splat (f32.const 1.428606765330187e-06)))))
    (local.set $p (f32x4.splat (f32.const 1.98412698e-4)))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1.38888889e-3)) (f32x4.mul (local.get $p) (local.get $r))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 8.33333333e-3)) (f32x4.mul (local.get $p) (local.get $r))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 4.16666667e-2)) (f32x4.mul (local.get $p) (local.get $r))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 0.166666667)) (f32x4.mul (local.get $p) (local.get $r))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 0.5)) (f32x4.mul (local.get $p) (local.get $r))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $p) (local.get $r))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $p) (local.get $r))))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  ;; erf by the fit of src/model/math.ts and shaders/common.wgsl (|error| < 1.2e-7).
  (func $erf4 (param $x v128) (result v128)
    (local $z v128) (local $t v128) (local $p v128) (local $r v128)
    (local.set $z (f32x4.abs (local.get $x)))
    (local.set $t (f32x4.div (f32x4.splat (f32.const 1))
      (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (f32x4.splat (f32.const 0.5)) (local.get $z)))))
    (local.set $p (f32x4.splat (f32.const 0.17087277)))
    (local.set $p (f32x4.add (f32x4.splat (f32.const -0.82215223)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1.48851587)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const -1.13520398)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 0.27886807)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const -0.18628806)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 0.09678418)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 0.37409196)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1.00002368)) (f32x4.mul (local.get $t) (local.get $p))))
    (local.set $r (f32x4.mul (local.get $t) (call $exp4
      (f32x4.add
        (f32x4.sub (f32x4.neg (f32x4.mul (local.get $z) (local.get $z))) (f32x4.splat (f32.const 1.26551223)))
        (f32x4.mul (local.get $t) (local.get $p))))))
    (v128.bitselect
      (f32x4.sub (f32x4.splat (f32.const 1)) (local.get $r))
      (f32x4.sub (local.get $r) (f32x4.splat (f32.const 1)))
      (f32x4.ge (local.get $x) (f32x4.splat (f32.const 0)))))

  (func $gelu4 (param $v v128) (result v128)
    (f32x4.mul (f32x4.mul (f32x4.splat (f32.const 0.5)) (local.get $v))
      (f32x4.add (f32x4.splat (f32.const 1))
        (call $erf4 (f32x4.mul (local.get $v) (f32x4.splat (f32.const 0.70710678)))))))

  ;; In place over ceil(n / 4) * 4 floats from p: the launcher leaves room for the last vector.
  (func (export "gelu") (param $p i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store align=4 (local.get $p) (call $gelu4 (v128.load align=4 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec))))

  ;; The scores of 4 keys k, k + rs, k + 2 rs, k + 3 rs against q over n floats.
  (func $dot4 (param $q i32) (param $k i32) (param $rs i32) (param $n i32) (result v128)
    (local $p i32) (local $n4 i32) (local $qv v128) (local $k1 i32) (local $k2 i32) (local $k3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $n4 (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $k1 (i32.add (local.get $k) (local.get $rs)))
    (local.set $k2 (i32.add (local.get $k1) (local.get $rs)))
    (local.set $k3 (i32.add (local.get $k2) (local.get $rs)))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $p) (local.get $n4)))
        (local.set $qv (v128.load align=4 (i32.add (local.get $q) (local.get $p))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $qv) (v128.load align=4 (i32.add (local.get $k) (local.get $p))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $qv) (v128.load align=4 (i32.add (local.get $k1) (local.get $p))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $qv) (v128.load align=4 (i32.add (local.get $k2) (local.get $p))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $qv) (v128.load align=4 (i32.add (local.get $k3) (local.get $p))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec)))
    (local.set $n (i32.and (local.get $n) (i32.const 3)))
    (local.set $q (i32.add (local.get $q) (local.get $n4)))
    (f32x4.replace_lane 3
      (f32x4.replace_lane 2
        (f32x4.replace_lane 1
          (f32x4.splat (f32.add (call $hsum (local.get $a0)) (call $dot (local.get $q) (i32.add (local.get $k) (local.get $n4)) (local.get $n))))
          (f32.add (call $hsum (local.get $a1)) (call $dot (local.get $q) (i32.add (local.get $k1) (local.get $n4)) (local.get $n))))
        (f32.add (call $hsum (local.get $a2)) (call $dot (local.get $q) (i32.add (local.get $k2) (local.get $n4)) (local.get $n))))
      (f32.add (call $hsum (local.get $a3)) (call $dot (local.get $q) (i32.add (local.get $k3) (local.get $n4)) (local.get $n)))))

  ;; o[op ..] += p * v[vp ..] over n floats.
  (func $axpy (param $op i32) (param $vp i32) (param $p f32) (param $n i32)
    (local $end i32) (local $end4 i32) (local $pv v128)
    (local.set $pv (f32x4.splat (local.get $p)))
    (local.set $end (i32.add (local.get $op) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $op) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $op) (local.get $end4)))
        (v128.store align=4 (local.get $op)
          (f32x4.add (v128.load align=4 (local.get $op)) (f32x4.mul (local.get $pv) (v128.load align=4 (local.get $vp)))))
        (local.set $op (i32.add (local.get $op) (i32.const 16)))
        (local.set $vp (i32.add (local.get $vp) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $op) (local.get $end)))
        (f32.store (local.get $op) (f32.add (f32.load (local.get $op)) (f32.mul (local.get $p) (f32.load (local.get $vp)))))
        (local.set $op (i32.add (local.get $op) (i32.const 4)))
        (local.set $vp (i32.add (local.get $vp) (i32.const 4)))
        (br $tail))))

  ;; o += the 4 weights of ps times the 4 value rows v, v + rs, v + 2 rs, v + 3 rs, over n floats:
  ;; one load and store of o per 4 keys.
  (func $axpy4 (param $o i32) (param $v i32) (param $rs i32) (param $ps v128) (param $n i32)
    (local $c i32) (local $n4 i32) (local $v1 i32) (local $v2 i32) (local $v3 i32)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local.set $n4 (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $v1 (i32.add (local.get $v) (local.get $rs)))
    (local.set $v2 (i32.add (local.get $v1) (local.get $rs)))
    (local.set $v3 (i32.add (local.get $v2) (local.get $rs)))
    (local.set $p0 (f32x4.splat (f32x4.extract_lane 0 (local.get $ps))))
    (local.set $p1 (f32x4.splat (f32x4.extract_lane 1 (local.get $ps))))
    (local.set $p2 (f32x4.splat (f32x4.extract_lane 2 (local.get $ps))))
    (local.set $p3 (f32x4.splat (f32x4.extract_lane 3 (local.get $ps))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $c) (local.get $n4)))
        (v128.store align=4 (i32.add (local.get $o) (local.get $c))
          (f32x4.add
            (f32x4.add (v128.load align=4 (i32.add (local.get $o) (local.get $c)))
              (f32x4.add
                (f32x4.mul (local.get $p0) (v128.load align=4 (i32.add (local.get $v) (local.get $c))))
                (f32x4.mul (local.get $p1) (v128.load align=4 (i32.add (local.get $v1) (local.get $c))))))
            (f32x4.add
              (f32x4.mul (local.get $p2) (v128.load align=4 (i32.add (local.get $v2) (local.get $c))))
              (f32x4.mul (local.get $p3) (v128.load align=4 (i32.add (local.get $v3) (local.get $c)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $vec)))
    (local.set $n (i32.and (local.get $n) (i32.const 3)))
    (local.set $o (i32.add (local.get $o) (local.get $n4)))
    (call $axpy (local.get $o) (i32.add (local.get $v) (local.get $n4)) (f32x4.extract_lane 0 (local.get $ps)) (local.get $n))
    (call $axpy (local.get $o) (i32.add (local.get $v1) (local.get $n4)) (f32x4.extract_lane 1 (local.get $ps)) (local.get $n))
    (call $axpy (local.get $o) (i32.add (local.get $v2) (local.get $n4)) (f32x4.extract_lane 2 (local.get $ps)) (local.get $n))
    (call $axpy (local.get $o) (i32.add (local.get $v3) (local.get $n4)) (f32x4.extract_lane 3 (local.get $ps)) (local.get $n)))

  ;; qkv holds S token rows of [q (H) | k (KV) | v (KV)], H = heads * d, KV = kv_heads * d: query
  ;; head h reads key/value head h / (heads / kv_heads) (grouped-query attention; kv_heads = heads
  ;; for BERT). ctx gets S rows of H. Query i attends to the keys j with |i - j| <= window and
  ;; j < len (window >= len: global), and with causal set only to j <= i.
  ;; Padding rows (i >= len) get zeros: nothing reads them. scores: scratch for S + 3 floats.
  ;; Only query heads [h0, h1) are computed (a thread's share); the share with h0 = 0 writes the
  ;; padding rows.
  (func (export "attention") (param $qkv i32) (param $ctx i32) (param $scores i32) (param $S i32) (param $len i32)
    (param $heads i32) (param $kv_heads i32) (param $d i32) (param $window i32) (param $causal i32) (param $scale f32)
    (param $h0 i32) (param $h1 i32)
    (local $h i32) (local $i i32) (local $j i32) (local $lo i32) (local $hi i32)
    (local $rs i32) (local $ds i32) (local $hs i32) (local $kvs i32) (local $k0 i32) (local $v0 i32)
    (local $q i32) (local $o i32) (local $at i32)
    (local $s f32) (local $max f32) (local $sum f32) (local $inv f32)
    (local $s4 v128) (local $max4 v128) (local $sum4 v128)
    (local.set $ds (i32.shl (local.get $d) (i32.const 2)))
    (local.set $hs (i32.mul (local.get $heads) (local.get $ds)))
    (local.set $kvs (i32.mul (local.get $kv_heads) (local.get $ds)))
    (local.set $rs (i32.add (local.get $hs) (i32.shl (local.get $kvs) (i32.const 1))))
    (if (i32.eqz (local.get $h0))
      (then
        (memory.fill
          (i32.add (local.get $ctx) (i32.mul (local.get $len) (local.get $hs)))
          (i32.const 0)
          (i32.mul (i32.sub (local.get $S) (local.get $len)) (local.get $hs)))))
    (local.set $h (local.get $h0))
    (block $heads_done
      (loop $heads_loop
        (br_if $heads_done (i32.ge_u (local.get $h) (local.get $h1)))
        ;; Byte offsets within a token row of this head's key and value.
        (local.set $k0 (i32.add (local.get $hs)
          (i32.mul (i32.div_u (local.get $h) (i32.div_u (local.get $heads) (local.get $kv_heads))) (local.get $ds))))
        (local.set $v0 (i32.add (local.get $k0) (local.get $kvs)))
        (local.set $i (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $lo (select (i32.sub (local.get $i) (local.get $window)) (i32.const 0)
              (i32.gt_s (local.get $i) (local.get $window))))
            (local.set $hi (select (local.get $len) (i32.add (i32.add (local.get $i) (local.get $window)) (i32.const 1))
              (i32.ge_s (i32.add (local.get $i) (local.get $window)) (local.get $len))))
            (if (local.get $causal)
              (then (local.set $hi (select (i32.add (local.get $i) (i32.const 1)) (local.get $hi)
                (i32.lt_s (local.get $i) (local.get $hi))))))
            (local.set $q (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $i) (local.get $rs))) (i32.mul (local.get $h) (local.get $ds))))
            ;; Scores, 4 keys at a time, then one at a time.
            (local.set $max4 (f32x4.splat (f32.const -inf)))
            (local.set $max (f32.const -inf))
            (local.set $j (local.get $lo))
            (block $done
              (loop $keys
                (br_if $done (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $hi)))
                (local.set $s4 (f32x4.mul (f32x4.splat (local.get $scale))
                  (call $dot4 (local.get $q)
                    (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $rs))) (local.get $k0))
                    (local.get $rs) (local.get $d))))
                (v128.store align=4 (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))) (local.get $s4))
                (local.set $max4 (f32x4.max (local.get $max4) (local.get $s4)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $keys)))
            (block $done
              (loop $keys
                (br_if $done (i32.ge_s (local.get $j) (local.get $hi)))
                (local.set $s (f32.mul (local.get $scale)
                  (call $dot (local.get $q)
                    (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $rs))) (local.get $k0))
                    (local.get $d))))
                (f32.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
                (local.set $max (f32.max (local.get $max) (local.get $s)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $keys)))
            (local.set $max (f32.max
              (f32.max (local.get $max) (f32.max (f32x4.extract_lane 0 (local.get $max4)) (f32x4.extract_lane 1 (local.get $max4))))
              (f32.max (f32x4.extract_lane 2 (local.get $max4)) (f32x4.extract_lane 3 (local.get $max4)))))
            ;; Softmax numerators in place; the tail's spare lanes are not stored.
            (local.set $sum4 (v128.const i32x4 0 0 0 0))
            (local.set $sum (f32.const 0))
            (local.set $j (local.get $lo))
            (block $done
              (loop $soft
                (br_if $done (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $hi)))
                (local.set $at (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $s4 (call $exp4 (f32x4.sub (v128.load align=4 (local.get $at)) (f32x4.splat (local.get $max)))))
                (v128.store align=4 (local.get $at) (local.get $s4))
                (local.set $sum4 (f32x4.add (local.get $sum4) (local.get $s4)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $soft)))
            (block $done
              (loop $soft
                (br_if $done (i32.ge_s (local.get $j) (local.get $hi)))
                (local.set $at (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $s (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (f32.sub (f32.load (local.get $at)) (local.get $max))))))
                (f32.store (local.get $at) (local.get $s))
                (local.set $sum (f32.add (local.get $sum) (local.get $s)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $soft)))
            (local.set $inv (f32.div (f32.const 1) (f32.add (local.get $sum) (call $hsum (local.get $sum4)))))
            ;; Weighted values.
            (local.set $o (i32.add (i32.add (local.get $ctx) (i32.mul (local.get $i) (local.get $hs))) (i32.mul (local.get $h) (local.get $ds))))
            (memory.fill (local.get $o) (i32.const 0) (local.get $ds))
            (local.set $j (local.get $lo))
            (block $done
              (loop $values
                (br_if $done (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $hi)))
                (call $axpy4 (local.get $o)
                  (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $rs))) (local.get $v0))
                  (local.get $rs)
                  (f32x4.mul (v128.load align=4 (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2)))) (f32x4.splat (local.get $inv)))
                  (local.get $d))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $values)))
            (block $done
              (loop $values
                (br_if $done (i32.ge_s (local.get $j) (local.get $hi)))
                (call $axpy (local.get $o)
                  (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $rs))) (local.get $v0))
                  (f32.mul (f32.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2)))) (local.get $inv))
                  (local.get $d))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $values)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rows)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $heads_loop))))
)
