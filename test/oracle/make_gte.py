#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's GTE "new" architecture (Alibaba-NLP/new-impl).

Writes fixtures/gte-tiny/ (shaped like Alibaba-NLP/gte-multilingual-base: model_type "new",
NewForTokenClassification with the `new.` prefix and a classifier head, NTK-scaled RoPE, F32) and
fixtures/gte-arctic-tiny/ (shaped like Snowflake/snowflake-arctic-embed-m-v2.0: model_type "gte",
GteModel without a prefix, plain RoPE with theta 160000, F16), see README.md next to this file. Both
reuse xlmr-tiny's tokenizer (XLM-R special-token layout) and its verified texts and ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_gte.py   (~5 s; after make_fixtures.py)
What it shares with make_nomic.py and make_jina.py (float64 building blocks, checks, fixture files) is in
post_norm_oracle.py.

The forward below is written by hand in float64 from new-impl's modeling.py (NewEmbeddings,
RotaryEmbedding / NTKScalingRotaryEmbedding, NewAttention with pack_qkv, NewGatedMLP, NewLayer);
transformers is not used. Conventions it follows, all read from that source:
  - embeddings: word_embeddings[ids] + token_type_embeddings[0] (type_vocab_size > 0, token types all
    0), no learned position table (position_embedding_type "rope"), then LayerNorm "embeddings.LayerNorm"
  - RoPE: rotate_half (non-interleaved) over the whole head, positions 0..len-1 in each right-padded row,
    inv_freq_j = base^(-2j/d). rope_scaling {"type": "ntk", "factor": f}: the cos/sin cache is built at
    init for P*f positions, which exceeds P when f > 1, so the scaled frequencies are ALWAYS used:
    without mixed_b, base' = rope_theta * f and inv_freq_j = base'^(-2j/d) / f^(2/d); with mixed_b = b,
    inv_freq_j = rope_theta^(-2j/d) / exp(a (j+1)^b), a = ln(f) / (d/2)^b. rope_scaling null: unscaled.
  - layer: qkv = qkv_proj(x) split into q, k, v of H each (in that order), each [B, S, nh, d]; RoPE on
    q, k; softmax(q k^T / sqrt(d) + mask) v (bidirectional, padding keys masked); o_proj; post-norm:
    h = attn_ln(x + o); up_gate = up_gate_proj(h) (no bias), first I = up, last I = gate;
    x' = mlp_ln(h + down_proj(gelu(gate) * up)); exact erf GELU ("gelu")
  - hidden_states = [embedding output, layer 1, ..., layer L], no final norm
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402

import math  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Standard deviations of the random weights (LayerNorm weights 1 + 0.1*N(0,1), biases 0.1*N(0,1)).
# Inputs to every projection are LayerNorm outputs (unit scale), so query/key 0.15 gives per-head logits
# of std about 2: attention is clearly non-uniform without being one-hot. The MLP is the most sensitive
# part of these post-norm layers; up_gate 0.15 / down 0.08 keep per-row q8 rounding of the weights
# (simulated below) at cosine >= 0.999 on CLS while every deliberate mistake still moves it far. The
# token-type row is large enough that dropping it moves the output too.
STD = {"emb": 0.5, "type": 0.2, "qk": 0.15, "v": 0.15, "o": 0.12, "up_gate": 0.15, "down": 0.08}


