;; The CPU fallback's kernels in f32 with 128-bit SIMD (the WGSL kernels' counterparts):
;;   matmul:    y[m, n] = x[m, :] . W[n, :] + b[n]. Rows of x and W are contiguous along K, so every
;;              load is a run of 4 floats of both operands. A 4 x 2 block of outputs lives in 8
;;              vector accumulators (plus 6 loaded vectors: 14 of the 16 vector registers of
;;              x86-64, fewer than arm64's 32), so each loaded vector is used 2 to 4 times.
;;              Leftover rows, columns and K % 4 dims go through $dot.
;;   gelu:      in place, the epilogue of BERT's first feed-forward projection.
;;   attention: multi-head (or grouped-query) softmax attention over one text of a batch, as
;;              4 x 8 blocks of matrix products (4 queries at a time).
;;   quantize, qmatmul: q8 weights kept as int8, activations quantised per row to i16, sums in i32;
;;              qmatmul (qmatmul_rows) computes a range of output columns (rows), so threads can
;;              share one call.
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
  ;; Both operands are stored in the order qmatmul reads them, so that its inner loop advances
  ;; one pointer per operand and finds everything else at constant offsets: x in blocks of 4 rows
  ;; whose 8-value runs interleave ([M / 4][Kp / 8][4][8] i16), W in panels of 2 rows likewise
  ;; ([N / 2][Kp / 8][2][8] i8, the launcher's placeQ8 packs them).

  ;; Each row of x [M, K] f32 becomes q = round(x / s), s = max|x| / A, as i16 in the block layout
  ;; above (zeros past K, and in the rows that pad M to a multiple of 4), with s in xs[m] (0 for the
  ;; padding rows). A is what keeps the i32 sums of qmatmul from overflowing.
  (func (export "quantize") (param $x i32) (param $q i32) (param $xs i32) (param $M i32) (param $K i32) (param $Kp i32) (param $A f32)
    (local $m i32) (local $p i32) (local $end i32) (local $end4 i32) (local $end8 i32) (local $qp i32) (local $last i32)
    (local $mx v128) (local $max f32) (local $inv f32) (local $iv v128)
    ;; The last block's padding rows, and the runs that K % 8 leaves partial, start as zeros.
    (local.set $last (i32.and (local.get $M) (i32.const -4)))
    (if (i32.and (local.get $M) (i32.const 3))
      (then
        (memory.fill (i32.add (local.get $q) (i32.shl (i32.mul (local.get $last) (local.get $Kp)) (i32.const 1)))
          (i32.const 0) (i32.shl (local.get $Kp) (i32.const 3)))
        (memory.fill (i32.add (local.get $xs) (i32.shl (local.get $M) (i32.const 2)))
          (i32.const 0) (i32.shl (i32.sub (i32.add (local.get $last) (i32.const 4)) (local.get $M)) (i32.const 2)))))
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
        ;; Row m's first run: its block's, then 16 bytes per row before it within the block.
        (local.set $qp (i32.add (local.get $q)
          (i32.add (i32.shl (i32.mul (i32.and (local.get $m) (i32.const -4)) (local.get $Kp)) (i32.const 1))
            (i32.shl (i32.and (local.get $m) (i32.const 3)) (i32.const 4)))))
        (block $done
          (loop $vec
            (br_if $done (i32.ge_u (local.get $p) (local.get $end8)))
            (v128.store align=2 (local.get $qp)
              (i16x8.narrow_i32x4_s
                (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load align=4 (local.get $p)) (local.get $iv))))
                (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 align=4 (local.get $p)) (local.get $iv))))))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (local.set $qp (i32.add (local.get $qp) (i32.const 64)))
            (br $vec)))
        (if (i32.lt_u (local.get $p) (local.get $end))
          (then (v128.store align=2 (local.get $qp) (v128.const i32x4 0 0 0 0))))
        (block $done
          (loop $tail
            (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
            (i32.store16 (local.get $qp) (i32.trunc_sat_f32_s (f32.nearest (f32.mul (f32.load (local.get $p)) (local.get $inv)))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $qp (i32.add (local.get $qp) (i32.const 2)))
            (br $tail)))
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

  ;; One column of y for a block of 4 rows: the finished sums (acc * xs[m] * ws[n] + b[n], then
  ;; GELU when gelu is set) of its first `rows` rows to y, y + ys, ... .
  (func $store_col (param $y i32) (param $ys i32) (param $rows i32)
    (param $acc v128) (param $xs v128) (param $ws i32) (param $b i32) (param $gelu i32)
    (local $v v128)
    (local.set $v (f32x4.add
      (f32x4.mul (f32x4.convert_i32x4_s (local.get $acc)) (f32x4.mul (local.get $xs) (v128.load32_splat (local.get $ws))))
      (v128.load32_splat (local.get $b))))
    (if (local.get $gelu) (then (local.set $v (call $gelu4 (local.get $v)))))
    (f32.store (local.get $y) (f32x4.extract_lane 0 (local.get $v)))
    (if (i32.le_u (local.get $rows) (i32.const 1)) (then (return)))
    (local.set $y (i32.add (local.get $y) (local.get $ys)))
    (f32.store (local.get $y) (f32x4.extract_lane 1 (local.get $v)))
    (if (i32.le_u (local.get $rows) (i32.const 2)) (then (return)))
    (local.set $y (i32.add (local.get $y) (local.get $ys)))
    (f32.store (local.get $y) (f32x4.extract_lane 2 (local.get $v)))
    (if (i32.le_u (local.get $rows) (i32.const 3)) (then (return)))
    (local.set $y (i32.add (local.get $y) (local.get $ys)))
    (f32.store (local.get $y) (f32x4.extract_lane 3 (local.get $v))))

  ;; y[m, n] = (x[m, :] . w[n, :]) * xs[m] * ws[n] + b[n], then GELU when gelu is set, for the
  ;; rows m in [m0, m1) (m0 a multiple of 4) and columns n in [n0, n1) (n0 even) of y [M, N]: x and
  ;; w packed as above, Kp a multiple of 8, sums exact in i32. Blocks of 4 rows of x by a panel of
  ;; 2 rows of w keep 8 accumulators (plus 2 widened weight vectors and 1 x vector: 11 of 16
  ;; registers); the rows that pad M and the zero row that pads an odd N are computed but not stored.
  (func $qmm (param $x i32) (param $xs i32) (param $w i32) (param $ws i32) (param $b i32) (param $y i32)
    (param $N i32) (param $Kp i32) (param $m0 i32) (param $m1 i32) (param $n0 i32) (param $n1 i32) (param $gelu i32)
    (local $m i32) (local $n i32) (local $rows i32) (local $xb i32) (local $xp i32) (local $xe i32) (local $wp i32)
    (local $ys i32) (local $y0 i32)
    (local $sv v128) (local $wa v128) (local $wb v128) (local $xv v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128)
    (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local.set $ys (i32.shl (local.get $N) (i32.const 2)))
    (local.set $m (local.get $m0))
    (block $rows_done
      (loop $blocks
        (br_if $rows_done (i32.ge_u (local.get $m) (local.get $m1)))
        (local.set $rows (i32.sub (local.get $m1) (local.get $m)))
        (local.set $xb (i32.add (local.get $x) (i32.shl (i32.mul (local.get $m) (local.get $Kp)) (i32.const 1))))
        (local.set $xe (i32.add (local.get $xb) (i32.shl (local.get $Kp) (i32.const 3))))
        (local.set $y0 (i32.add (local.get $y) (i32.mul (local.get $m) (local.get $ys))))
        (local.set $sv (v128.load align=4 (i32.add (local.get $xs) (i32.shl (local.get $m) (i32.const 2)))))
        (local.set $n (local.get $n0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $n) (local.get $n1)))
            (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $Kp))))
            (local.set $xp (local.get $xb))
            (local.set $a00 (v128.const i32x4 0 0 0 0))
            (local.set $a01 (v128.const i32x4 0 0 0 0))
            (local.set $a10 (v128.const i32x4 0 0 0 0))
            (local.set $a11 (v128.const i32x4 0 0 0 0))
            (local.set $a20 (v128.const i32x4 0 0 0 0))
            (local.set $a21 (v128.const i32x4 0 0 0 0))
            (local.set $a30 (v128.const i32x4 0 0 0 0))
            (local.set $a31 (v128.const i32x4 0 0 0 0))
            (block $k_done
              (loop $k
                (br_if $k_done (i32.ge_u (local.get $xp) (local.get $xe)))
                (local.set $wa (v128.load8x8_s align=1 (local.get $wp)))
                (local.set $wb (v128.load8x8_s offset=8 align=1 (local.get $wp)))
                (local.set $xv (v128.load align=2 (local.get $xp)))
                (local.set $a00 (i32x4.add (local.get $a00) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a01 (i32x4.add (local.get $a01) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load offset=16 align=2 (local.get $xp)))
                (local.set $a10 (i32x4.add (local.get $a10) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a11 (i32x4.add (local.get $a11) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load offset=32 align=2 (local.get $xp)))
                (local.set $a20 (i32x4.add (local.get $a20) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a21 (i32x4.add (local.get $a21) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $xv (v128.load offset=48 align=2 (local.get $xp)))
                (local.set $a30 (i32x4.add (local.get $a30) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wa))))
                (local.set $a31 (i32x4.add (local.get $a31) (i32x4.dot_i16x8_s (local.get $xv) (local.get $wb))))
                (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
                (br $k)))
            (call $store_col (i32.add (local.get $y0) (i32.shl (local.get $n) (i32.const 2))) (local.get $ys) (local.get $rows)
              (call $sum4 (local.get $a00) (local.get $a10) (local.get $a20) (local.get $a30)) (local.get $sv)
              (i32.add (local.get $ws) (i32.shl (local.get $n) (i32.const 2)))
              (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2)))
              (local.get $gelu))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (if (i32.lt_u (local.get $n) (local.get $n1))
              (then
                (call $store_col (i32.add (local.get $y0) (i32.shl (local.get $n) (i32.const 2))) (local.get $ys) (local.get $rows)
                  (call $sum4 (local.get $a01) (local.get $a11) (local.get $a21) (local.get $a31)) (local.get $sv)
                  (i32.add (local.get $ws) (i32.shl (local.get $n) (i32.const 2)))
                  (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2)))
                  (local.get $gelu))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $cols)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $blocks))))

  ;; Threads share a call by columns [n0, n1) (whole panels; qmatmul) or by rows [m0, m1) (whole
  ;; blocks; qmatmul_rows): each share reads all of the other operand, so the launcher splits the
  ;; larger one and the smaller stays in cache.
  (func (export "qmatmul") (param $x i32) (param $xs i32) (param $w i32) (param $ws i32) (param $b i32) (param $y i32)
    (param $M i32) (param $N i32) (param $Kp i32) (param $n0 i32) (param $n1 i32) (param $gelu i32)
    (call $qmm (local.get $x) (local.get $xs) (local.get $w) (local.get $ws) (local.get $b) (local.get $y)
      (local.get $N) (local.get $Kp) (i32.const 0) (local.get $M) (local.get $n0) (local.get $n1) (local.get $gelu)))

  (func (export "qmatmul_rows") (param $x i32) (param $xs i32) (param $w i32) (param $ws i32) (param $b i32) (param $y i32)
    (param $M i32) (param $N i32) (param $Kp i32) (param $m0 i32) (param $m1 i32) (param $gelu i32)
    (call $qmm (local.get $x) (local.get $xs) (local.get $w) (local.get $ws) (local.get $b) (local.get $y)
      (local.get $N) (local.get $Kp) (local.get $m0) (local.get $m1) (i32.const 0) (local.get $N) (local.get $gelu)))

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

  ;; C = A B for a 4 x 8 block of C: A's 4 rows a, a + as, a + 2 as, a + 3 as of K floats, B's K
  ;; rows of 8 floats bs bytes apart, C's rows c, c + cs, ... . Each step splats one float of every
  ;; row of A against two vectors of B's row, so no sum ever crosses lanes: 8 accumulators, 2 B
  ;; vectors and 1 splat take 11 of the 16 vector registers of x86-64.
  (func $mm4x8 (param $a i32) (param $as i32) (param $b i32) (param $bs i32) (param $K i32) (param $c i32) (param $cs i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $end i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $as)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $as)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $as)))
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $K) (i32.const 2))))
    (block $done
      (loop $k
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $b0 (v128.load align=4 (local.get $b)))
        (local.set $b1 (v128.load offset=16 align=4 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (local.get $a1)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (local.get $a2)))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (local.get $a3)))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
        (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
        (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (local.get $bs)))
        (br $k)))
    (v128.store align=4 (local.get $c) (local.get $c00))
    (v128.store offset=16 align=4 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $cs)))
    (v128.store align=4 (local.get $c) (local.get $c10))
    (v128.store offset=16 align=4 (local.get $c) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $cs)))
    (v128.store align=4 (local.get $c) (local.get $c20))
    (v128.store offset=16 align=4 (local.get $c) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $cs)))
    (v128.store align=4 (local.get $c) (local.get $c30))
    (v128.store offset=16 align=4 (local.get $c) (local.get $c31)))

  ;; a[0 ..] . the n floats at b, b + bs, b + 2 bs, ...
  (func $dot_strided (param $a i32) (param $b i32) (param $bs i32) (param $n i32) (result f32)
    (local $end i32) (local $s f32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $k
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $a)) (f32.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (local.get $bs)))
        (br $k)))
    (local.get $s))

  ;; The first key query i attends to, and one past the last (see attention).
  (func $first_key (param $i i32) (param $window i32) (result i32)
    (select (i32.sub (local.get $i) (local.get $window)) (i32.const 0) (i32.gt_s (local.get $i) (local.get $window))))

  (func $end_key (param $i i32) (param $len i32) (param $window i32) (param $causal i32) (result i32)
    (local $hi i32)
    (local.set $hi (select (local.get $len) (i32.add (i32.add (local.get $i) (local.get $window)) (i32.const 1))
      (i32.ge_s (i32.add (local.get $i) (local.get $window)) (local.get $len))))
    (select (i32.add (local.get $i) (i32.const 1)) (local.get $hi)
      (i32.and (local.get $causal) (i32.lt_s (local.get $i) (local.get $hi)))))

  ;; The relative bias of distances d .. d + 3, each clamped to +-reach, from bias (distance 0's f32).
  (func $relative4 (param $bias i32) (param $reach i32) (param $d i32) (result v128)
    (local $v v128) (local $l i32) (local $e i32)
    (local.set $v (f32x4.splat (f32.const 0)))
    (local.set $l (i32.const 0))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $l) (i32.const 4)))
        (local.set $e (i32.add (local.get $d) (local.get $l)))
        (local.set $e (select (local.get $reach) (local.get $e) (i32.gt_s (local.get $e) (local.get $reach))))
        (local.set $e (select (i32.sub (i32.const 0) (local.get $reach)) (local.get $e)
          (i32.lt_s (local.get $e) (i32.sub (i32.const 0) (local.get $reach)))))
        ;; Lanes move down one and d + l enters lane 3: after four steps lane l holds d + l.
        (local.set $v (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $v) (local.get $v)))
        (local.set $v (f32x4.replace_lane 3 (local.get $v)
          (f32.load (i32.add (local.get $bias) (i32.shl (local.get $e) (i32.const 2))))))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $lanes)))
    (local.get $v))

  ;; Row r of a block's scores (floats [jb, je) of a row, 8-aligned) becomes its softmax over the
  ;; keys [lo, hi), zeros elsewhere, after multiplying by scale, subtracting slope |q - j| (ALiBi;
  ;; slope 0 for every other model, which leaves the scores as they were) and, where bias is not 0,
  ;; adding the relative bias of j - q (MPNet; see $relative4).
  (func $softmax_row (param $row i32) (param $jb i32) (param $je i32) (param $lo i32) (param $hi i32) (param $scale f32)
    (param $q i32) (param $slope f32) (param $bias i32) (param $reach i32)
    (local $j i32) (local $at i32) (local $end i32) (local $jv v128) (local $in v128) (local $s v128)
    (local $max4 v128) (local $sum4 v128) (local $max f32) (local $inv v128) (local $total f32)
    (local.set $end (i32.add (local.get $row) (i32.shl (local.get $je) (i32.const 2))))
    (local.set $max4 (f32x4.splat (f32.const -inf)))
    (local.set $at (i32.add (local.get $row) (i32.shl (local.get $jb) (i32.const 2))))
    (local.set $jv (i32x4.add (i32x4.splat (local.get $jb)) (v128.const i32x4 0 1 2 3)))
    (local.set $j (local.get $jb))
    (block $done
      (loop $keys
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $s (f32x4.sub
          (f32x4.mul (v128.load align=4 (local.get $at)) (f32x4.splat (local.get $scale)))
          (f32x4.mul (f32x4.splat (local.get $slope))
            (f32x4.convert_i32x4_s (i32x4.abs (i32x4.sub (local.get $jv) (i32x4.splat (local.get $q))))))))
        (if (local.get $bias)
          (then (local.set $s (f32x4.add (local.get $s)
            (call $relative4 (local.get $bias) (local.get $reach) (i32.sub (local.get $j) (local.get $q)))))))
        (v128.store align=4 (local.get $at) (local.get $s))
        (local.set $in (v128.and (i32x4.ge_s (local.get $jv) (i32x4.splat (local.get $lo))) (i32x4.lt_s (local.get $jv) (i32x4.splat (local.get $hi)))))
        (local.set $max4 (f32x4.max (local.get $max4) (v128.bitselect (local.get $s) (f32x4.splat (f32.const -inf)) (local.get $in))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (local.set $jv (i32x4.add (local.get $jv) (i32x4.splat (i32.const 4))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $keys)))
    (local.set $max (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $max4)) (f32x4.extract_lane 1 (local.get $max4)))
      (f32.max (f32x4.extract_lane 2 (local.get $max4)) (f32x4.extract_lane 3 (local.get $max4)))))
    ;; exp4 clamps, so keys out of range need their zeros selected, not computed.
    (local.set $at (i32.add (local.get $row) (i32.shl (local.get $jb) (i32.const 2))))
    (local.set $jv (i32x4.add (i32x4.splat (local.get $jb)) (v128.const i32x4 0 1 2 3)))
    (block $done
      (loop $keys
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $in (v128.and (i32x4.ge_s (local.get $jv) (i32x4.splat (local.get $lo))) (i32x4.lt_s (local.get $jv) (i32x4.splat (local.get $hi)))))
        (local.set $s (v128.and (local.get $in)
          (call $exp4 (f32x4.sub (v128.load align=4 (local.get $at)) (f32x4.splat (local.get $max))))))
        (v128.store align=4 (local.get $at) (local.get $s))
        (local.set $sum4 (f32x4.add (local.get $sum4) (local.get $s)))
        (local.set $jv (i32x4.add (local.get $jv) (i32x4.splat (i32.const 4))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $keys)))
    ;; A row that sees no key (an expansion token past a local window's reach) gets zero weights, not NaN.
    (local.set $total (call $hsum (local.get $sum4)))
    (local.set $inv (f32x4.splat (select (f32.div (f32.const 1) (local.get $total)) (f32.const 0)
      (f32.gt (local.get $total) (f32.const 0)))))
    (local.set $at (i32.add (local.get $row) (i32.shl (local.get $jb) (i32.const 2))))
    (block $done
      (loop $keys
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store align=4 (local.get $at) (f32x4.mul (v128.load align=4 (local.get $at)) (local.get $inv)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $keys))))

