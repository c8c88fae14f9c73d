;; y[m, n] = x[m, :] . W[n, :] + b[n] in f32 with 128-bit SIMD: the CPU fallback's matmul.
;; Rows of x and W are contiguous along K, so every load is a run of 4 floats of both operands.
;; The kernel keeps a 4 x 2 block of outputs in 8 vector accumulators (plus 6 loaded vectors:
;; 14 of the 16 vector registers of x86-64 and fewer than arm64's 32), so each loaded vector is
;; used 2 to 4 times. Leftover rows, columns and K % 4 dims go through $dot.
;; All pointers are byte offsets into the exported memory; the launcher (matmul.ts) lays it out.
(module
  (memory (export "memory") 1)

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
)