def make_weights(cfg, prefix, seed, classifier):
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    wt = pn.RandomWeights(seed, H)
    wt.embeddings(prefix, cfg["vocab_size"], cfg["type_vocab_size"], STD, prefix + "embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        wt.packed_qkv(p + "attention.qkv_proj", STD)
        wt.lin(p + "attention.o_proj", H, H, STD["o"])
        wt.ln(p + "attn_ln")
        wt.lin(p + "mlp.up_gate_proj", 2 * I, H, STD["up_gate"], bias=False)
        wt.lin(p + "mlp.down_proj", H, I, STD["down"])
        wt.ln(p + "mlp_ln")
    if classifier:  # NewForTokenClassification's head (num_labels 1); the runtime must ignore it.
        wt.lin("classifier", 1, H, 0.2)
    return wt.w


# --------------------------------------------------------------------------------------------------
# GTE forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def inv_freq(theta, scaling, d):
    """new-impl's RotaryEmbedding / NTKScalingRotaryEmbedding frequencies, as the model uses them."""
    two_j = torch.arange(0, d, 2, dtype=torch.float64)
    if scaling is None:
        return 1.0 / (theta ** (two_j / d))
    assert scaling.get("type", scaling.get("rope_type")) == "ntk", scaling
    f, b = float(scaling["factor"]), scaling.get("mixed_b")
    assert f > 1.0, "with factor <= 1 the cache is not rebuilt at init; not modelled here"
    if b is None:
        return 1.0 / ((theta * f) ** (two_j / d)) / f ** (2.0 / d)
    a = math.log(f) / (d / 2) ** b
    lam = torch.exp(a * torch.arange(1, d // 2 + 1, dtype=torch.float64) ** b)
    return 1.0 / (theta ** (two_j / d)) / lam


def forward(W, cfg, prefix, ids, mask, rope="model", swap_up_gate=False, no_type=False):
    """hidden_states [emb, layer 1..L], each [B, S, H]. rope: "model" (as the config says), "unscaled"
    (ignore rope_scaling), "theta10k" (rope_theta 10000, no scaling) or "none" (no rotation)."""
    H, nh, I, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"]
    d = H // nh
    B, S = ids.shape
    lin = lambda t, name: pn.linear(W, t, prefix + name)  # noqa: E731
    x = pn.embeddings(W, ids, prefix, prefix + "embeddings.LayerNorm", eps, no_type)
    states = [x]
    theta, scaling = float(cfg["rope_theta"]), cfg["rope_scaling"]
    if rope == "unscaled":
        scaling = None
    elif rope == "theta10k":
        theta, scaling = 10000.0, None
    cos, sin = pn.rope_cos_sin(inv_freq(theta, scaling, d), S)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (t.view(B, S, nh, d) for t in lin(x, p + "attention.qkv_proj").split(H, dim=-1))
        if rope != "none":
            q, k = pn.apply_rope(q, cos, sin), pn.apply_rope(k, cos, sin)
        ctx = pn.attention(q, k, v, mask)
        h = pn.layer_norm(x + lin(ctx, p + "attention.o_proj"), W, prefix + p + "attn_ln", eps)
        up, gate = lin(h, p + "mlp.up_gate_proj").split(I, dim=-1)
        if swap_up_gate:
            up, gate = gate, up
        x = pn.layer_norm(h + lin(mf.gelu(gate) * up, p + "mlp.down_proj"), W, prefix + p + "mlp_ln", eps)
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Route 2: complex-number RoPE, torch.nn.functional attention / LayerNorm / GELU
# --------------------------------------------------------------------------------------------------


def inv_freq_numpy(cfg, d):
    """The same frequencies written another way (numpy, logs and exponentials)."""
    theta, scaling, h = float(cfg["rope_theta"]), cfg["rope_scaling"], d // 2
    j = np.arange(h, dtype=np.float64)
    if scaling is None:
        return np.exp(-(2.0 * j / d) * np.log(theta))
    f, b = float(scaling["factor"]), scaling.get("mixed_b")
    if b is None:
        return np.exp(-(2.0 * j / d) * np.log(theta * f) - (2.0 / d) * np.log(f))
    return np.exp(-(2.0 * j / d) * np.log(theta) - np.log(f) * ((j + 1) / h) ** b)


def forward_functional(W, cfg, prefix, ids, mask):
    H, nh, I, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"]
    d = H // nh
    B, S = ids.shape
    g = lambda n: W[prefix + n]  # noqa: E731
    ln = lambda t, n: pn.layer_norm_functional(t, W, prefix + n, eps)  # noqa: E731
    x = pn.embeddings_functional(W, ids, prefix, prefix + "embeddings.LayerNorm", eps)
    states = [x]
    rot = pn.rope_rotation(inv_freq_numpy(cfg, d), S)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        qkv = F.linear(x, g(p + "attention.qkv_proj.weight"), g(p + "attention.qkv_proj.bias"))
        q, k = (pn.rope_complex(t.view(B, S, nh, d), rot) for t in (qkv[..., :H], qkv[..., H : 2 * H]))
        a = pn.attention_functional(q, k, qkv[..., 2 * H :], nh, W, prefix + p + "attention.o_proj", mask)
        h = ln(x + a, p + "attn_ln")
        ug = F.linear(h, g(p + "mlp.up_gate_proj.weight"))
        m = F.gelu(ug[..., I:]) * ug[..., :I]
        x = ln(h + F.linear(m, g(p + "mlp.down_proj.weight"), g(p + "mlp.down_proj.bias")), p + "mlp_ln")
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def run_model(name, cfg, prefix, classifier, dtype, seed, texts, ids, prompts=None):
    folder = pn.new_folder(name, cfg, pn.XLMR)
    versions = {"sentence_transformers": "3.3.1", "transformers": "4.46.3", "pytorch": "2.5.1"}
    pn.write_st_files(folder, cfg["hidden_size"], "cls", 128, prompts=prompts, versions=versions)
    W = pn.store_weights(folder, make_weights(cfg, prefix, seed, classifier), dtype)

    L = cfg["num_hidden_layers"]
    lengths = [len(x) for x in ids]
    assert max(t for x in ids for t in x) < cfg["vocab_size"]
    with torch.no_grad():
        # Route 1 on one padded batch, checked against each text alone and against route 2 (complex RoPE,
        # F.multi_head_attention_forward, F.layer_norm, F.gelu).
        states, inp, mask, route = pn.batch_states(
            name, ids, cfg["pad_token_id"], forward, forward_functional, W, cfg, prefix
        )
        # The fixture must tell the conventions apart.
        cls_last = states[L][:, 0]
        last_cls = lambda **kw: forward(W, cfg, prefix, inp, mask, **kw)[L][:, 0]  # noqa: E731
        rope_mistake = "unscaled" if cfg["rope_scaling"] is not None else "theta10k"
        cos_rope = pn.min_cosine(last_cls(rope=rope_mistake), cls_last)
        cos_swap = pn.min_cosine(last_cls(swap_up_gate=True), cls_last)
        cos_none = pn.min_cosine(last_cls(rope="none"), cls_last)
        cos_type = pn.min_cosine(last_cls(no_type=True), cls_last)
        for c in (cos_rope, cos_swap, cos_none, cos_type):
            assert c < 0.999, (name, cos_rope, cos_swap, cos_none, cos_type)
        # Not a check, a figure: how far q8 weight rounding alone moves the last CLS (float64 compute).
        cos_q8 = pn.min_cosine(forward(pn.q8_rows(W), cfg, prefix, inp, mask)[L][:, 0], cls_last)
        pair = pn.mean_token_cosine(states[L], lengths)

    note = (
        "hidden.{i}.{l} (l=0..layers): [len_i, hidden], real tokens only; l=0 is the embedding output after its "
        "LayerNorm, l=k the output of layer k (post-norm, after mlp_ln; no final norm). mean.{i}.{l} / cls.{i}.{l} "
        "(l>=1): mean over real tokens (not normalised) / token 0 (what CLS pooling takes). "
    )
    pn.write_expected(folder, name, texts, ids, states, note)
    print(
        f"{name}: vocab {cfg['vocab_size']}, {len(texts)} texts, lengths {lengths}; min CLS cosine (last layer) "
        f"vs {'unscaled RoPE' if rope_mistake == 'unscaled' else 'rope_theta 10000'} {cos_rope:.4f}, "
        f"up/gate swapped {cos_swap:.4f}, no RoPE {cos_none:.4f}, no token type {cos_type:.4f}; "
        f"route 2 max diff {route:.1e}; q8 weights {cos_q8:.5f}; mean token cosine {pair:.2f}"
    )


def config(vocab_size, **kw):
    """The fields of gte-multilingual-base's config.json (new-impl's NewConfig), sizes scaled down."""
    cfg = {
        "architectures": ["NewForTokenClassification"],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {
            "AutoConfig": "Alibaba-NLP/new-impl--configuration.NewConfig",
            "AutoModel": "Alibaba-NLP/new-impl--modeling.NewModel",
        },
        "classifier_dropout": 0.0,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 64,
        "id2label": {"0": "LABEL_0"},
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "label2id": {"LABEL_0": 0},
        "layer_norm_eps": 1e-12,
        "layer_norm_type": "layer_norm",
        "logn_attention_clip1": False,
        "logn_attention_scale": False,
        "max_position_embeddings": 128,
        "model_type": "new",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "pack_qkv": True,
        "pad_token_id": 1,
        "position_embedding_type": "rope",
        "rope_scaling": {"factor": 4.0, "type": "ntk"},
        "rope_theta": 10000,
        "torch_dtype": "float32",
        "type_vocab_size": 1,
        "unpad_inputs": False,
        "use_memory_efficient_attention": False,
        "vocab_size": vocab_size,
    }
    cfg.update(kw)
    return cfg


def self_test_frequencies():
    """The two written forms of the RoPE frequencies agree for every rope_scaling form (mixed_b included,
    which no fixture uses), and the NTK forms really differ from the plain one."""
    d = 16
    plain = inv_freq(10000.0, None, d).numpy()
    for scaling in (None, {"type": "ntk", "factor": 4.0}, {"type": "ntk", "factor": 4.0, "mixed_b": 0.7}):
        a = inv_freq(10000.0, scaling, d).numpy()
        b = inv_freq_numpy({"rope_theta": 10000, "rope_scaling": scaling}, d)
        assert np.abs(a / b - 1).max() < 1e-12, (scaling, a, b)
        assert scaling is None or np.abs(a / plain - 1).max() > 0.05, scaling


def main():
    texts, ids, vocab_size = pn.source_texts(pn.XLMR)
    assert all(x[0] == 0 and x[-1] == 2 for x in ids)  # <s> ... </s>
    self_test_frequencies()
    gte = config(vocab_size)
    # The scaled frequencies apply at every length, so texts within P exercise them; m3web reads P as the
    # longest input (gte-multilingual-base's card states 8192 = P), so every text fits in P.
    assert max(len(x) for x in ids) <= gte["max_position_embeddings"]
    run_model("gte-tiny", gte, "new.", True, np.float32, 2024, texts, ids)
    arctic = config(
        vocab_size,
        architectures=["GteModel"],
        model_type="gte",
        max_position_embeddings=512,
        rope_scaling=None,
        rope_theta=160000,
        torch_dtype="float16",
    )
    for k in ("id2label", "label2id"):
        del arctic[k]
    prompts = {"query": "query: ", "document": ""}
    run_model("gte-arctic-tiny", arctic, "", False, np.float16, 4202, texts, ids, prompts)


if __name__ == "__main__":
    main()
