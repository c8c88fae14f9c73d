;; Multi-head softmax attention over one text of a batch, in f32 with 128-bit SIMD: the CPU
;; fallback's attention (shaders/attention.wgsl on the GPU). qkv holds S token rows of
;; [q (H) | k (H) | v (H)], H = heads * d; ctx gets S rows of H. Query i attends to the keys j
;; with |i - j| <= window and j < len (window >= len for global attention). Padding rows
;; (i >= len) get zeros: nothing reads them.
;; All pointers are byte offsets into the exported memory; the launcher (attention.ts) lays it out.
(module
  (import "env" "exp" (func $exp (param f64) (result f64)))
  (memory (export "memory") 1)

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; a[ap ..] . b[bp ..] over n floats.
  (func $dot (param $ap i32) (param $bp i32) (param $n i32) (result f32)
    (local $end i32) (local $end4 i32) (local $acc v128) (local $s f32)
    (local.set $end (i32.add (local.get $ap) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $ap) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $ap) (local.get $end4)))
        (local.set $acc (f32x4.add (local.get $acc)
          (f32x4.mul (v128.load align=4 (local.get $ap)) (v128.load align=4 (local.get $bp)))))
        (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
        (local.set $bp (i32.add (local.get $bp) (i32.const 16)))
        (br $vec)))
    (local.set $s (call $hsum (local.get $acc)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $ap) (local.get $end)))
        (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $ap)) (f32.load (local.get $bp)))))
        (local.set $ap (i32.add (local.get $ap) (i32.const 4)))
        (local.set $bp (i32.add (local.get $bp) (i32.const 4)))
        (br $tail)))
    (local.get $s))

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

  ;; scores: scratch for S floats.
  (func (export "attention") (param $qkv i32) (param $ctx i32) (param $scores i32) (param $S i32) (param $len i32)
    (param $heads i32) (param $d i32) (param $window i32) (param $scale f32)
    (local $h i32) (local $i i32) (local $j i32) (local $lo i32) (local $hi i32)
    (local $rs i32) (local $ds i32) (local $hs i32) (local $q i32) (local $o i32)
    (local $s f32) (local $max f32) (local $sum f32) (local $inv f32)
    (local.set $ds (i32.shl (local.get $d) (i32.const 2)))
    (local.set $hs (i32.mul (local.get $heads) (local.get $ds)))
    (local.set $rs (i32.mul (local.get $hs) (i32.const 3)))
    (memory.fill
      (i32.add (local.get $ctx) (i32.mul (local.get $len) (local.get $hs)))
      (i32.const 0)
      (i32.mul (i32.sub (local.get $S) (local.get $len)) (local.get $hs)))
    (block $heads_done
      (loop $heads_loop
        (br_if $heads_done (i32.ge_u (local.get $h) (local.get $heads)))
        (local.set $i (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $lo (select (i32.sub (local.get $i) (local.get $window)) (i32.const 0)
              (i32.gt_s (local.get $i) (local.get $window))))
            (local.set $hi (select (local.get $len) (i32.add (i32.add (local.get $i) (local.get $window)) (i32.const 1))
              (i32.ge_s (i32.add (local.get $i) (local.get $window)) (local.get $len))))
            (local.set $q (i32.add (i32.add (local.get $qkv) (i32.mul (local.get $i) (local.get $rs))) (i32.mul (local.get $h) (local.get $ds))))
            (local.set $max (f32.const -inf))
            (local.set $j (local.get $lo))
            (block $done
              (loop $keys
                (br_if $done (i32.ge_u (local.get $j) (local.get $hi)))
                (local.set $s (f32.mul (local.get $scale)
                  (call $dot (local.get $q)
                    (i32.add (i32.add (local.get $q) (i32.mul (i32.sub (local.get $j) (local.get $i)) (local.get $rs))) (local.get $hs))
                    (local.get $d))))
                (f32.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
                (local.set $max (f32.max (local.get $max) (local.get $s)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $keys)))
            (local.set $sum (f32.const 0))
            (local.set $j (local.get $lo))
            (block $done
              (loop $soft
                (br_if $done (i32.ge_u (local.get $j) (local.get $hi)))
                (local.set $s (f32.demote_f64 (call $exp (f64.promote_f32
                  (f32.sub (f32.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2)))) (local.get $max))))))
                (f32.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
                (local.set $sum (f32.add (local.get $sum) (local.get $s)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $soft)))
            (local.set $inv (f32.div (f32.const 1) (local.get $sum)))
            (local.set $o (i32.add (i32.add (local.get $ctx) (i32.mul (local.get $i) (local.get $hs))) (i32.mul (local.get $h) (local.get $ds))))
            (memory.fill (local.get $o) (i32.const 0) (local.get $ds))
            (local.set $j (local.get $lo))
            (block $done
              (loop $values
                (br_if $done (i32.ge_u (local.get $j) (local.get $hi)))
                (call $axpy (local.get $o)
                  (i32.add (i32.add (local.get $q) (i32.mul (i32.sub (local.get $j) (local.get $i)) (local.get $rs))) (i32.shl (local.get $hs) (i32.const 1)))
                  (f32.mul (f32.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2)))) (local.get $inv))
                  (local.get $d))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $values)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rows)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $heads_loop))))
)
