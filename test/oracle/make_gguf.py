#!/usr/bin/env python3
"""GGUF fixtures for m3web's GGUF reader: a small random BERT, a small random XLM-R, make_nomic.py's NomicBERT and
make_jina.py's JinaBERT v2 written as llama.cpp lays them out, and their PyTorch oracle.

Writes fixtures/gguf-bert/, fixtures/gguf-xlmr/, fixtures/gguf-nomic/ and fixtures/gguf-jina/ (see the "gguf-bert"
section of README.md next to this file).
fixtures/gguf-bert/:

  config.json, tokenizer.json, tokenizer_config.json   the model in Hugging Face form (tokenizer files: bert-tiny's)
  f16.gguf      2-D weights F16 (as `convert_hf_to_gguf.py --outtype f16`), general.file_type 1
  q8_0.gguf     2-D weights Q8_0 (as `convert_hf_to_gguf.py --outtype q8_0`), file_type 7
  q4_k_m.gguf   llama-quantize's Q4_K_M mix from f16.gguf (Q4_K; Q6_K for token_embd and use_more_bits layers of
                attn_v / ffn_down), file_type 15
  mixed.gguf    the 2-D weights cycle through Q4_0 Q4_1 Q5_0 Q5_1 Q5_K BF16 F32 Q8_0 Q6_K Q4_K, file_type 2
  lowbit.gguf   the 2-D weights cycle through Q2_K Q3_K IQ4_NL IQ4_XS, file_type 10 (these quantizers are plain
                absmax / min-max roundings, not llama-quantize's searches: the layouts are what is checked)
  expected.json texts, ids, the float64 oracle (mean pooling and CLS of the last layer, per-layer means) from the
                master float32 weights, and per file its tensor types and the oracle run on the weights that file
                stores (dequantized by this script's numpy dequantizers)

fixtures/gguf-xlmr/:

  config.json, tokenizer_config.json   the model in Hugging Face XLMRobertaModel form (for reference)
  sentencepiece.bpe.model, README.md   the vocabulary: google/sentencepiece's English test model (Unigram, 1,000
                pieces, Apache-2.0), copied from ../shared/data/tokenizers/sp_test_model.model
  f16.gguf, q8_0.gguf   as the converter writes an XLMRobertaModel (XLMRobertaModel._xlmroberta_set_vocab: the
                SentencePiece pieces realigned to transformers' fairseq ids, tokenizer.ggml.model "t5"; the position
                table without its first pad_token_id + 1 rows)
  expected.json the same oracle with transformers' XLM-R semantics (positions from pad_token_id + 1), ids from
                sentencepiece itself (+1, <s> ... </s>: what XLMRobertaTokenizer gives)

fixtures/gguf-nomic/:

  f16.gguf, q8_0.gguf   fixtures/nomic-tiny's weights (make_nomic.py) as the converter writes a NomicBertModel
                (architecture nomic-bert, rope.freq_base; fc11 -> ffn_up, fc12 -> ffn_gate; the vocabulary padded to
                config.json's vocab_size with UNUSED "[PADi]" tokens)
  expected.json nomic-tiny's texts and ids, the oracle by make_nomic.forward

fixtures/gguf-jina/:

  f16.gguf, q8_0.gguf   fixtures/jina-tiny's weights (make_jina.py) as the converter writes a JinaBertV2Model
                (architecture jina-bert-v2, no position table (ALiBi); mlp.gated_layers [2I, H] kept whole as one
                ffn_up of 2I rows, no ffn_gate; mlp.wo -> ffn_down, mlp.layernorm -> layer_output_norm)
  expected.json jina-tiny's texts and ids, the oracle by make_jina.forward

The layout follows llama.cpp's convert_hf_to_gguf.py (BertModel, MODEL_ARCH.BERT; NomicBertModel,
MODEL_ARCH.NOMIC_BERT; JinaBertV2Model, MODEL_ARCH.JINA_BERT_V2), gguf-py (constants.py,
gguf_writer.py, vocab.py SpecialVocab), llama-quant.cpp (Q4_K_M rules) and ggml (ggml-common.h block structs,
ggml-quants.c dequantize_row_*). Nothing of the gguf Python package is used: the writer, the quantizers and the
dequantizers are written here. test/oracle/gguf_llamacpp.mjs then runs llama.cpp itself on every file.

Run:  cd test/oracle && /usr/bin/python3 make_gguf.py      (numpy + torch; a few seconds; byte-identical on a rerun)
      (gguf-xlmr also needs the sentencepiece Python bindings: apt-get install python3-sentencepiece)
"""

import json
import math
import os
import shutil
import struct

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import make_jina as mj
import make_nomic as mn
import numpy as np
import post_norm_oracle as pno
import torch

NAME = "gguf-bert"
FOLDER = os.path.join(mf.OUT, NAME)
SEED = 20250601

# --------------------------------------------------------------------------------------------------
# ggml / gguf constants (gguf-py/gguf/constants.py)
# --------------------------------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32  # GGUF_DEFAULT_ALIGNMENT; the converter does not write general.alignment
GGML_QUANT_VERSION = 2

# GGUFValueType
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)

# GGMLQuantizationType: id, block size, bytes per block
GGML_TYPES = {
    "F32": (0, 1, 4),
    "F16": (1, 1, 2),
    "Q4_0": (2, 32, 18),
    "Q4_1": (3, 32, 20),
    "Q5_0": (6, 32, 22),
    "Q5_1": (7, 32, 24),
    "Q8_0": (8, 32, 34),
    "Q4_K": (12, 256, 144),
    "Q5_K": (13, 256, 176),
    "Q6_K": (14, 256, 210),
    "BF16": (30, 1, 2),
    "Q2_K": (10, 256, 84),
    "Q3_K": (11, 256, 110),
    "IQ4_NL": (20, 32, 18),
    "IQ4_XS": (23, 256, 136),
}

# LlamaFileType
FTYPE_MOSTLY_F16, FTYPE_MOSTLY_Q4_0, FTYPE_MOSTLY_Q8_0, FTYPE_MOSTLY_Q2_K, FTYPE_MOSTLY_Q4_K_M = 1, 2, 7, 10, 15

# TokenType
TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED, TOKEN_BYTE = 1, 2, 3, 4, 5, 6
POOLING_MEAN = 1

# --------------------------------------------------------------------------------------------------
# Quantizers and dequantizers (block structs of ggml-common.h, bit layouts of ggml-quants.c)
# --------------------------------------------------------------------------------------------------

F16 = np.dtype("<f2")


def f16(a):
    """float32 -> the float32 value of its float16 rounding (round to nearest even, as ggml's fp32_to_fp16)."""
    return np.asarray(a, np.float32).astype(F16).astype(np.float32)


def roundf(a):
    """C roundf: half away from zero (numpy's round is half to even)."""
    return np.trunc(a + np.copysign(0.5, a))


def safe_inv(d):
    out = np.zeros_like(d)
    np.divide(1.0, d, out=out, where=d != 0)
    return out


def signed_absmax(x):
    """Per row, the value with the largest magnitude, sign kept (first one on ties, as ggml's loops)."""
    return np.take_along_axis(x, np.abs(x).argmax(-1)[..., None], -1)[..., 0]


BLOCK_DTYPES = {
    "Q4_0": np.dtype([("d", F16), ("qs", "u1", 16)]),
    "Q4_1": np.dtype([("d", F16), ("m", F16), ("qs", "u1", 16)]),
    "Q5_0": np.dtype([("d", F16), ("qh", "<u4"), ("qs", "u1", 16)]),  # qh: uint8_t[4], read as a LE uint32
    "Q5_1": np.dtype([("d", F16), ("m", F16), ("qh", "<u4"), ("qs", "u1", 16)]),
    "Q8_0": np.dtype([("d", F16), ("qs", "i1", 32)]),
    "Q4_K": np.dtype([("d", F16), ("dmin", F16), ("scales", "u1", 12), ("qs", "u1", 128)]),
    "Q5_K": np.dtype([("d", F16), ("dmin", F16), ("scales", "u1", 12), ("qh", "u1", 32), ("qs", "u1", 128)]),
    "Q6_K": np.dtype([("ql", "u1", 128), ("qh", "u1", 64), ("scales", "i1", 16), ("d", F16)]),
    "Q2_K": np.dtype([("scales", "u1", 16), ("qs", "u1", 64), ("d", F16), ("dmin", F16)]),
    "Q3_K": np.dtype([("hmask", "u1", 32), ("qs", "u1", 64), ("scales", "u1", 12), ("d", F16)]),
    "IQ4_NL": np.dtype([("d", F16), ("qs", "u1", 16)]),
    "IQ4_XS": np.dtype([("d", F16), ("scales_h", "<u2"), ("scales_l", "u1", 4), ("qs", "u1", 128)]),
}
# ggml-common.h kvalues_iq4nl: the non-linear 4-bit grid of IQ4_NL and IQ4_XS
KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float32)
for _t, _dt in BLOCK_DTYPES.items():
    assert _dt.itemsize == GGML_TYPES[_t][2], (_t, _dt.itemsize)


def nibbles(lo, hi):
    return (lo.astype(np.uint8) & 15) | ((hi.astype(np.uint8) & 15) << 4)


def q_legacy(x, levels, symmetric):
    """Q4_0 / Q5_0 (symmetric: d = signed absmax / -levels/2, q = x/d + levels/2) and Q4_1 / Q5_1 (min/max:
    d = (max - min) / (levels - 1), q = (x - min) / d). x: [nblocks, 32]. Returns d, m (or None), q as ints."""
    if symmetric:
        half = levels // 2
        d = f16(signed_absmax(x) / -half)
        q = np.clip(np.floor(x * safe_inv(d)[:, None] + half + 0.5), 0, levels - 1)
        return d, None, q.astype(np.int64)
    mn, mx = x.min(1), x.max(1)
    d = f16((mx - mn) / (levels - 1))
    m = f16(mn)
    q = np.clip(roundf((x - m[:, None]) * safe_inv(d)[:, None]), 0, levels - 1)
    return d, m, q.astype(np.int64)


def qh_bits(q):
    """Q5_0 / Q5_1 high bits: bit j of qh is bit 4 of element j (elements 0..31)."""
    bits = (q >> 4) & 1
    return (bits.astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(1).astype(np.uint32)


def pack_scales_k4(ls, lm):
    """Inverse of ggml's get_scale_min_k4: 8 six-bit scales and mins in 12 bytes. ls, lm: [nb, 8]."""
    s = np.zeros((ls.shape[0], 12), np.uint8)
    s[:, 0:4] = (ls[:, 0:4] & 63) | ((ls[:, 4:8] >> 4) << 6)
    s[:, 4:8] = (lm[:, 0:4] & 63) | ((lm[:, 4:8] >> 4) << 6)
    s[:, 8:12] = (ls[:, 4:8] & 15) | ((lm[:, 4:8] & 15) << 4)
    return s


def unpack_scales_k4(s):
    s = s.astype(np.int64)
    ls = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)], 1)
    lm = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], 1)
    return ls, lm


def q_k_minmax(x, levels):
    """Q4_K / Q5_K: 8 sub-blocks of 32, each x = d*ls*q - dmin*lm with 6-bit ls, lm (min clamped to <= 0, as
    ggml's make_qkx). x: [nb, 256]. Returns d, dmin, ls, lm, q [nb, 8, 32]."""
    sub = x.reshape(-1, 8, 32)
    mn = np.minimum(sub.min(2), 0.0)
    scale = (sub.max(2) - mn) / (levels - 1)
    mins = -mn
    d = f16(scale.max(1) / 63)
    dmin = f16(mins.max(1) / 63)
    ls = np.clip(roundf(scale * safe_inv(d)[:, None]), 0, 63).astype(np.int64)
    lm = np.clip(roundf(mins * safe_inv(dmin)[:, None]), 0, 63).astype(np.int64)
    sd = d[:, None] * ls
    sm = dmin[:, None] * lm
    q = np.clip(roundf((sub + sm[:, :, None]) * safe_inv(sd)[:, :, None]), 0, levels - 1).astype(np.int64)
    return d, dmin, ls, lm, q