;; DeBERTa's disentangled terms of query p against keys [jb, min(je, len)), added to a block's
  ;; score row before attention scales it: q . Kr (c2p, flags bit 1) and k_j . Qr (p2c, bit 2) of
  ;; the relative row of distance p - j, index[p - j] (i32; index points at distance 0's) among rel's
  ;; rows, which are laid out as qkv's (rs bytes; the head's keys at k0, its queries at qh). q: the
  ;; query's d floats. ds (bytes) is a multiple of 16: the caller runs these models only with d % 4 = 0.
  (func $disentangled_row (param $row i32) (param $jb i32) (param $je i32) (param $len i32) (param $p i32)
    (param $q i32) (param $qkv i32) (param $rs i32) (param $k0 i32) (param $qh i32) (param $rel i32) (param $index i32)
    (param $flags i32) (param $ds i32)
    (local $j i32) (local $end i32) (local $r i32) (local $k i32) (local $c i32) (local $acc v128) (local $at i32)
    (local.set $end (select (local.get $len) (local.get $je) (i32.gt_u (local.get $je) (local.get $len))))
    (local.set $j (local.get $jb))
    (block $done
      (loop $keys
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
        (local.set $r (i32.add (local.get $rel) (i32.mul (local.get $rs)
          (i32.load (i32.add (local.get $index) (i32.shl (i32.sub (local.get $p) (local.get $j)) (i32.const 2)))))))
        (local.set $k (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $j) (local.get $rs))) (local.get $k0)))
        (local.set $acc (f32x4.splat (f32.const 0)))
        (local.set $c (i32.const 0))
        (block $dims_done
          (loop $dims
            (br_if $dims_done (i32.ge_u (local.get $c) (local.get $ds)))
            (if (i32.and (local.get $flags) (i32.const 1))
              (then (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
                (v128.load align=4 (i32.add (local.get $q) (local.get $c)))
                (v128.load align=4 (i32.add (i32.add (local.get $r) (local.get $k0)) (local.get $c))))))))
            (if (i32.and (local.get $flags) (i32.const 2))
              (then (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
                (v128.load align=4 (i32.add (local.get $k) (local.get $c)))
                (v128.load align=4 (i32.add (i32.add (local.get $r) (local.get $qh)) (local.get $c))))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $dims)))
        (local.set $at (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
        (f32.store (local.get $at) (f32.add (f32.load (local.get $at)) (call $hsum (local.get $acc))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $keys))))

  ;; qkv holds S token rows of [q (H) | k (KV) | v (KV)], H = heads * d, KV = kv_heads * d: query
  ;; head h reads key/value head h / (heads / kv_heads) (grouped-query attention; kv_heads = heads
  ;; for BERT). ctx gets S rows of H. Query i attends to the keys j with |i - j| <= window and
  ;; j < len (window >= len: global), and with causal set only to j <= i.
  ;; Rows i < rows (rows >= len) are computed: a late-interaction query's expansion tokens (len <= i
  ;; < rows) attend to the keys but are not attended. Padding rows (i >= rows) get zeros: nothing
  ;; reads them. Only query heads [h0, h1) are computed (a thread's share); the share with h0 = 0
  ;; writes the padding rows.
  ;; Queries go 4 at a time, as matrix products of 4 x 8 blocks ($mm4x8): scores against keys
  ;; 8 at a time, from the head's keys transposed (L = len rounded up to 8 columns), then the
  ;; weighted values 8 dims at a time. scratch, 16-byte aligned, holds
  ;; 4 (d L + 8 d + 4 L) bytes: the keys transposed [d, L], the block's queries [4, d] (the last
  ;; block repeats its last query), its scores [4, L] and its output [4, d]. slopes holds one f32
  ;; per query head: its ALiBi slope, or zeros. bias, unless 0, holds per head 2 reach + 1 f32: its
  ;; relative bias for distances -reach .. reach (MPNet, model/relative-bias.ts). dis, unless 0, adds
  ;; DeBERTa's disentangled terms from rel and index (see $disentangled_row).
  (func (export "attention") (param $qkv i32) (param $ctx i32) (param $scratch i32) (param $S i32) (param $len i32)
    (param $heads i32) (param $kv_heads i32) (param $d i32) (param $window i32) (param $causal i32) (param $scale f32)
    (param $h0 i32) (param $h1 i32) (param $slopes i32) (param $bias i32) (param $reach i32) (param $rows i32)
    (param $rel i32) (param $index i32) (param $dis i32)
    (local $h i32) (local $i i32) (local $r i32) (local $j i32) (local $c i32) (local $p i32) (local $src i32) (local $dst i32)
    (local $rs i32) (local $ds i32) (local $hs i32) (local $kvs i32) (local $k0 i32) (local $v0 i32) (local $ls i32) (local $L i32)
    (local $kt i32) (local $qb i32) (local $sb i32) (local $ob i32) (local $last i32)
    (local $lo i32) (local $hi i32) (local $jb i32) (local $je i32)
    (local.set $ds (i32.shl (local.get $d) (i32.const 2)))
    (local.set $hs (i32.mul (local.get $heads) (local.get $ds)))
    (local.set $kvs (i32.mul (local.get $kv_heads) (local.get $ds)))
    (local.set $rs (i32.add (local.get $hs) (i32.shl (local.get $kvs) (i32.const 1))))
    (local.set $L (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -8)))
    (local.set $ls (i32.shl (local.get $L) (i32.const 2)))
    (local.set $kt (local.get $scratch))
    (local.set $qb (i32.add (local.get $kt) (i32.mul (local.get $d) (local.get $ls))))
    (local.set $sb (i32.add (local.get $qb) (i32.shl (local.get $ds) (i32.const 2))))
    (local.set $ob (i32.add (local.get $sb) (i32.shl (local.get $ls) (i32.const 2))))
    (if (i32.eqz (local.get $h0))
      (then
        (memory.fill
          (i32.add (local.get $ctx) (i32.mul (local.get $rows) (local.get $hs)))
          (i32.const 0)
          (i32.mul (i32.sub (local.get $S) (local.get $rows)) (local.get $hs)))))
    (local.set $h (local.get $h0))
    (block $heads_done
      (loop $heads_loop
        (br_if $heads_done (i32.ge_u (local.get $h) (local.get $h1)))
        ;; Byte offsets within a token row of this head's key and value.
        (local.set $k0 (i32.add (local.get $hs)
          (i32.mul (i32.div_u (local.get $h) (i32.div_u (local.get $heads) (local.get $kv_heads))) (local.get $ds))))
        (local.set $v0 (i32.add (local.get $k0) (local.get $kvs)))
        ;; Keys transposed; the padding columns are zeros, so their scores are finite (then masked).
        (local.set $j (i32.const 0))
        (block $done
          (loop $keys
            (br_if $done (i32.ge_u (local.get $j) (local.get $len)))
            (local.set $src (i32.add (i32.mul (local.get $j) (local.get $rs)) (i32.add (local.get $qkv) (local.get $k0))))
            (local.set $dst (i32.add (local.get $kt) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $p (i32.const 0))
            (block $dims_done
              (loop $dims
                (br_if $dims_done (i32.ge_u (local.get $p) (local.get $ds)))
                (f32.store (local.get $dst) (f32.load (i32.add (local.get $src) (local.get $p))))
                (local.set $dst (i32.add (local.get $dst) (local.get $ls)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $dims)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $keys)))
        (local.set $c (i32.const 0))
        (block $done
          (loop $dims
            (br_if $done (i32.ge_u (local.get $c) (local.get $d)))
            (memory.fill
              (i32.add (i32.add (local.get $kt) (i32.mul (local.get $c) (local.get $ls))) (i32.shl (local.get $len) (i32.const 2)))
              (i32.const 0)
              (i32.shl (i32.sub (local.get $L) (local.get $len)) (i32.const 2)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $dims)))
        (local.set $i (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $last (i32.sub (local.get $rows) (i32.const 1)))
            (local.set $r (i32.const 0))
            (block $done
              (loop $copy
                (br_if $done (i32.ge_u (local.get $r) (i32.const 4)))
                (memory.copy
                  (i32.add (local.get $qb) (i32.mul (local.get $r) (local.get $ds)))
                  (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $h) (local.get $ds)))
                    (i32.mul (select (i32.add (local.get $i) (local.get $r)) (local.get $last)
                      (i32.lt_u (i32.add (local.get $i) (local.get $r)) (local.get $last))) (local.get $rs)))
                  (local.get $ds))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $copy)))
            ;; The block's keys: from its first query's first (rounded down to 8) to its last
            ;; query's last (rounded up, within L).
            (local.set $last (select (i32.add (local.get $i) (i32.const 3)) (local.get $last)
              (i32.lt_u (i32.add (local.get $i) (i32.const 3)) (local.get $last))))
            (local.set $lo (call $first_key (local.get $i) (local.get $window)))
            (local.set $hi (call $end_key (local.get $last) (local.get $len) (local.get $window) (local.get $causal)))
            (local.set $jb (i32.and (local.get $lo) (i32.const -8)))
            (local.set $je (i32.and (i32.add (local.get $hi) (i32.const 7)) (i32.const -8)))
            (local.set $j (local.get $jb))
            (block $done
              (loop $keys
                (br_if $done (i32.ge_u (local.get $j) (local.get $je)))
                (call $mm4x8 (local.get $qb) (local.get $ds)
                  (i32.add (local.get $kt) (i32.shl (local.get $j) (i32.const 2))) (local.get $ls) (local.get $d)
                  (i32.add (local.get $sb) (i32.shl (local.get $j) (i32.const 2))) (local.get $ls))
                (local.set $j (i32.add (local.get $j) (i32.const 8)))
                (br $keys)))
            (if (local.get $dis)
              (then
                (local.set $r (i32.const 0))
                (block $done
                  (loop $terms
                    (br_if $done (i32.ge_u (local.get $r) (i32.const 4)))
                    (call $disentangled_row (i32.add (local.get $sb) (i32.mul (local.get $r) (local.get $ls)))
                      (local.get $jb) (local.get $je) (local.get $len)
                      (select (i32.add (local.get $i) (local.get $r)) (local.get $last)
                        (i32.lt_u (i32.add (local.get $i) (local.get $r)) (local.get $last)))
                      (i32.add (local.get $qb) (i32.mul (local.get $r) (local.get $ds)))
                      (local.get $qkv) (local.get $rs) (local.get $k0) (i32.mul (local.get $h) (local.get $ds))
                      (local.get $rel) (local.get $index) (local.get $dis) (local.get $ds))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br $terms)))))
            (local.set $r (i32.const 0))
            (block $done
              (loop $soft
                (br_if $done (i32.ge_u (local.get $r) (i32.const 4)))
                (local.set $p (select (i32.add (local.get $i) (local.get $r)) (local.get $last)
                  (i32.lt_u (i32.add (local.get $i) (local.get $r)) (local.get $last))))
                (call $softmax_row (i32.add (local.get $sb) (i32.mul (local.get $r) (local.get $ls))) (local.get $jb) (local.get $je)
                  (call $first_key (local.get $p) (local.get $window))
                  (call $end_key (local.get $p) (local.get $len) (local.get $window) (local.get $causal))
                  (local.get $scale) (local.get $p)
                  (f32.load (i32.add (local.get $slopes) (i32.shl (local.get $h) (i32.const 2))))
                  (select
                    (i32.add (local.get $bias) (i32.shl
                      (i32.add (i32.mul (local.get $h) (i32.add (i32.shl (local.get $reach) (i32.const 1)) (i32.const 1))) (local.get $reach))
                      (i32.const 2)))
                    (i32.const 0)
                    (local.get $bias))
                  (local.get $reach))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $soft)))
            ;; Weighted values over the block's keys [lo, hi): each row's weights are zero past its own.
            (local.set $src (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $lo) (local.get $rs))) (local.get $v0)))
            (local.set $c (i32.const 0))
            (block $done
              (loop $dims
                (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 8)) (local.get $d)))
                (call $mm4x8 (i32.add (local.get $sb) (i32.shl (local.get $lo) (i32.const 2))) (local.get $ls)
                  (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))) (local.get $rs)
                  (i32.sub (local.get $hi) (local.get $lo))
                  (i32.add (local.get $ob) (i32.shl (local.get $c) (i32.const 2))) (local.get $ds))
                (local.set $c (i32.add (local.get $c) (i32.const 8)))
                (br $dims)))
            ;; d % 8 dims left, one at a time.
            (block $done
              (loop $dims
                (br_if $done (i32.ge_u (local.get $c) (local.get $d)))
                (local.set $r (i32.const 0))
                (block $rows4_done
                  (loop $rows4
                    (br_if $rows4_done (i32.ge_u (local.get $r) (i32.const 4)))
                    (f32.store (i32.add (i32.add (local.get $ob) (i32.mul (local.get $r) (local.get $ds))) (i32.shl (local.get $c) (i32.const 2)))
                      (call $dot_strided
                        (i32.add (i32.add (local.get $sb) (i32.mul (local.get $r) (local.get $ls))) (i32.shl (local.get $lo) (i32.const 2)))
                        (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))) (local.get $rs)
                        (i32.sub (local.get $hi) (local.get $lo))))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br $rows4)))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $dims)))
            ;; The block's real rows to ctx.
            (local.set $r (i32.const 0))
            (block $done
              (loop $out
                (br_if $done (i32.ge_u (local.get $r) (select (i32.const 4) (i32.sub (local.get $rows) (local.get $i))
                  (i32.gt_u (i32.sub (local.get $rows) (local.get $i)) (i32.const 4)))))
                (memory.copy
                  (i32.add (i32.add (local.get $ctx) (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $hs))) (i32.mul (local.get $h) (local.get $ds)))
                  (i32.add (local.get $ob) (i32.mul (local.get $r) (local.get $ds)))
                  (local.get $ds))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $out)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $rows)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $heads_loop))))
)