def nearest_iq4(v):
    """Index of the KVALUES_IQ4NL entry nearest each value (the lower one on ties)."""
    return np.abs(v[..., None] - KVALUES_IQ4NL).argmin(-1)


def crumbs(q):
    """2-bit values of a 256-block [nb, 256] packed as Q2_K / Q3_K lay them: byte 32n + l holds, at bits 2j, value
    128n + 32j + l (ggml's dequantize loops: n over the two halves, shift 2j, l over 32 bytes)."""
    q = q.reshape(-1, 2, 4, 32).astype(np.uint8)
    return (q << (2 * np.arange(4, dtype=np.uint8))[None, None, :, None]).sum(2).astype(np.uint8).reshape(-1, 64)


def pack_scales_q3(u):
    """16 six-bit scales [nb, 16] in Q3_K's 12 bytes: low nibbles of 0-7 in bytes 0-7, of 8-15 in their high
    nibbles, the top two bits of scale s in byte 8 + s % 4 at bits 2 (s // 4)."""
    out = np.zeros((u.shape[0], 12), np.uint8)
    out[:, 0:8] = (u[:, 0:8] & 15) | ((u[:, 8:16] & 15) << 4)
    top = (u >> 4) & 3
    out[:, 8:12] = top[:, 0:4] | (top[:, 4:8] << 2) | (top[:, 8:12] << 4) | (top[:, 12:16] << 6)
    return out


def quantize(x, t):
    """x: float32 [rows, cols] (cols = ne[0]); returns the bytes ggml stores for type t, row-major."""
    x = np.ascontiguousarray(x, np.float32)
    if t == "F32":
        return x.astype("<f4").tobytes()
    if t == "F16":
        return x.astype(F16).tobytes()
    if t == "BF16":  # ggml_compute_fp32_to_bf16: round to nearest even (no NaN here)
        u = x.view(np.uint32).astype(np.uint64)
        assert np.isfinite(x).all()
        return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes()
    _, bs, _ = GGML_TYPES[t]
    assert x.shape[-1] % bs == 0, (t, x.shape)
    xb = x.reshape(-1, bs)
    out = np.zeros(len(xb), BLOCK_DTYPES[t])
    if t == "Q8_0":  # gguf-py quants.py Q8_0 / ggml quantize_row_q8_0_ref
        d = np.abs(xb).max(1) / 127
        out["qs"] = roundf(xb * safe_inv(d)[:, None])
        out["d"] = d
    elif t in ("Q4_0", "Q5_0", "Q4_1", "Q5_1"):
        levels = 16 if t[1] == "4" else 32
        d, m, q = q_legacy(xb, levels, t.endswith("_0"))
        out["d"] = d
        if m is not None:
            out["m"] = m
        out["qs"] = nibbles(q[:, :16], q[:, 16:])
        if levels == 32:
            out["qh"] = qh_bits(q)
    elif t in ("Q4_K", "Q5_K"):
        d, dmin, ls, lm, q = q_k_minmax(xb, 16 if t == "Q4_K" else 32)
        out["d"], out["dmin"], out["scales"] = d, dmin, pack_scales_k4(ls, lm)
        # qs[32k + l]: sub-block 2k in the low nibble, 2k+1 in the high nibble
        out["qs"] = nibbles(q[:, 0::2, :], q[:, 1::2, :]).reshape(-1, 128)
        if t == "Q5_K":  # qh[l] bit 2k / 2k+1: bit 4 of sub-block 2k / 2k+1, element l
            hb = ((q >> 4) & 1).astype(np.uint8)  # [nb, 8, 32]
            out["qh"] = (hb << np.arange(8, dtype=np.uint8)[None, :, None]).sum(1).astype(np.uint8)
    elif t == "Q6_K":
        sub = xb.reshape(-1, 16, 16)
        s = signed_absmax(sub) / -32  # per 16: x = s * q, q in [-32, 31]
        d = f16(signed_absmax(s) / -128)
        sc = np.clip(roundf(s * safe_inv(d)[:, None]), -128, 127).astype(np.int64)
        eff = d[:, None] * sc
        L = (np.clip(roundf(sub * safe_inv(eff)[:, :, None]), -32, 31) + 32).astype(np.int64).reshape(-1, 256)
        ql = np.zeros((len(xb), 128), np.uint8)
        qh = np.zeros((len(xb), 64), np.uint8)
        for n in range(2):  # two halves of 128 elements
            a, b, c, e = (L[:, 128 * n + 32 * k : 128 * n + 32 * k + 32] for k in range(4))
            ql[:, 64 * n : 64 * n + 32] = nibbles(a, c)
            ql[:, 64 * n + 32 : 64 * n + 64] = nibbles(b, e)
            qh[:, 32 * n : 32 * n + 32] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6)
        out["ql"], out["qh"], out["scales"], out["d"] = ql, qh, sc, d
    elif t == "Q2_K":  # 16 sub-blocks of 16: x = d*sc*q - dmin*m, 4-bit sc and m, q in 0..3
        sub = xb.reshape(-1, 16, 16)
        mn = np.minimum(sub.min(2), 0.0)
        scale = (sub.max(2) - mn) / 3
        d = f16(scale.max(1) / 15)
        dmin = f16((-mn).max(1) / 15)
        sc = np.clip(roundf(scale * safe_inv(d)[:, None]), 0, 15).astype(np.int64)
        m = np.clip(roundf(-mn * safe_inv(dmin)[:, None]), 0, 15).astype(np.int64)
        eff = d[:, None] * sc
        q = np.clip(roundf((sub + (dmin[:, None] * m)[:, :, None]) * safe_inv(eff)[:, :, None]), 0, 3)
        out["scales"], out["d"], out["dmin"] = sc | (m << 4), d, dmin
        out["qs"] = crumbs(q.reshape(-1, 256).astype(np.int64))
    elif t == "Q3_K":  # 16 sub-blocks of 16: x = d*(u-32)*q, 6-bit u, q in -4..3 (high bit in hmask)
        sub = xb.reshape(-1, 16, 16)
        sv = signed_absmax(sub) / -4
        d = f16(signed_absmax(sv) / -32)
        sc = np.clip(roundf(sv * safe_inv(d)[:, None]), -32, 31).astype(np.int64)
        eff = d[:, None] * sc
        L = (np.clip(roundf(sub * safe_inv(eff)[:, :, None]), -4, 3) + 4).astype(np.int64).reshape(-1, 256)
        high = (L > 3).astype(np.uint8).reshape(-1, 8, 32)  # element 32k + l -> hmask[l] bit k
        out["hmask"] = (high << np.arange(8, dtype=np.uint8)[None, :, None]).sum(1).astype(np.uint8)
        out["qs"] = crumbs(L & 3)
        out["scales"], out["d"] = pack_scales_q3(sc + 32), d
    elif t == "IQ4_NL":  # x = d * kvalues[q]
        d = f16(signed_absmax(xb) / -127)
        q = nearest_iq4(xb * safe_inv(d)[:, None])
        out["d"], out["qs"] = d, nibbles(q[:, :16], q[:, 16:])
    elif t == "IQ4_XS":  # 8 sub-blocks of 32: x = d*(u-32)*kvalues[q], 6-bit u
        sub = xb.reshape(-1, 8, 32)
        sv = signed_absmax(sub) / -127
        d = f16(signed_absmax(sv) / -32)
        u = np.clip(roundf(sv * safe_inv(d)[:, None]), -32, 31).astype(np.int64) + 32
        q = nearest_iq4(sub * safe_inv(d[:, None] * (u - 32))[:, :, None])
        out["d"] = d
        out["scales_l"] = (u[:, 0::2] & 15) | ((u[:, 1::2] & 15) << 4)
        out["scales_h"] = ((u >> 4) << (2 * np.arange(8))).sum(1)
        out["qs"] = nibbles(q[:, :, :16], q[:, :, 16:]).reshape(-1, 128)
    else:
        raise ValueError(t)
    return out.tobytes()


def dequantize(buf, t, shape):
    """Bytes of type t -> float32 [*shape], written from ggml's dequantize_row_* (independently of quantize)."""
    n = int(np.prod(shape))
    if t == "F32":
        return np.frombuffer(buf, "<f4").reshape(shape).astype(np.float32)
    if t == "F16":
        return np.frombuffer(buf, F16).astype(np.float32).reshape(shape)
    if t == "BF16":
        return (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    b = np.frombuffer(buf, BLOCK_DTYPES[t])
    assert len(b) * GGML_TYPES[t][1] == n, (t, len(b), shape)
    f = lambda a: a.astype(np.float32)  # noqa: E731
    if t == "Q8_0":
        y = f(b["d"])[:, None] * b["qs"].astype(np.float32)
    elif t in ("Q4_0", "Q4_1", "Q5_0", "Q5_1"):
        qs = b["qs"].astype(np.int32)
        lo, hi = qs & 0x0F, qs >> 4
        if t.startswith("Q5"):
            qh = b["qh"].astype(np.int64)[:, None]
            j = np.arange(16)
            lo = lo | (((qh >> j) << 4) & 0x10)  # xh_0 = ((qh >> (j + 0)) << 4) & 0x10
            hi = hi | ((qh >> (j + 12)) & 0x10)  # xh_1 = ((qh >> (j + 12))     ) & 0x10
        q = np.concatenate([lo, hi], 1).astype(np.float32)  # y[j] = lo, y[j + 16] = hi
        if t.endswith("_0"):
            y = (q - (8 if t == "Q4_0" else 16)) * f(b["d"])[:, None]
        else:
            y = q * f(b["d"])[:, None] + f(b["m"])[:, None]
    elif t in ("Q4_K", "Q5_K"):
        ls, lm = unpack_scales_k4(b["scales"])
        d1 = f(b["d"])[:, None] * ls  # [nb, 8]
        m1 = f(b["dmin"])[:, None] * lm
        qs = b["qs"].reshape(-1, 4, 32).astype(np.int32)  # j = 0, 64, 128, 192: 32 bytes each
        q = np.stack([qs & 0xF, qs >> 4], 2).reshape(-1, 8, 32)  # sub-block 2k: low nibbles, 2k+1: high
        if t == "Q5_K":
            qh = b["qh"].astype(np.int32)[:, None, :]  # [nb, 1, 32]
            q = q + ((qh >> np.arange(8)[None, :, None]) & 1) * 16  # u1 = 1 << 2k, u2 = 2 << 2k
        y = (d1[:, :, None] * q - m1[:, :, None]).reshape(-1, 256)
    elif t == "Q6_K":
        ql = b["ql"].astype(np.int32).reshape(-1, 2, 64)
        qh = b["qh"].astype(np.int32).reshape(-1, 2, 32)
        q1 = (ql[:, :, 0:32] & 0xF) | (((qh >> 0) & 3) << 4)
        q2 = (ql[:, :, 32:64] & 0xF) | (((qh >> 2) & 3) << 4)
        q3 = (ql[:, :, 0:32] >> 4) | (((qh >> 4) & 3) << 4)
        q4 = (ql[:, :, 32:64] >> 4) | (((qh >> 6) & 3) << 4)
        q = np.concatenate([q1, q2, q3, q4], 2).reshape(-1, 256) - 32  # y[l], y[l+32], y[l+64], y[l+96]
        sc = np.repeat(b["scales"].astype(np.float32), 16, 1)  # scale k covers elements 16k .. 16k+15
        y = f(b["d"])[:, None] * sc * q
    elif t in ("Q2_K", "Q3_K"):
        # value 128n + 32j + l: bits 2j of qs[32n + l]; its sub-block (scale) (128n + 32j + l) // 16
        e = np.arange(256)
        n, j, l = e // 128, (e % 128) // 32, e % 32
        q = (b["qs"][:, 32 * n + l].astype(np.int32) >> (2 * j)) & 3
        if t == "Q2_K":
            sc = b["scales"][:, e // 16].astype(np.float32)
            y = f(b["d"])[:, None] * (sc % 16) * q - f(b["dmin"])[:, None] * (sc // 16)
        else:
            # the C reassembles the 12 scale bytes as four uint32 words; per scale s that is: low four bits from
            # byte s % 8 (its low nibble for s < 8, high nibble after), top two from byte 8 + s % 4 at 2 (s // 4)
            sb = b["scales"].astype(np.int32)
            s16 = np.arange(16)
            low = np.where(s16 < 8, sb[:, s16 % 8] & 15, sb[:, s16 % 8] >> 4)
            top = (sb[:, 8 + s16 % 4] >> (2 * (s16 // 4))) & 3
            scales = (low | (top << 4)) - 32
            m = (b["hmask"][:, l].astype(np.int32) >> (4 * n + j)) & 1  # m = 1 << (4n + j) in the loops
            y = f(b["d"])[:, None] * scales[:, e // 16] * (q - np.where(m == 1, 0, 4))
    elif t == "IQ4_NL":
        qs = b["qs"].astype(np.int32)
        y = f(b["d"])[:, None] * KVALUES_IQ4NL[np.concatenate([qs & 15, qs >> 4], 1)]
    elif t == "IQ4_XS":
        ib = np.arange(8)
        ls = ((b["scales_l"][:, ib // 2].astype(np.int32) >> (4 * (ib % 2))) & 15) | (
            ((b["scales_h"].astype(np.int32)[:, None] >> (2 * ib)) & 3) << 4)
        dl = f(b["d"])[:, None] * (ls - 32)  # [nb, 8]
        qs = b["qs"].astype(np.int32).reshape(-1, 8, 16)
        y = (dl[:, :, None] * KVALUES_IQ4NL[np.concatenate([qs & 15, qs >> 4], 2)]).reshape(-1, 256)
    else:
        raise ValueError(t)
    return y.reshape(shape).astype(np.float32)


# dequantize(quantize(x)) must stay this close to x (relative Frobenius error on Gaussian rows), per type
ROUNDTRIP_BOUND = {"F32": 0.0, "F16": 1e-3, "BF16": 5e-3, "Q8_0": 0.01, "Q6_K": 0.03, "Q5_0": 0.05, "Q5_1": 0.04,
                   "Q5_K": 0.04, "Q4_0": 0.1, "Q4_1": 0.1, "Q4_K": 0.1, "IQ4_NL": 0.1, "IQ4_XS": 0.1, "Q3_K": 0.18,
                   "Q2_K": 0.35}


def roundtrip_checks():
    """Each type on Gaussian data and on rows with an offset, a zero block and one outlier: the relative error is
    under its bound, and a second quantization of the dequantized values gives the same bytes (the encoding is
    stable), so layout slips between the two halves show up here before llama.cpp sees the files."""
    rs = np.random.RandomState(7)
    x = rs.standard_normal((8, 512)).astype(np.float32)
    x[1] += 3.0
    x[2, :256] = 0.0
    x[3, 17] = 40.0
    x[4] *= 1e-3
    errs = {}
    for t in GGML_TYPES:
        y = dequantize(quantize(x, t), t, x.shape)
        rel = float(np.linalg.norm(y - x) / np.linalg.norm(x))
        assert rel <= ROUNDTRIP_BOUND[t], (t, rel)
        if t not in ("F32", "F16", "BF16"):
            g = rs.standard_normal((4, 512)).astype(np.float32)
            relg = float(np.linalg.norm(dequantize(quantize(g, t), t, g.shape) - g) / np.linalg.norm(g))
            assert relg <= ROUNDTRIP_BOUND[t], (t, relg)
        assert np.all(y[2, :256] == 0), t
        errs[t] = rel
    return errs


# --------------------------------------------------------------------------------------------------
# GGUF writer (gguf-py/gguf/gguf_writer.py layout)
# --------------------------------------------------------------------------------------------------

SCALAR_FMT = {UINT8: "B", INT8: "b", UINT16: "H", INT16: "h", UINT32: "I", INT32: "i", FLOAT32: "f", BOOL: "?",
              UINT64: "Q", INT64: "q", FLOAT64: "d"}


def pack_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def pack_value(vtype, value, sub=None):
    if vtype in SCALAR_FMT:
        return struct.pack("<" + SCALAR_FMT[vtype], value)
    if vtype == STRING:
        return pack_str(value)
    if vtype == ARRAY:
        if isinstance(value, bytes):  # gguf_writer: a bytes value is an array of UINT8
            assert sub == UINT8
            return struct.pack("<IQ", sub, len(value)) + value
        return struct.pack("<IQ", sub, len(value)) + b"".join(pack_value(sub, v) for v in value)
    raise ValueError(vtype)


def pad(n):
    return (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT


def write_gguf(path, kvs, tensors):
    """kvs: [(key, vtype, value[, subtype])]; tensors: [(name, ggml type name, numpy shape, bytes)]. Header, KVs,
    tensor infos (dims reversed: ne[0] = numpy's last axis; offsets relative to the data section, each a
    multiple of 32), zero padding to 32, then each tensor's bytes padded to 32."""
    out = bytearray(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(kvs)))
    for kv in kvs:
        key, vtype, value = kv[:3]
        out += pack_str(key) + struct.pack("<I", vtype) + pack_value(vtype, value, kv[3] if len(kv) > 3 else None)
    offset = 0
    for name, t, shape, data in tensors:
        tid, bs, bb = GGML_TYPES[t]
        assert shape[-1] % bs == 0 and len(data) == int(np.prod(shape)) // bs * bb, (name, t, shape, len(data))
        out += pack_str(name) + struct.pack("<I", len(shape))
        out += b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += struct.pack("<IQ", tid, offset)
        offset += len(data) + pad(len(data))
    out += b"\0" * pad(len(out))
    for _, _, _, data in tensors:
        out += data + b"\0" * pad(len(data))
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


def read_back(path):
    """Parses a written file again (independently of write_gguf): KVs through make_fixtures.read_gguf_kv, then the
    tensor infos; checks the alignment of every offset and of the data section and the file's length. Returns
    the KVs and name -> (type name, numpy shape, bytes)."""
    kv = mf.read_gguf_kv(path)
    with open(path, "rb") as f:
        buf = f.read()
    o = 24
    for _ in range(struct.unpack_from("<Q", buf, 16)[0]):  # skip the KVs again to find the tensor infos
        o += 8 + struct.unpack_from("<Q", buf, o)[0]
        vtype = struct.unpack_from("<I", buf, o)[0]
        o += 4
        o = skip_value(buf, o, vtype)
    by_id = {v[0]: k for k, v in GGML_TYPES.items()}
    infos = []
    for _ in range(struct.unpack_from("<Q", buf, 8)[0]):
        n = struct.unpack_from("<Q", buf, o)[0]
        name = buf[o + 8 : o + 8 + n].decode()
        o += 8 + n
        nd = struct.unpack_from("<I", buf, o)[0]
        dims = struct.unpack_from(f"<{nd}Q", buf, o + 4)
        tid, off = struct.unpack_from("<IQ", buf, o + 4 + 8 * nd)
        o += 4 + 8 * nd + 12
        assert off % ALIGNMENT == 0, (name, off)
        infos.append((name, by_id[tid], tuple(reversed(dims)), off))
    start = o + pad(o)
    tensors, end = {}, start
    for name, t, shape, off in infos:
        _, bs, bb = GGML_TYPES[t]
        size = int(np.prod(shape)) // bs * bb
        tensors[name] = (t, shape, buf[start + off : start + off + size])
        end = max(end, start + off + size + pad(size))
    assert end == len(buf), (path, end, len(buf))
    return kv, tensors


def skip_value(buf, o, vtype):
    if vtype in SCALAR_FMT:
        return o + struct.calcsize("<" + SCALAR_FMT[vtype])
    if vtype == STRING:
        return o + 8 + struct.unpack_from("<Q", buf, o)[0]
    sub, n = struct.unpack_from("<IQ", buf, o)
    o += 12
    for _ in range(n):
        o = skip_value(buf, o, sub)
    return o


# --------------------------------------------------------------------------------------------------
# The model: config, weights, HF -> GGUF names
# --------------------------------------------------------------------------------------------------

H, LAYERS, HEADS, INTER, MAXPOS, TYPES, EPS = 256, 2, 4, 512, 128, 2, 1e-12


def config(vocab_size, arch="BertModel", model_type="bert", maxpos=MAXPOS, types=TYPES, eps=EPS, pad=0,
           **token_ids):
    """config.json of a BertModel (transformers' layout); the arguments give xlmr_config's fields, token_ids its
    bos_token_id / eos_token_id (written after pad_token_id, where transformers writes them)."""
    return {
        "architectures": [arch],
        "model_type": model_type,
        "vocab_size": vocab_size,
        "hidden_size": H,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": INTER,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": maxpos,
        "type_vocab_size": types,
        "initializer_range": 0.02,
        "layer_norm_eps": eps,
        "pad_token_id": pad,
        **token_ids,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def make_weights(vocab_size, types=TYPES, maxpos=MAXPOS, seed=SEED):
    """HF BertModel state dict (no "bert." prefix), float32. Standard deviations: make_fixtures.BERT_STD, scaled
    by sqrt(fan-in of bert-tiny / fan-in here) for the matrices, so that logits and activations have the sizes
    they have in bert-tiny (hidden 48, intermediate 120). XLMRobertaModel's state dict has the same names."""
    r_h, r_i = math.sqrt(48 / H), math.sqrt(120 / INTER)
    std = dict(mf.BERT_STD)
    std.update(qk=std["qk"] * r_h, v=std["v"] * r_h, o=std["o"] * r_h, ffn_in=std["ffn_in"] * r_h,
               ffn_out=std["ffn_out"] * r_i)
    rw = pno.RandomWeights(seed, H)
    rw.embeddings("", vocab_size, types, std, "embeddings.LayerNorm")
    rw.normal("embeddings.position_embeddings.weight", (maxpos, H), std["emb"])
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        rw.lin(p + "attention.self.query", H, H, std["qk"])
        rw.lin(p + "attention.self.key", H, H, std["qk"])
        rw.lin(p + "attention.self.value", H, H, std["v"])
        rw.lin(p + "attention.output.dense", H, H, std["o"])
        rw.ln(p + "attention.output.LayerNorm")
        rw.lin(p + "intermediate.dense", INTER, H, std["ffn_in"])
        rw.lin(p + "output.dense", H, INTER, std["ffn_out"])
        rw.ln(p + "output.LayerNorm")
    rw.lin("pooler.dense", H, H, 0.2)  # in the checkpoint, not in the GGUF (the converter drops the pooler)
    return {n: a.astype(np.float32) for n, a in rw.w}


def mapped_name(hf, fixed, layer, layers):
    """HF -> GGUF tensor name: fixed maps modules outside the layers, layer those in <layers>.<i> (layers: the
    dotted path of the layer list, "encoder.layer", "encoder.layers" or the decoders' "layers")."""
    base, suffix = hf.rsplit(".", 1)
    if base in fixed:
        return f"{fixed[base]}.{suffix}"
    assert base.startswith(layers + "."), hf
    i, module = base[len(layers) + 1 :].split(".", 1)
    return f"blk.{i}.{layer[module]}.{suffix}"


def gguf_name(hf):
    """convert_hf_to_gguf.py's mapping for MODEL_ARCH.BERT (gguf-py tensor_mapping / constants TENSOR_NAMES)."""
    fixed = {
        "embeddings.word_embeddings": "token_embd",
        "embeddings.token_type_embeddings": "token_types",
        "embeddings.position_embeddings": "position_embd",
        "embeddings.LayerNorm": "token_embd_norm",
    }
    layer = {
        "attention.self.query": "attn_q",
        "attention.self.key": "attn_k",
        "attention.self.value": "attn_v",
        "attention.output.dense": "attn_output",
        "attention.output.LayerNorm": "attn_output_norm",
        "intermediate.dense": "ffn_up",
        "output.dense": "ffn_down",
        "output.LayerNorm": "layer_output_norm",
    }
    return mapped_name(hf, fixed, layer, "encoder.layer")


def gguf_tensors(W, name=gguf_name):
    """(HF name, GGUF name, float32 array) in the converter's order: the safetensors keys sorted (safe_open.keys(),
    gguf-py's SafetensorsLocal), the pooler and position_ids left out. name: the HF -> GGUF mapping."""
    return [(n, name(n), W[n]) for n in sorted(W) if not n.startswith("pooler.")]


def f32_always(gname, arr):
    """convert_hf_to_gguf.py prepare_tensors: 1-D tensors, *_norm.weight, biases, POS_EMBD and TOKEN_TYPES stay F32
    (llama-quantize leaves position_embd and token_types unquantized too)."""
    return arr.ndim == 1 or not gname.endswith(".weight") or gname.endswith("_norm.weight") or gname in (
        "position_embd.weight", "token_types.weight")


def use_more_bits(i_layer, n_layers):  # llama-quant.cpp
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


MIXED_CYCLE = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q5_K", "BF16", "F32", "Q8_0", "Q6_K", "Q4_K"]
# the 2- and 3-bit K-quants and the non-linear 4-bit types (what Q2_K, Q3_K_* and IQ4_XS / IQ4_NL files hold)
LOWBIT_CYCLE = ["Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS"]


def tensor_types(tensors, kind):
    """GGUF name -> ggml type for one file kind."""
    types, k = {}, 0
    for _, g, a in tensors:
        if f32_always(g, a):
            types[g] = "F32"
        elif kind == "f16":
            types[g] = "F16"
        elif kind == "q8_0":
            types[g] = "Q8_0"
        elif kind == "q4_k_m":  # llama_tensor_get_type for LLAMA_FTYPE_MOSTLY_Q4_K_M; BERT has no output.weight
            bid = int(g.split(".")[1]) if g.startswith("blk.") else None
            more = (g == "token_embd.weight" or (g.endswith(("attn_v.weight", "ffn_down.weight"))
                                                  and use_more_bits(bid, LAYERS)))
            types[g] = "Q6_K" if more else "Q4_K"
        elif kind in ("mixed", "lowbit"):  # in the order of the file
            cycle = MIXED_CYCLE if kind == "mixed" else LOWBIT_CYCLE
            types[g] = cycle[k % len(cycle)]
            k += 1
    return types


# --------------------------------------------------------------------------------------------------
# Metadata (what convert_hf_to_gguf.py's BertModel and SpecialVocab write for this checkpoint)
# --------------------------------------------------------------------------------------------------


def size_label(n):  # gguf-py utility.model_weight_count_rounded_notation (no experts)
    scaled, suffix = (n * 1e-6, "M") if n > 1e6 else (n * 1e-3, "K")
    fix = max(2 - len(str(round(scaled)).lstrip("0")), 0)
    return f"{scaled:.{fix}f}{suffix}"


def kv_head(arch, name, n_params, blocks, context, width, ffn, heads):
    """The KVs every converted file starts with: general.architecture (GGUFWriter), general.type / name /
    size_label (prepare_metadata), then TextModel.set_gguf_parameters' block_count, context_length,
    embedding_length, feed_forward_length and attention.head_count under the architecture's prefix."""
    a = arch
    return [
        ("general.architecture", STRING, a),
        ("general.type", STRING, "model"),
        ("general.name", STRING, name),
        ("general.size_label", STRING, size_label(n_params)),
        (f"{a}.block_count", UINT32, blocks),
        (f"{a}.context_length", UINT32, context),
        (f"{a}.embedding_length", UINT32, width),
        (f"{a}.feed_forward_length", UINT32, ffn),
        (f"{a}.attention.head_count", UINT32, heads),
    ]


# SpecialVocab.add_to_gguf: the gguf_writer key of each special token type (cls has none: skipped)
ID_KEYS = {"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
           "pad": "padding_token_id", "mask": "mask_token_id", "eot": "eot_token_id"}


def special_kvs(ids, add):
    """SpecialVocab.add_to_gguf: the special ids ({type: id}, in their order; types without a key skipped), then the
    add flags ({type: flag})."""
    return [
        *[(f"tokenizer.ggml.{ID_KEYS[t]}", UINT32, i) for t, i in ids.items() if t in ID_KEYS],
        *[(f"tokenizer.ggml.add_{t}_token", BOOL, v) for t, v in add.items()],
    ]


def vocab_metadata(tok_json, tok_cfg, n_vocab=None, types=TYPES):
    """tokenizer.ggml.* as BertModel.set_vocab + SpecialVocab write them for a WordPiece tokenizer.json. n_vocab:
    config.json's vocab_size where it is larger than the tokenizer's vocabulary (NomicBERT pads its table to a
    multiple of 8): get_vocab_base fills ids the tokenizer lacks with "[PAD<id>]", UNUSED; types: type_vocab_size."""
    vocab = tok_json["model"]["vocab"]
    inv = {i: t for t, i in vocab.items()}
    assert sorted(inv) == list(range(len(vocab)))
    n_vocab = len(vocab) if n_vocab is None else n_vocab
    assert n_vocab >= len(vocab)
    inv.update({i: f"[PAD{i}]" for i in range(len(vocab), n_vocab)})
    added = {a["content"]: a for a in tok_json["added_tokens"]}
    special = {t for t, a in added.items() if a["special"]}
    # get_vocab_base: added special tokens are CONTROL, ids the tokenizer has no token for UNUSED, every other token
    # NORMAL (no USER_DEFINED here)
    toktypes = [TOKEN_CONTROL if inv[i] in special else TOKEN_NORMAL if i < len(vocab) else TOKEN_UNUSED
                for i in range(n_vocab)]

    def phantom(tok, tt):  # BertModel.set_vocab: "convert to phantom space vocab" (UNUSED "[PADi]" too: "▁[PADi]")
        if tt == TOKEN_CONTROL:
            return tok
        if tok.startswith("##"):
            return tok[2:]
        return "\u2581" + tok

    tokens = [phantom(inv[i], toktypes[i]) for i in range(n_vocab)]
    assert len(set(tokens)) == len(tokens), "phantom-space transform made duplicate tokens"
    # SpecialVocab._try_load_from_tokenizer_json: no bos/eos in tokenizer_config -> bos = cls, eos = sep; the
    # TemplateProcessing single [CLS] $A [SEP] gives add_bos = add_eos = true, the pair [CLS] $A [SEP] $B [SEP]
    # gives add_sep = false. The ids: bos, eos, unk, sep, pad, (cls: no handler in gguf_writer, skipped), mask.
    cfg = dict(tok_cfg)
    cfg.setdefault("bos_token", cfg["cls_token"])
    cfg.setdefault("eos_token", cfg["sep_token"])
    single = tok_json["post_processor"]["single"]
    assert [s.get("SpecialToken", {}).get("id") for s in (single[0], single[-1])] == [cfg["cls_token"],
                                                                                    cfg["sep_token"]]
    ids = [(f"tokenizer.ggml.{k}", UINT32, added[cfg[f"{t}_token"]]["id"]) for t, k in (
        ("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id"), ("sep", "seperator_token_id"),
        ("pad", "padding_token_id"), ("mask", "mask_token_id"))]
    return [
        ("tokenizer.ggml.token_type_count", UINT32, types),
        ("tokenizer.ggml.model", STRING, "bert"),
        # The converter's pre-tokenizer hash would not know this vocabulary; "bert-bge" is what it writes for the
        # bert-base-uncased family (same BertNormalizer + BertPreTokenizer). llama.cpp ignores it for WPM.
        ("tokenizer.ggml.pre", STRING, "bert-bge"),
        ("tokenizer.ggml.tokens", ARRAY, tokens, STRING),
        ("tokenizer.ggml.token_type", ARRAY, toktypes, INT32),
        *ids,
        ("tokenizer.ggml.add_bos_token", BOOL, True),
        ("tokenizer.ggml.add_eos_token", BOOL, True),
        ("tokenizer.ggml.add_sep_token", BOOL, False),
    ]


def metadata(cfg, n_params, file_type, vocab_kvs, quantized_by_llama_quantize, name=NAME, context_length=None,
             arch="bert"):
    """KV list in the converter's order (GGUFWriter: general.architecture; prepare_metadata: general.type, name,
    size_label; TextModel/BertModel.set_gguf_parameters; quantization_version; set_vocab). A file made by
    llama-quantize from f16.gguf carries the same KVs with general.quantization_version and general.file_type
    moved to the end (gguf_set_kv, then gguf_set_val_u32 removes and re-appends the key). context_length: XLM-R's
    max_position_embeddings less pad_token_id + 1 (XLMRobertaModel._xlmroberta_tokenizer_init). arch: the
    architecture and key prefix ("jina-bert-v2" for JinaBertV2Model, which adds no KVs of its own)."""
    a = arch
    head = [
        *kv_head(a, name, n_params, cfg["num_hidden_layers"],
                 cfg["max_position_embeddings"] if context_length is None else context_length, cfg["hidden_size"],
                 cfg["intermediate_size"], cfg["num_attention_heads"]),
        (f"{a}.attention.layer_norm_epsilon", FLOAT32, cfg["layer_norm_eps"]),
    ]
    ftype = [("general.file_type", UINT32, file_type)]
    tail = [
        (f"{a}.attention.causal", BOOL, False),
        # _try_set_pooling_type: written when modules.json names a Pooling module with pooling_mode_mean_tokens
        (f"{a}.pooling_type", UINT32, POOLING_MEAN),
    ]
    qv = [("general.quantization_version", UINT32, GGML_QUANT_VERSION)]
    if quantized_by_llama_quantize:
        return head + tail + vocab_kvs + qv + ftype
    return head + ftype + tail + qv + vocab_kvs


# --------------------------------------------------------------------------------------------------
# Texts and the oracle
# --------------------------------------------------------------------------------------------------

# FLORES-200 dev sentences by index_id (other than bert-tiny's 1075 / 331); no accented letters in the German one
FLORES_EXTRA = [("eng_Latn", 1110), ("deu_Latn", 596)]
ACCENT_TEXT = "Crème brûlée at the café"


def flores_texts(pairs):
    """FLORES-200 dev sentences by (language, index_id)."""
    out = []
    for lang, idx in pairs:
        hit = [t for i, t in mf.read_flores(lang, "dev") if i == idx]
        assert len(hit) == 1, (lang, idx)
        out.append(hit[0])
    return out


def texts_and_ids(tok):
    src_texts, src_ids, _ = pno.bert_texts()
    texts = src_texts[:2] + flores_texts(FLORES_EXTRA) + [mf.SHORT_TEXT, ACCENT_TEXT]
    ids = [tok.encode(t) for t in texts]
    assert ids[:2] == src_ids[:2], "tokenizer disagrees with bert-tiny's verified ids"
    assert all(len(x) <= MAXPOS for x in ids)
    return texts, ids


def run_oracle(W, cfg, ids, roberta=False):
    """float64 hidden states of one right-padded batch (make_fixtures.forward, checked against torch.nn's encoder
    layer and against each text alone). Returns [emb, layer1, layer2], each [B, S, H]. roberta: XLM-R's position
    ids (create_position_ids_from_input_ids: pad_token_id + 1 onwards for the real tokens), padded with pad_token_id."""
    Wt = {n: torch.from_numpy(a.astype(np.float64)) for n, a in W.items()}
    inp, mask = pno.padded_batch(ids, cfg["pad_token_id"] if roberta else 0)
    with torch.no_grad():
        states = mf.forward(Wt, cfg, "", inp, mask, roberta)
        mf.cross_check_torch_nn(Wt, cfg, "", inp, mask, states)
        for i, x in enumerate(ids):
            alone = mf.forward(Wt, cfg, "", torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long), roberta)
            d = max((alone[l][0] - states[l][i, : len(x)]).abs().max().item() for l in range(len(states)))
            assert d < 1e-9, ("alone", i, d)
    return states


def r7(a):
    return [float(f"{v:.7g}") for v in np.asarray(a, np.float64).ravel()]


def pooled(states, ids):
    last = states[-1]
    mean = [r7(last[i, : len(x)].mean(0).numpy()) for i, x in enumerate(ids)]
    cls = [r7(last[i, 0].numpy()) for i in range(len(ids))]
    return mean, cls


def cos(u, v):
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

FILES = [("f16.gguf", "f16", FTYPE_MOSTLY_F16, False), ("q8_0.gguf", "q8_0", FTYPE_MOSTLY_Q8_0, False),
         ("q4_k_m.gguf", "q4_k_m", FTYPE_MOSTLY_Q4_K_M, True), ("mixed.gguf", "mixed", FTYPE_MOSTLY_Q4_0, True),
         ("lowbit.gguf", "lowbit", FTYPE_MOSTLY_Q2_K, True)]


def write_file(folder, fname, kind, ftype, tensors, kvs):
    """Writes one GGUF file: tensors ((HF name, GGUF name, float32 array), as gguf_tensors gives them) stored as
    tensor_types(tensors, kind) says, kvs its KV list (general.file_type ftype); reads it back and checks that the
    KVs and tensors come back in that order. Returns (tensor types, file size, KVs read back, tensors read back,
    the weights the file stores dequantized by HF name, their largest relative error against tensors)."""
    types = tensor_types(tensors, kind)
    blobs = [(g, types[g], a.shape, quantize(a, types[g])) for _, g, a in tensors]
    size = write_gguf(os.path.join(folder, fname), kvs, blobs)
    kv, stored = read_back(os.path.join(folder, fname))
    assert list(kv) == [k[0] for k in kvs] and kv["general.file_type"] == ftype
    assert list(stored) == [g for _, g, _ in tensors]
    Wq = {h: dequantize(stored[g][2], stored[g][0], stored[g][1]) for h, g, _ in tensors}
    worst_w = max(float(np.linalg.norm(Wq[h] - a) / np.linalg.norm(a)) for h, _, a in tensors)
    return types, size, kv, stored, Wq, worst_w


def print_file(fname, size, worst_w, what, worst, detail=""):
    """A written file's summary line: what: the vectors compared (the oracle on the stored weights vs the float32
    oracle), worst: their min cosine; detail: said after the size."""
    print(f"{fname}: {size} bytes{detail}; stored weights' largest relative error {worst_w:.4f}; "
          f"min cosine of the stored weights' {what} vs the float32 oracle {worst:.6f}")


def write_files(folder, file_list, tensors, ids, mean, meta, check, oracle):
    """Writes, reads back and checks each (file name, kind, file type, made by llama-quantize) of file_list
    (write_file): tensors as gguf_tensors gives them, the KVs meta(file type, made by llama-quantize); check(kv,
    stored, tensor types) adds the fixture's own asserts, and oracle(stored weights by HF name) returns the oracle's
    states on them. mean: the float32 oracle's, to compare against. Returns expected.json's "files"."""
    files = {}
    for fname, kind, ftype, by_quantize in file_list:
        types, size, kv, stored, Wq, worst_w = write_file(folder, fname, kind, ftype, tensors,
                                                          meta(ftype, by_quantize))
        check(kv, stored, types)
        # the oracle on exactly what the file stores
        qmean, qcls = pooled(oracle(Wq), ids)
        worst = min(cos(a, b) for a, b in zip(qmean, mean))
        files[fname] = {"file_type": ftype, "tensor_types": types, "mean": qmean, "cls": qcls}
        print_file(fname, size, worst_w, "mean", worst)
    return files


def same_as_source(mean, source, layers):
    """The oracle's means are the source fixture's own (its expected.safetensors, float32): the same model."""
    ref = mf.read_safetensors(os.path.join(source, "expected.safetensors"))
    diff = max(float(np.abs(np.asarray(m) - ref[f"mean.{i}.{layers}"]).max()) for i, m in enumerate(mean))
    assert diff < 1e-5, (f"{os.path.basename(source)}'s expected.safetensors", diff)


def mutants(states, lengths, forward, cases):
    """Min cosine of each deliberate mistake's means (forward(**kw) for each case) with the oracle's: each must move
    every text's mean under 0.999, or the fixture could not tell it apart."""
    moved = {}
    with torch.no_grad():
        for label, kw in cases.items():
            wrong = pno.mean_pool(forward(**kw)[-1], lengths)
            moved[label] = pno.min_cosine(wrong, pno.mean_pool(states[-1], lengths))
            assert moved[label] < 0.999, (label, moved[label])
    return moved


def write_expected(folder, fields, states, files, note, n_unk, n_params, detail):
    """Writes expected.json: fields (model, [source,] texts, ids, tokens), then from the float32 oracle's states
    ([embedding output, layer 1, ...], each [B, S, H]) layers, hidden, mean, cls and layer_mean, then files and
    note. Prints the fixture's summary line; detail: what it says about the oracle."""
    ids = fields["ids"]
    mean, cls = pooled(states, ids)
    expected = {
        **fields,
        "layers": len(states) - 1,
        "hidden": states[-1].shape[-1],
        "mean": mean,
        "cls": cls,
        "layer_mean": [[r7(s[i, : len(x)].mean(0).numpy()) for s in states] for i, x in enumerate(ids)],
        "files": files,
        "note": note,
    }
    path = os.path.join(folder, "expected.json")
    mf.write_json(path, expected)
    print(f"{fields['model']}: {len(ids)} texts, lengths {[len(x) for x in ids]}, {n_unk} unk, {n_params} parameters "
          f"in the GGUF; {detail}; expected.json {os.path.getsize(path)} bytes")


def main_bert():
    os.makedirs(FOLDER, exist_ok=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(pno.BERT, f), os.path.join(FOLDER, f))
    tok_json = pno.read_json(os.path.join(FOLDER, "tokenizer.json"))
    tok_cfg = pno.read_json(os.path.join(FOLDER, "tokenizer_config.json"))
    vocab = tok_json["model"]["vocab"]
    specials = [a["content"] for a in tok_json["added_tokens"]]
    tok = mf.WordPieceTokenizer(vocab, True, "[UNK]", "[CLS]", "[SEP]", added=specials)
    cfg = config(len(vocab))
    mf.write_json(os.path.join(FOLDER, "config.json"), cfg)

    texts, ids = texts_and_ids(tok)
    W = make_weights(len(vocab))
    tensors = gguf_tensors(W)
    n_params = sum(a.size for _, _, a in tensors)
    vkv = vocab_metadata(tok_json, tok_cfg)
    states = run_oracle(W, cfg, ids)
    pooler = {n: a for n, a in W.items() if n.startswith("pooler.")}

    def check(kv, stored, types):
        assert kv["tokenizer.ggml.tokens"][:6] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u2581!"]

    files = write_files(FOLDER, FILES, tensors, ids, pooled(states, ids)[0],
                        lambda ftype, by_quantize: metadata(cfg, n_params, ftype, vkv, by_quantize), check,
                        lambda Wq: run_oracle({**Wq, **pooler}, cfg, ids))
    write_expected(
        FOLDER, {"model": NAME, "texts": texts, "ids": ids, "tokens": [tok.tokens(t) for t in texts]}, states, files,
        "ids: the Hugging Face BertTokenizer ids of tokenizer.json ([CLS] ... [SEP]). mean / cls: the last "
        "layer's mean over the real tokens (not normalised) and token 0, from the float32 weights of make_gguf.py "
        "(the checkpoint the GGUF files were converted from). layer_mean[i][l]: mean after the embedding "
        "LayerNorm (l=0) and after layer l. files[f].mean / .cls: the same oracle run on the weights file f "
        "stores, dequantized (so a reader of f should match these most closely); files[f].tensor_types: the ggml "
        "type of every tensor in f. Computed in float64 (one right-padded batch, checked against each text alone "
        "and torch.nn.TransformerEncoderLayer), exact GELU (erf); values rounded to 7 significant digits.",
        sum(x.count(vocab["[UNK]"]) for x in ids), n_params,
        f"mean token cosine (last layer) {pno.mean_token_cosine(states[-1], [len(x) for x in ids]):.2f}")


# --------------------------------------------------------------------------------------------------
# gguf-xlmr: an XLM-R with a real SentencePiece Unigram vocabulary, as XLMRobertaModel converts it
# --------------------------------------------------------------------------------------------------

XNAME = "gguf-xlmr"
XFOLDER = os.path.join(mf.OUT, XNAME)
XSEED = 20250602
XMAXPOS, XTYPES, XEPS, XPAD = 130, 1, 1e-5, 1
SP_MODEL = os.path.join(mf.TOKDATA, "sp_test_model.model")  # google/sentencepiece's test model, Apache-2.0
XFILES = [f for f in FILES if f[0] in ("f16.gguf", "q8_0.gguf")]

# FLORES-200 dev sentences (eng_Latn) by index_id, then texts written for this fixture: a leading space, runs of
# spaces, upper case and digits; accented words (no piece has an accent: <unk>); a word in a script the vocabulary
# has no piece for, a currency sign, and characters the model's NFKC charsmap rewrites (… -> ..., fullwidth ＡＢＣ).
XFLORES = [1075, 1321, 1530]
XTEXTS = [
    " Leading space, then  two and   three spaces: MIXED Case, 42 items!",
    ACCENT_TEXT,
    "Tokyo 東京 costs €5… ＡＢＣ",
]


def xlmr_config(vocab_size):
    """config.json of an XLMRobertaModel (transformers' layout)."""
    return config(vocab_size, "XLMRobertaModel", "xlm-roberta", XMAXPOS, XTYPES, XEPS, XPAD, bos_token_id=0,
                  eos_token_id=2)


# tokenizer_config.json as XLM-R embedders ship it (multilingual-e5's, model_max_length cut to the positions here)
XLMR_TOKENIZER_CONFIG = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "eos_token": "</s>",
    "mask_token": {"__type": "AddedToken", "content": "<mask>", "lstrip": True, "normalized": True, "rstrip": False,
                   "single_word": False},
    "model_max_length": XMAXPOS - XPAD - 1,
    "pad_token": "<pad>",
    "sep_token": "</s>",
    "tokenizer_class": "XLMRobertaTokenizer",
    "unk_token": "<unk>",
}


def xlmr_tokenizer_json(vocab_size):
    """The parts of the tokenizer.json transformers' XLMRobertaConverter writes that gguf-py's SpecialVocab reads:
    added_tokens (<s> <pad> </s> <unk> = 0..3, <mask> = the last id) and the TemplateProcessing post-processor
    (single <s> $A </s>, pair <s> $A </s> </s> $B </s>)."""
    added = [{"id": i, "content": c, "special": True} for i, c in enumerate(["<s>", "<pad>", "</s>", "<unk>"])]
    added.append({"id": vocab_size - 1, "content": "<mask>", "special": True})
    tok = lambda t: {"SpecialToken": {"id": t, "type_id": 0}}  # noqa: E731
    seq = lambda t: {"Sequence": {"id": t, "type_id": 0}}  # noqa: E731
    post = {"type": "TemplateProcessing", "single": [tok("<s>"), seq("A"), tok("</s>")],
            "pair": [tok("<s>"), seq("A"), tok("</s>"), tok("</s>"), seq("B"), tok("</s>")]}
    return {"added_tokens": added, "post_processor": post}


def special_vocab(tok_json, tok_cfg, cfg, n_vocab):
    """gguf-py vocab.py SpecialVocab for a folder with tokenizer.json, tokenizer_config.json and config.json, the
    steps this tokenizer takes: bos/eos default to cls/sep; the TemplateProcessing gives add_bos (its first token is
    bos or cls), add_eos (its last is eos) and add_sep (the pair's middle `</s> </s>`: the second separator sets it);
    ids by tokenizer_config's token contents looked up in added_tokens, then config.json's *_token_id where still
    unset; ids >= n_vocab skipped. Returns ({type: id}, {type: add flag}) in insertion order."""
    tc = dict(tok_cfg)
    bos, cls, eos, sep = (token_content(tc.get(f"{t}_token")) for t in ("bos", "cls", "eos", "sep"))
    bos, eos = bos or cls, eos or sep
    post = tok_json["post_processor"]
    assert post["type"] == "TemplateProcessing"
    single, pair = post["single"], post["pair"]
    first, last = (single[i].get("SpecialToken", {}).get("id") for i in (0, -1))
    add = {"bos": first in (bos, cls), "eos": last == eos}
    assert pair[0].get("SpecialToken", {}).get("id") == first and pair[-1].get("SpecialToken", {}).get("id") == last
    inner = pair[1:-1]
    assert inner[0] == {"Sequence": {"id": "A", "type_id": 0}} and inner[-1]["Sequence"]["id"] == "B"
    mid = [m.get("SpecialToken", {}).get("id") for m in inner[1:-1]]
    add_sep = bool(mid) and mid[0] in (sep, eos) and not last
    if len(mid) == 2 and mid[1] in (sep, eos):
        add_sep = True
    add["sep"] = add_sep
    return special_token_ids(tok_json, tc, cfg, n_vocab), add


SPECIAL_TYPES = ("bos", "eos", "unk", "sep", "pad", "cls", "mask")


def token_content(entry):
    """A tokenizer_config.json *_token entry's text: the string, or the dict's "content" (None for null)."""
    return entry if isinstance(entry, str) else (entry or {}).get("content")


def special_token_ids(tok_json, tok_cfg, cfg, n_vocab, types=SPECIAL_TYPES):
    """SpecialVocab's ids: for each type, tokenizer_config's *_token content looked up in tokenizer.json's
    added_tokens, then config.json's *_token_id where still unset; ids >= n_vocab skipped. Returns {type: id} in
    insertion order."""
    ids = {}
    for typ in types:
        c = token_content(tok_cfg.get(f"{typ}_token"))
        tid = next((a["id"] for a in tok_json["added_tokens"] if a["content"] == c), None)
        if tid is not None and tid < n_vocab:
            ids.setdefault(typ, tid)
    for typ in types:
        tid = cfg.get(f"{typ}_token_id")
        if isinstance(tid, int) and tid < n_vocab:
            ids.setdefault(typ, tid)
    return ids


def sp_pieces(sp, n):
    """The converters' token table of n entries from a SentencePieceProcessor (XLMRobertaModel._xlmroberta_set_vocab,
    TextModel._create_vocab_sentencepiece): piece, GetScore and IsUnknown / IsControl / IsUnused / IsByte (a
    USER_DEFINED piece is NORMAL here) by sentencepiece id; [PADi], -10000, UNUSED where sentencepiece has none.
    Returns (tokens, scores, types)."""
    tokens = [f"[PAD{i}]" for i in range(n)]
    scores = [-10000.0] * n
    types = [TOKEN_UNUSED] * n
    for i in range(sp.vocab_size()):
        t = TOKEN_NORMAL
        if sp.IsUnknown(i):
            t = TOKEN_UNKNOWN
        elif sp.IsControl(i):
            t = TOKEN_CONTROL
        elif sp.IsUnused(i):
            t = TOKEN_UNUSED
        elif sp.IsByte(i):
            t = TOKEN_BYTE
        tokens[i], scores[i], types[i] = sp.IdToPiece(i), sp.GetScore(i), t
    return tokens, scores, types


def sp_vocab(path, config_vocab_size):
    """XLMRobertaModel._xlmroberta_set_vocab from a sentencepiece.bpe.model: tokens / scores / types by sentencepiece
    id in a list of max(config vocab_size, sp size) entries ([PADi], -10000, UNUSED where sentencepiece has none),
    then realigned to transformers' fairseq ids: [<s>, <pad>, </s>, <unk>] + tokens[3:-1] (piece i -> id i + 1;
    the list's last entry falls off, so the last id holds [PAD<sp size>] where transformers has <mask>)."""
    os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    from sentencepiece import SentencePieceProcessor
    from sentencepiece import sentencepiece_model_pb2 as model

    proto = model.ModelProto()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    assert proto.trainer_spec.model_type == 1  # UNIGRAM
    norm = proto.normalizer_spec
    sp = SentencePieceProcessor()
    sp.LoadFromFile(path)
    tokens, scores, types = sp_pieces(sp, max(config_vocab_size, sp.vocab_size()))
    tokens = ["<s>", "<pad>", "</s>", "<unk>"] + tokens[3:-1]
    scores = [0.0, 0.0, 0.0, 0.0] + scores[3:-1]
    types = [TOKEN_CONTROL, TOKEN_CONTROL, TOKEN_CONTROL, TOKEN_UNKNOWN] + types[3:-1]
    return sp, tokens, scores, types, norm


def xlmr_vocab_metadata(tokens, scores, types, norm, special_ids, add_flags):
    """What _xlmroberta_set_vocab and SpecialVocab.add_to_gguf write, in their order. The charsmap is the model's
    normalizer_spec.precompiled_charsmap (bytes: gguf_writer makes it an array of UINT8, the type llama-vocab.cpp
    asserts: INT8 or UINT8). gguf_writer 0024aa7 has no handler for cls (SpecialVocab finds it: 0), so no key."""
    return [
        ("tokenizer.ggml.model", STRING, "t5"),
        ("tokenizer.ggml.pre", STRING, "default"),
        ("tokenizer.ggml.tokens", ARRAY, tokens, STRING),
        ("tokenizer.ggml.scores", ARRAY, scores, FLOAT32),
        ("tokenizer.ggml.token_type", ARRAY, types, INT32),
        ("tokenizer.ggml.add_space_prefix", BOOL, bool(norm.add_dummy_prefix)),
        ("tokenizer.ggml.token_type_count", UINT32, XTYPES),
        ("tokenizer.ggml.remove_extra_whitespaces", BOOL, bool(norm.remove_extra_whitespaces)),
        *([("tokenizer.ggml.precompiled_charsmap", ARRAY, bytes(norm.precompiled_charsmap), UINT8)]
          if norm.precompiled_charsmap else []),
        *special_kvs(special_ids, add_flags),
    ]


def xlmr_texts_and_ids(sp):
    """Texts and transformers' XLMRobertaTokenizer ids: sentencepiece's encode, piece id + 1 (0, <unk>, -> 3),
    framed <s> = 0 ... </s> = 2."""
    flores = dict(mf.read_flores("eng_Latn", "dev"))
    texts = [flores[i] for i in XFLORES] + XTEXTS
    ids = [[0] + [i + 1 if i else 3 for i in sp.encode(t)] + [2] for t in texts]
    assert all(len(x) <= XMAXPOS - XPAD - 1 for x in ids)
    return texts, ids


XLMR_README = """# gguf-xlmr fixture

Made by `test/oracle/make_gguf.py` (see the "gguf-bert" section of `test/oracle/README.md`): a small random XLM-R
written as llama.cpp's converter writes an `XLMRobertaModel`, and its PyTorch and llama.cpp oracles.

`sentencepiece.bpe.model` is `sp_test_model.model` of google/sentencepiece (github.com/google/sentencepiece,
`python/test/test_model.model`: an English Unigram model of 1,000 pieces trained on botchan.txt), copied unchanged
from `../shared/data/tokenizers/`. Licence: Apache License 2.0, Copyright Google Inc.
(https://www.apache.org/licenses/LICENSE-2.0). Its pieces, scores and normalizer's precompiled character map are
what the GGUF files' `tokenizer.ggml.*` arrays hold.

The random weights and the other files are the project's (Apache-2.0). Texts: FLORES-200 dev sentences (eng_Latn,
via SIB-200; CC-BY-SA-4.0) and strings written for this fixture.
"""


def main_xlmr():
    os.makedirs(XFOLDER, exist_ok=True)
    shutil.copyfile(SP_MODEL, os.path.join(XFOLDER, "sentencepiece.bpe.model"))
    with open(os.path.join(XFOLDER, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(XLMR_README)
    from sentencepiece import SentencePieceProcessor

    n_pieces = SentencePieceProcessor(model_file=os.path.join(XFOLDER, "sentencepiece.bpe.model")).vocab_size()
    # XLM-R's config.json: vocab_size = sentencepiece's pieces + 1 (fairseq offset) + 1 (<mask>), as
    # XLMRobertaTokenizer.vocab_size (250,002 for 250,000 pieces). Then the converter's list has that many entries.
    cfg = xlmr_config(n_pieces + 2)
    mf.write_json(os.path.join(XFOLDER, "config.json"), cfg)
    mf.write_json(os.path.join(XFOLDER, "tokenizer_config.json"), XLMR_TOKENIZER_CONFIG)
    sp, tokens, scores, types, norm = sp_vocab(os.path.join(XFOLDER, "sentencepiece.bpe.model"), cfg["vocab_size"])
    n_vocab = len(tokens)
    assert n_vocab == cfg["vocab_size"] and len(set(tokens)) == n_vocab
    assert tokens[1000] == sp.IdToPiece(999) and tokens[-1] == f"[PAD{sp.vocab_size()}]" and types[-1] == TOKEN_UNUSED
    special_ids, add_flags = special_vocab(xlmr_tokenizer_json(n_vocab), XLMR_TOKENIZER_CONFIG, cfg, n_vocab)
    assert special_ids == {"bos": 0, "eos": 2, "unk": 3, "sep": 2, "pad": 1, "cls": 0, "mask": n_vocab - 1}
    assert add_flags == {"bos": True, "eos": True, "sep": True}
    vkv = xlmr_vocab_metadata(tokens, scores, types, norm, special_ids, add_flags)

    texts, ids = xlmr_texts_and_ids(sp)
    W = make_weights(n_vocab, XTYPES, XMAXPOS, XSEED)
    off = XPAD + 1  # XLMRobertaModel.modify_tensors: position_embd is the table from row pad_token_id + 1 on
    tensors = [(h, g, a[off:] if g == "position_embd.weight" else a) for h, g, a in gguf_tensors(W)]
    n_params = sum(a.size for _, _, a in tensors)
    context = XMAXPOS - off

    states = run_oracle(W, cfg, ids, roberta=True)
    pooler = {n: a for n, a in W.items() if n.startswith("pooler.")}
    pos = "embeddings.position_embeddings.weight"

    def check(kv, stored, _tensor_types):
        assert kv["tokenizer.ggml.tokens"] == tokens and kv["tokenizer.ggml.token_type"] == types
        assert kv["tokenizer.ggml.precompiled_charsmap"] == list(norm.precompiled_charsmap)
        assert stored["position_embd.weight"][1] == (context, H) and kv["bert.context_length"] == context

    def oracle(Wq):  # the cut rows: zeros (only padding would read them, and padding is masked)
        Wq = {**Wq, pos: np.concatenate([np.zeros((off, H), np.float32), Wq[pos]]), **pooler}
        return run_oracle(Wq, cfg, ids, roberta=True)

    files = write_files(XFOLDER, XFILES, tensors, ids, pooled(states, ids)[0],
                        lambda ftype, by_quantize: metadata(cfg, n_params, ftype, vkv, by_quantize, name=XNAME,
                                                            context_length=context), check, oracle)
    write_expected(
        XFOLDER, {"model": XNAME, "texts": texts, "ids": ids, "tokens": [[tokens[i] for i in x] for x in ids]},
        states, files,
        "ids: transformers' XLMRobertaTokenizer ids: sentencepiece's own encode(text) of "
        "sentencepiece.bpe.model, each piece id + 1 (piece 0, <unk>, -> 3), framed <s> = 0 ... </s> = 2; tokens: "
        "the GGUF's token strings of those ids. mean / cls: the last layer's mean over the real tokens (not "
        "normalised) and token 0, from the float32 weights of make_gguf.py, with XLM-R's position ids "
        "(pad_token_id + 1 = 2 onwards). layer_mean[i][l]: mean after the embedding LayerNorm (l=0) and after "
        "layer l. files[f].mean / .cls: the same oracle run on the weights file f stores, dequantized (the two "
        "position rows the converter cut off read as zeros: no real token uses them); files[f].tensor_types: the "
        "ggml type of every tensor in f. Computed in float64 (one right-padded batch, checked against each text "
        "alone and torch.nn.TransformerEncoderLayer), exact GELU (erf); values rounded to 7 significant digits.",
        sum(x.count(3) for x in ids), n_params,
        f"mean token cosine (last layer) {pno.mean_token_cosine(states[-1], [len(x) for x in ids]):.2f}")


# --------------------------------------------------------------------------------------------------
# gguf-nomic: the nomic-tiny NomicBERT (nomic-embed-text v1.5's layout) as the converter writes a NomicBertModel
# --------------------------------------------------------------------------------------------------

NNAME = "gguf-nomic"
NFOLDER = os.path.join(mf.OUT, NNAME)
NSOURCE = os.path.join(mf.OUT, "nomic-tiny")  # make_nomic.py's fixture: config, tokenizer, model.safetensors
NFILES = XFILES
NARCH = "nomic-bert"  # MODEL_ARCH.NOMIC_BERT (NomicBertModel.__init__: NOMIC_BERT_MOE only with moe_every_n_layers)

# gguf-py tensor_mapping.py, the entries marked "nomic-bert": fc11 is FFN_UP, fc12 FFN_GATE; llama.cpp's graph
# (src/models/bert.cpp, build_ffn LLM_FFN_SILU LLM_FFN_PAR) computes ffn_down(silu(ffn_gate(x)) * ffn_up(x)), which
# is NomciBertGatedMLP's fc2(fc11(x) * silu(fc12(x))).
NOMIC_FIXED = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.token_type_embeddings": "token_types",
    "emb_ln": "token_embd_norm",
}
NOMIC_LAYER = {
    "attn.Wqkv": "attn_qkv",
    "attn.out_proj": "attn_output",
    "norm1": "attn_output_norm",
    "mlp.fc11": "ffn_up",
    "mlp.fc12": "ffn_gate",
    "mlp.fc2": "ffn_down",
    "norm2": "layer_output_norm",
}


def nomic_gguf_name(hf):
    """convert_hf_to_gguf.py's mapping for MODEL_ARCH.NOMIC_BERT."""
    return mapped_name(hf, NOMIC_FIXED, NOMIC_LAYER, "encoder.layers")


def nomic_converter_checks(cfg):
    """NomicBertModel.__init__'s asserts on a non-MoE NomicBERT, all of which nomic-tiny passes but the one on
    n_positions: it accepts 8192 with max_trained_positions 2048 (v1, v1.5: n_positions becomes 2048) or 2048 / 2048
    (v2-moe: 512) and raises on anything else, nomic-tiny's 160 / 160 included. The files are what it writes once
    past that check with n_positions as it is (TextModel.set_gguf_parameters: context_length from n_positions, the
    config having no max_position_embeddings). Returns that context length."""
    assert not cfg.get("moe_every_n_layers")
    assert cfg["activation_function"] == "swiglu" and cfg["causal"] is False
    assert cfg["qkv_proj_bias"] is False and cfg["mlp_fc1_bias"] is False and cfg["mlp_fc2_bias"] is False
    assert cfg["prenorm"] is False and cfg["rotary_emb_fraction"] == 1.0
    assert cfg["rotary_emb_interleaved"] is False and cfg["rotary_emb_scale_base"] is None
    npos, mtp = cfg["n_positions"], cfg.get("max_trained_positions", 2048)
    assert (npos, mtp) not in ((8192, 2048), (2048, 2048)), "the converter would rewrite n_positions"
    assert "max_position_embeddings" not in cfg and "intermediate_size" not in cfg and "hidden_size" not in cfg
    # llama.cpp takes n_ff from feed_forward_length (n_inner); NomciBertGatedMLP rounds n_inner up to 256
    assert mn.mlp_width(cfg) == cfg["n_inner"]
    return npos


def nomic_metadata(cfg, n_params, file_type, vocab_kvs, context_length):
    """KV list in the converter's order for a NomicBertModel: as metadata()'s, the architecture "nomic-bert", and
    TextModel.set_gguf_parameters' rope.freq_base (rotary_emb_base, which TextModel.__init__ takes as rope_theta)
    between head_count and layer_norm_epsilon. No head_count_kv (the config has no num_key_value_heads)."""
    a = NARCH
    return [
        *kv_head(a, NNAME, n_params, cfg["n_layer"], context_length, cfg["n_embd"], cfg["n_inner"], cfg["n_head"]),
        (f"{a}.rope.freq_base", FLOAT32, float(cfg["rotary_emb_base"])),
        (f"{a}.attention.layer_norm_epsilon", FLOAT32, cfg["layer_norm_epsilon"]),
        ("general.file_type", UINT32, file_type),
        (f"{a}.attention.causal", BOOL, False),
        (f"{a}.pooling_type", UINT32, POOLING_MEAN),  # nomic-tiny's modules.json: 1_Pooling, mean tokens
        ("general.quantization_version", UINT32, GGML_QUANT_VERSION),
        *vocab_kvs,
    ]


def run_nomic_oracle(W, cfg, ids, name=NNAME):
    """float64 hidden states [emb_ln, layer 1..L] of one right-padded batch ([PAD] = 0: masked, so any id does) by
    make_nomic.forward, checked against each text alone and make_nomic.forward_functional
    (post_norm_oracle.batch_states; name labels its messages). Returns the states and (weights, ids, mask) to rerun
    forward with a deliberate mistake."""
    Wt = {n: torch.from_numpy(np.asarray(a, np.float64)) for n, a in W.items()}
    with torch.no_grad():
        states, inp, mask, _ = pno.batch_states(name, ids, 0, mn.forward, mn.forward_functional, Wt, cfg)
    return states, (Wt, inp, mask)


def main_nomic():
    os.makedirs(NFOLDER, exist_ok=True)
    cfg = pno.read_json(os.path.join(NSOURCE, "config.json"))
    context = nomic_converter_checks(cfg)
    tok_json = pno.read_json(os.path.join(NSOURCE, "tokenizer.json"))
    tok_cfg = pno.read_json(os.path.join(NSOURCE, "tokenizer_config.json"))
    pooling = pno.read_json(os.path.join(NSOURCE, "1_Pooling", "config.json"))
    assert pooling["pooling_mode_mean_tokens"]
    vocab = tok_json["model"]["vocab"]
    specials = [a["content"] for a in tok_json["added_tokens"]]
    tok = mf.WordPieceTokenizer(vocab, True, "[UNK]", "[CLS]", "[SEP]", added=specials)
    n_vocab = cfg["vocab_size"]  # 2064: bert-tiny's 2062 tokens, the table padded to a multiple of 8
    assert n_vocab > len(vocab)
    vkv = vocab_metadata(tok_json, tok_cfg, n_vocab=n_vocab, types=cfg["type_vocab_size"])
    tokens = dict((k[0], k[2]) for k in vkv)["tokenizer.ggml.tokens"]
    assert len(tokens) == n_vocab and tokens[len(vocab):] == [f"\u2581[PAD{i}]" for i in range(len(vocab), n_vocab)]

    # nomic-tiny's texts and ids (bert-tiny's, checked against transformers' BertTokenizer by make_fixtures.py)
    src = pno.read_json(os.path.join(NSOURCE, "expected.json"))
    texts, ids = src["texts"], src["ids"]
    assert [tok.encode(t) for t in texts] == ids and max(map(len, ids)) <= context

    W = mf.read_safetensors(os.path.join(NSOURCE, "model.safetensors"))
    assert W["embeddings.word_embeddings.weight"].shape == (n_vocab, cfg["n_embd"])
    tensors = gguf_tensors(W, nomic_gguf_name)
    n_params = sum(a.size for _, _, a in tensors)

    states, (Wt, inp, mask) = run_nomic_oracle(W, cfg, ids)
    mean = pooled(states, ids)[0]
    L = cfg["n_layer"]
    same_as_source(mean, NSOURCE, L)
    # what this fixture tells apart: ffn_up / ffn_gate exchanged, and a RoPE base of 10000 (llama.cpp's default
    # where rope.freq_base is missing)
    lengths = [len(x) for x in ids]
    moved = mutants(states, lengths, lambda **kw: mn.forward(Wt, cfg, inp, mask, **kw),
                    {"ffn_up/ffn_gate swapped": dict(swap_fc=True), "rope base 10000": dict(base=10000)})

    def check(kv, stored, types):
        assert kv["general.architecture"] == NARCH and kv[f"{NARCH}.context_length"] == context
        assert kv[f"{NARCH}.rope.freq_base"] == cfg["rotary_emb_base"] and kv["tokenizer.ggml.tokens"] == tokens
        assert stored["blk.0.ffn_up.weight"][2] == quantize(W["encoder.layers.0.mlp.fc11.weight"], types[
            "blk.0.ffn_up.weight"])

    files = write_files(NFOLDER, NFILES, tensors, ids, mean,
                        lambda ftype, _: nomic_metadata(cfg, n_params, ftype, vkv, context), check,
                        lambda Wq: run_nomic_oracle(Wq, cfg, ids)[0])
    write_expected(
        NFOLDER, {"model": NNAME, "source": "nomic-tiny", "texts": texts, "ids": ids,
                  "tokens": [tok.tokens(t) for t in texts]}, states, files,
        "The weights of fixtures/nomic-tiny (make_nomic.py: NomicBertModel, SwiGLU, no biases, rotary_emb_base "
        "1000, vocab 2064) as llama.cpp's converter writes a NomicBertModel (architecture nomic-bert; fc11 -> ffn_up, "
        "fc12 -> ffn_gate). texts / ids: nomic-tiny's (the Hugging Face BertTokenizer ids of its tokenizer.json, "
        "[CLS] ... [SEP]). mean / cls: the last layer's mean over the real tokens (not normalised) and token 0, from "
        "nomic-tiny's float32 weights by make_nomic.forward (float64; one right-padded batch checked against each "
        "text alone and make_nomic.forward_functional; equal to nomic-tiny's expected.safetensors). layer_mean[i][l]: "
        "mean after emb_ln (l=0) and after layer l. files[f].mean / .cls: the same oracle run on the weights file f "
        "stores, dequantized; files[f].tensor_types: the ggml type of every tensor in f. Values rounded to 7 "
        "significant digits.",
        sum(x.count(vocab["[UNK]"]) for x in ids), n_params,
        "min cosine of the mean with " + ", ".join(f"{k} {v:.4f}" for k, v in moved.items()))


# --------------------------------------------------------------------------------------------------
# gguf-jina: the jina-tiny JinaBERT v2 (ALiBi, GeGLU) as the converter writes a JinaBertV2Model
# --------------------------------------------------------------------------------------------------

JNAME = "gguf-jina"
JFOLDER = os.path.join(mf.OUT, JNAME)
JSOURCE = os.path.join(mf.OUT, "jina-tiny")  # make_jina.py's fixture: config, tokenizer, model.safetensors, ST files
JFILES = XFILES
JARCH = "jina-bert-v2"  # MODEL_ARCH.JINA_BERT_V2 (JinaBertV2Model: "JinaBertModel", "JinaBertForMaskedLM")

# gguf-py tensor_mapping.py's "jina-bert-v2" entries. JinaBertV2Model has no modify_tensors of its own: the fused
# GeGLU projection mlp.gated_layers [2I, H] is written as it is, as ONE ffn_up of 2I rows (tensor_mapping lists
# "encoder.layer.{bid}.mlp.gated_layers" under FFN_UP), and no ffn_gate. llama.cpp (src/models/bert.cpp) sees an
# ffn_up wider than n_ff without ffn_gate (up_contains_gate) and runs LLM_FFN_GEGLU: ggml_geglu of the 2I outputs,
# GELU on the FIRST I (rows 0..I-1) times the second I, which is JinaBertGLUMLP's gelu(u[:I]) * u[I:]. Older
# converters (2024) split the tensor instead: rows 0..I-1 as gated_layers_w -> ffn_gate, rows I..2I-1 as
# gated_layers_v -> ffn_up (LLM_FFN_GELU, LLM_FFN_PAR: gelu(ffn_gate(x)) * ffn_up(x), the same function); llama.cpp
# still loads that layout.
JINA_FIXED = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.LayerNorm": "token_embd_norm",
}
JINA_LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "mlp.gated_layers": "ffn_up",
    "mlp.wo": "ffn_down",
    "mlp.layernorm": "layer_output_norm",
}


def jina_gguf_name(hf):
    """convert_hf_to_gguf.py's mapping for MODEL_ARCH.JINA_BERT_V2."""
    return mapped_name(hf, JINA_FIXED, JINA_LAYER, "encoder.layer")


def run_jina_oracle(W, cfg, ids):
    """float64 hidden states [embeddings.LayerNorm, layer 1..L] of one right-padded batch ([PAD] = 0) by
    make_jina.forward, checked against each text alone and make_jina.forward_functional (ALiBi by an explicit loop,
    closed-form slopes). Returns the states and (weights, ids, mask) to rerun forward with a deliberate mistake."""
    Wt = {n: torch.from_numpy(np.asarray(a, np.float64)) for n, a in W.items()}
    with torch.no_grad():
        states, inp, mask, _ = pno.batch_states(JNAME, ids, 0, mj.forward, mj.forward_functional, Wt, cfg, "")
    return states, (Wt, inp, mask)


def main_jina():
    os.makedirs(JFOLDER, exist_ok=True)
    cfg = pno.read_json(os.path.join(JSOURCE, "config.json"))
    assert cfg["position_embedding_type"] == "alibi" and cfg["feed_forward_type"] == "geglu"
    assert cfg["architectures"] == ["JinaBertForMaskedLM"] and cfg["hidden_act"] == "gelu"
    H_, I_ = cfg["hidden_size"], cfg["intermediate_size"]
    assert H_ % 32 == 0 and I_ % 32 == 0  # every row (64 or 96 values) is whole Q8_0 blocks
    tok_json = pno.read_json(os.path.join(JSOURCE, "tokenizer.json"))
    tok_cfg = pno.read_json(os.path.join(JSOURCE, "tokenizer_config.json"))
    assert tok_cfg["tokenizer_class"] == "BertTokenizer"  # JinaBertV2Model.set_vocab -> BertModel.set_vocab
    pooling = pno.read_json(os.path.join(JSOURCE, "1_Pooling", "config.json"))
    assert pooling["pooling_mode_mean_tokens"]
    vocab = tok_json["model"]["vocab"]
    specials = [a["content"] for a in tok_json["added_tokens"]]
    tok = mf.WordPieceTokenizer(vocab, True, "[UNK]", "[CLS]", "[SEP]", added=specials)
    assert cfg["vocab_size"] == len(vocab)
    vkv = vocab_metadata(tok_json, tok_cfg, types=cfg["type_vocab_size"])
    tokens = dict((k[0], k[2]) for k in vkv)["tokenizer.ggml.tokens"]

    src = pno.read_json(os.path.join(JSOURCE, "expected.json"))
    texts, ids = src["texts"], src["ids"]
    assert [tok.encode(t) for t in texts] == ids
    assert src["slopes"] == mj.alibi_slopes(cfg["num_attention_heads"])

    W = mf.read_safetensors(os.path.join(JSOURCE, "model.safetensors"))
    assert W["encoder.layer.0.mlp.gated_layers.weight"].shape == (2 * I_, H_)
    assert not any(n.startswith("cls.") or n.startswith("bert.") for n in W)
    tensors = gguf_tensors(W, jina_gguf_name)
    n_params = sum(a.size for _, _, a in tensors)

    states, (Wt, inp, mask) = run_jina_oracle(W, cfg, ids)
    mean = pooled(states, ids)[0]
    L = cfg["num_hidden_layers"]
    same_as_source(mean, JSOURCE, L)
    # what this fixture tells apart: the GELU on the second half of ffn_up, ALiBi left out, the slopes reversed
    lengths = [len(x) for x in ids]
    slopes = mj.alibi_slopes(cfg["num_attention_heads"])
    moved = mutants(states, lengths, lambda **kw: mj.forward(Wt, cfg, "", inp, mask, **kw),
                    {"GELU on the second half": dict(swap_glu=True), "no ALiBi": dict(alibi=False),
                     "slopes reversed": dict(slopes=slopes[::-1])})

    def check(kv, stored, types):
        assert kv["general.architecture"] == JARCH and kv[f"{JARCH}.context_length"] == cfg["max_position_embeddings"]
        assert kv["tokenizer.ggml.tokens"] == tokens and not any(".ffn_gate." in g for g in stored)
        for l in range(L):
            up = stored[f"blk.{l}.ffn_up.weight"]
            assert up[1] == (2 * I_, H_) and up[2] == quantize(W[f"encoder.layer.{l}.mlp.gated_layers.weight"],
                                                               types[f"blk.{l}.ffn_up.weight"])
            assert stored[f"blk.{l}.ffn_down.weight"][1] == (H_, I_)

    def meta(ftype, by_quantize):
        return metadata(cfg, n_params, ftype, vkv, by_quantize, name=JNAME, arch=JARCH)

    files = write_files(JFOLDER, JFILES, tensors, ids, mean, meta, check, lambda Wq: run_jina_oracle(Wq, cfg, ids)[0])

    # The older converters' layout (2024: Ollama's jina models were made then): gated_layers split in two, its
    # GELU'd half (rows 0..I-1, gated_layers_w) as ffn_gate, the linear half (gated_layers_v) as ffn_up; llama.cpp
    # still reads it, as gelu(ffn_gate(x)) * ffn_up(x).
    split = []
    for h, g, a in tensors:
        if g.endswith(".ffn_up.weight"):
            split += [(h + "#gate", g.replace(".ffn_up.", ".ffn_gate."), a[:I_]), (h + "#up", g, a[I_:])]
        else:
            split.append((h, g, a))

    def check_split(kv, stored, types):
        assert kv["general.architecture"] == JARCH
        for l in range(L):
            assert stored[f"blk.{l}.ffn_gate.weight"][1] == (I_, H_) and stored[f"blk.{l}.ffn_up.weight"][1] == (I_, H_)

    def joined(Wq):
        W2 = {h: a for h, a in Wq.items() if "#" not in h}
        for h in {h.split("#")[0] for h in Wq if "#" in h}:
            W2[h] = np.concatenate([Wq[h + "#gate"], Wq[h + "#up"]])
        return run_jina_oracle(W2, cfg, ids)[0]

    files.update(write_files(JFOLDER, [("f16-split.gguf", "f16", FTYPE_MOSTLY_F16, False)], split, ids, mean, meta,
                             check_split, joined))
    write_expected(
        JFOLDER, {"model": JNAME, "source": "jina-tiny", "texts": texts, "ids": ids,
                  "tokens": [tok.tokens(t) for t in texts]}, states, files,
        "The weights of fixtures/jina-tiny (make_jina.py: JinaBERT v2, hidden 64, 3 layers, 4 heads, ALiBi slopes "
        "2^-2 2^-4 2^-6 2^-8, GeGLU intermediate 96, vocab 2062) as llama.cpp's converter writes a JinaBertV2Model "
        "(architecture jina-bert-v2; mlp.gated_layers [192, 64] -> ONE ffn_up.weight of 2I = 192 rows, rows 0..95 "
        "the GELU'd half, rows 96..191 the linear half; no ffn_gate; mlp.wo -> ffn_down, mlp.layernorm -> "
        "layer_output_norm; no position table). texts / ids: jina-tiny's (the Hugging Face BertTokenizer ids of its "
        "tokenizer.json, [CLS] ... [SEP]). mean / cls: the last layer's mean over the real tokens (not normalised) "
        "and token 0, from jina-tiny's float32 weights by make_jina.forward (float64; one right-padded batch checked "
        "against each text alone and make_jina.forward_functional; equal to jina-tiny's expected.safetensors). "
        "layer_mean[i][l]: mean after embeddings.LayerNorm (l=0) and after layer l. files[f].mean / .cls: the same "
        "oracle run on the weights file f stores, dequantized; files[f].tensor_types: the ggml type of every tensor "
        "in f. Values rounded to 7 significant digits.",
        sum(x.count(vocab["[UNK]"]) for x in ids), n_params,
        "min cosine of the mean with " + ", ".join(f"{k} {v:.4f}" for k, v in moved.items()))


def main():
    errs = roundtrip_checks()
    print("round trips (relative error): " + ", ".join(f"{t} {e:.4f}" for t, e in errs.items()))
    main_bert()
    main_xlmr()
    main_nomic()
    main_jina()


if __name__ == "__main__":
    main()
