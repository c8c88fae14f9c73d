#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's GTE "new" architecture (Alibaba-NLP/new-impl).

Writes fixtures/gte-tiny/ (shaped like Alibaba-NLP/gte-multilingual-base: model_type "new",
NewForTokenClassification with the `new.` prefix and a classifier head, NTK-scaled RoPE, F32) and
fixtures/gte-arctic-tiny/ (shaped like Snowflake/snowflake-arctic-embed-m-v2.0: model_type "gte",
GteModel without a prefix, plain RoPE with theta 160000, F16), see README.md next to this file. Both
reuse xlmr-tiny's tokenizer (XLM-R special-token layout) and its verified texts and ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_gte.py   (~5 s; after make_fixtures.py)

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

import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

OUT = mf.OUT
XLMR = os.path.join(OUT, "xlmr-tiny")

# Standard deviations of the random weights (LayerNorm weights 1 + 0.1*N(0,1), biases 0.1*N(0,1)).
# Inputs to every projection are LayerNorm outputs (unit scale), so query/key 0.15 gives per-head logits
# of std about 2: attention is clearly non-uniform without being one-hot. The MLP is the most sensitive
# part of these post-norm layers; up_gate 0.15 / down 0.08 keep per-row q8 rounding of the weights
# (simulated below) at cosine >= 0.999 on CLS while every deliberate mistake still moves it far. The
# token-type row is large enough that dropping it moves the output too.
STD = {"emb": 0.5, "type": 0.2, "qk": 0.15, "v": 0.15, "o": 0.12, "up_gate": 0.15, "down": 0.08}


def make_weights(cfg, prefix, seed, classifier):
    rs = np.random.RandomState(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    w = []

    def normal(name, shape, std):
        w.append((name, rs.standard_normal(shape) * std))

    def ln(name):
        w.append((name + ".weight", 1.0 + 0.1 * rs.standard_normal((H,))))
        w.append((name + ".bias", 0.1 * rs.standard_normal((H,))))

    def lin(name, o, i, std, bias=True):
        normal(name + ".weight", (o, i), std)
        if bias:
            normal(name + ".bias", (o,), 0.1)

    e = prefix + "embeddings."
    normal(e + "word_embeddings.weight", (V, H), STD["emb"])
    normal(e + "token_type_embeddings.weight", (cfg["type_vocab_size"], H), STD["type"])
    ln(e + "LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        qkv = rs.standard_normal((3 * H, H))
        qkv[: 2 * H] *= STD["qk"]
        qkv[2 * H :] *= STD["v"]
        w.append((p + "attention.qkv_proj.weight", qkv))
        normal(p + "attention.qkv_proj.bias", (3 * H,), 0.1)
        lin(p + "attention.o_proj", H, H, STD["o"])
        ln(p + "attn_ln")
        lin(p + "mlp.up_gate_proj", 2 * I, H, STD["up_gate"], bias=False)
        lin(p + "mlp.down_proj", H, I, STD["down"])
        ln(p + "mlp_ln")
    if classifier:  # NewForTokenClassification's head (num_labels 1); the runtime must ignore it.
        lin("classifier", 1, H, 0.2)
    return w


# --------------------------------------------------------------------------------------------------
# GTE forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def layer_norm(x, W, name, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


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
    g = lambda n: W[prefix + n]  # noqa: E731

    def lin(t, name):
        y = t @ g(name + ".weight").T
        return y + g(name + ".bias") if prefix + name + ".bias" in W else y

    x = g("embeddings.word_embeddings.weight")[ids]
    if not no_type:
        x = x + g("embeddings.token_type_embeddings.weight")[torch.zeros_like(ids)]
    x = layer_norm(x, W, prefix + "embeddings.LayerNorm", eps)
    states = [x]
    theta, scaling = float(cfg["rope_theta"]), cfg["rope_scaling"]
    if rope == "unscaled":
        scaling = None
    elif rope == "theta10k":
        theta, scaling = 10000.0, None
    pos = torch.arange(S, dtype=torch.float64)
    freqs = pos[:, None] * inv_freq(theta, scaling, d)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)[None, :, None, :]  # [1, S, 1, d]
    cos, sin = emb.cos(), emb.sin()
    add_mask = (1.0 - mask.to(torch.float64))[:, None, None, :] * torch.finfo(torch.float64).min
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (t.view(B, S, nh, d) for t in lin(x, p + "attention.qkv_proj").split(H, dim=-1))
        if rope != "none":
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, nh, S, d]
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + add_mask, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, S, H)
        h = layer_norm(x + lin(ctx, p + "attention.o_proj"), W, prefix + p + "attn_ln", eps)
        up, gate = lin(h, p + "mlp.up_gate_proj").split(I, dim=-1)
        if swap_up_gate:
            up, gate = gate, up
        x = layer_norm(h + lin(gelu(gate) * up, p + "mlp.down_proj"), W, prefix + p + "mlp_ln", eps)
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
    d, half = H // nh, H // nh // 2
    B, S = ids.shape
    g = lambda n: W[prefix + n]  # noqa: E731
    ln = lambda t, n: F.layer_norm(t, (H,), g(n + ".weight"), g(n + ".bias"), eps)  # noqa: E731
    x = F.embedding(ids, g("embeddings.word_embeddings.weight"))
    x = ln(x + F.embedding(torch.zeros_like(ids), g("embeddings.token_type_embeddings.weight")), "embeddings.LayerNorm")
    states = [x]
    ang = torch.from_numpy(np.outer(np.arange(S, dtype=np.float64), inv_freq_numpy(cfg, d)))  # [S, d/2]
    rot = torch.polar(torch.ones_like(ang), ang)[None, :, None, :]  # e^{i angle}, [1, S, 1, d/2]

    def rope(t):  # pairs (t_j, t_{j+d/2}) as complex numbers, times e^{i angle_j}
        t = t.view(B, S, nh, d)
        z = torch.complex(t[..., :half], t[..., half:]) * rot
        return torch.cat((z.real, z.imag), dim=-1).reshape(B, S, H)

    eye, zeros = torch.eye(H, dtype=torch.float64), torch.zeros(3 * H, dtype=torch.float64)
    pad = ~mask.bool()
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        qkv = F.linear(x, g(p + "attention.qkv_proj.weight"), g(p + "attention.qkv_proj.bias"))
        q, k, v = qkv[..., :H], qkv[..., H : 2 * H], qkv[..., 2 * H :]
        q, k = rope(q), rope(k)
        tr = lambda t: t.transpose(0, 1)  # noqa: E731  [S, B, H] for multi_head_attention_forward
        a, _ = F.multi_head_attention_forward(
            tr(q), tr(k), tr(v), H, nh,
            in_proj_weight=None, in_proj_bias=zeros, bias_k=None, bias_v=None, add_zero_attn=False,
            dropout_p=0.0, out_proj_weight=g(p + "attention.o_proj.weight"),
            out_proj_bias=g(p + "attention.o_proj.bias"), training=False, key_padding_mask=pad,
            need_weights=False, use_separate_proj_weight=True, q_proj_weight=eye, k_proj_weight=eye,
            v_proj_weight=eye,
        )  # fmt: skip
        h = ln(x + tr(a), p + "attn_ln")
        ug = F.linear(h, g(p + "mlp.up_gate_proj.weight"))
        m = F.gelu(ug[..., I:]) * ug[..., :I]
        x = ln(h + F.linear(m, g(p + "mlp.down_proj.weight"), g(p + "mlp.down_proj.bias")), p + "mlp_ln")
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def q8_rows(W):
    """Weights rounded as the runtime's q8 stores them: int8 per output row, scale absmax / 127."""
    out = {}
    for n, a in W.items():
        s = a.abs().max(-1, keepdim=True).values / 127 if a.dim() == 2 else None
        out[n] = torch.round(a / s) * s if s is not None else a
    return out


def min_cls_cosine(a, b, L):
    u, w = a[L][:, 0], b[L][:, 0]  # token 0 of every row, last layer
    return (u * w).sum(-1).div(u.norm(dim=-1) * w.norm(dim=-1)).min().item()


def write_st_files(folder, hidden, prompts):
    mf.write_json(
        os.path.join(folder, "modules.json"),
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    os.makedirs(os.path.join(folder, "1_Pooling"))
    mf.write_json(
        os.path.join(folder, "1_Pooling", "config.json"),
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": True,
            "pooling_mode_mean_tokens": False,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    os.makedirs(os.path.join(folder, "2_Normalize"))  # empty, as sentence-transformers saves it
    mf.write_json(os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": 128, "do_lower_case": False})
    if prompts is not None:
        mf.write_json(
            os.path.join(folder, "config_sentence_transformers.json"),
            {
                "model_type": "SentenceTransformer",
                "__version__": {"sentence_transformers": "3.3.1", "transformers": "4.46.3", "pytorch": "2.5.1"},
                "prompts": prompts,
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
        )


def run_model(name, cfg, prefix, classifier, dtype, seed, texts, ids, prompts=None):
    folder = os.path.join(OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(XLMR, f), os.path.join(folder, f))
    write_st_files(folder, cfg["hidden_size"], prompts)
    stored = [(n, a.astype(dtype)) for n, a in make_weights(cfg, prefix, seed, classifier)]
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, stored, {"format": "pt"})
    W = {n: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}

    L, H = cfg["num_hidden_layers"], cfg["hidden_size"]
    lengths = [len(x) for x in ids]
    assert max(t for x in ids for t in x) < cfg["vocab_size"]
    B, S = len(ids), max(lengths)
    inp = torch.full((B, S), cfg["pad_token_id"], dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    with torch.no_grad():
        states = forward(W, cfg, prefix, inp, mask)
        for i, x in enumerate(ids):  # each text alone must equal its rows of the padded batch
            alone = forward(W, cfg, prefix, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long))
            for l in range(L + 1):
                diff = (alone[l][0] - states[l][i, : len(x)]).abs().max().item()
                assert diff < 1e-9, (name, "alone", i, l, diff)
        # Second route: complex RoPE, F.multi_head_attention_forward, F.layer_norm, F.gelu.
        other = forward_functional(W, cfg, prefix, inp, mask)
        route = max(
            (other[l][i, :n] - states[l][i, :n]).abs().max().item() for l in range(L + 1) for i, n in enumerate(lengths)
        )
        assert route < 1e-9, (name, "route 2", route)
        # The fixture must tell the conventions apart.
        rope_mistake = "unscaled" if cfg["rope_scaling"] is not None else "theta10k"
        cos_rope = min_cls_cosine(forward(W, cfg, prefix, inp, mask, rope=rope_mistake), states, L)
        cos_swap = min_cls_cosine(forward(W, cfg, prefix, inp, mask, swap_up_gate=True), states, L)
        cos_none = min_cls_cosine(forward(W, cfg, prefix, inp, mask, rope="none"), states, L)
        cos_type = min_cls_cosine(forward(W, cfg, prefix, inp, mask, no_type=True), states, L)
        for c in (cos_rope, cos_swap, cos_none, cos_type):
            assert c < 0.999, (name, cos_rope, cos_swap, cos_none, cos_type)
        # Not a check, a figure: how far q8 weight rounding alone moves the last CLS (float64 compute).
        cos_q8 = min_cls_cosine(forward(q8_rows(W), cfg, prefix, inp, mask), states, L)
        # Conditioning: token states at the last layer stay distinct (mean pairwise cosine, real tokens).
        last = torch.cat([states[L][i, :n] for i, n in enumerate(lengths)])
        unit = last / last.norm(dim=-1, keepdim=True)
        pair = ((unit @ unit.T).sum() - len(unit)).item() / (len(unit) * (len(unit) - 1))

    out = []
    for i, n in enumerate(lengths):
        for l in range(L + 1):
            h = states[l][i, :n]
            out.append((f"hidden.{i}.{l}", h.numpy().astype(np.float32)))
            if l == 0:
                continue
            out.append((f"mean.{i}.{l}", h.mean(0).numpy().astype(np.float32)))
            out.append((f"cls.{i}.{l}", h[0].numpy().astype(np.float32)))
    mf.write_safetensors(os.path.join(folder, "expected.safetensors"), out)
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {
            "model": name,
            "texts": texts,
            "ids": ids,
            "layers": L,
            "hidden": H,
            "note": "hidden.{i}.{l} (l=0..layers): [len_i, hidden], real tokens only; l=0 is the embedding "
            "output after its LayerNorm, l=k the output of layer k (post-norm, after mlp_ln; no final norm). "
            "mean.{i}.{l} / cls.{i}.{l} (l>=1): mean over real tokens (not normalised) / token 0 (what CLS "
            "pooling takes). Computed in float64 from the stored weights (one right-padded batch, checked "
            "against each text alone and a second attention route), stored as F32.",
        },
    )
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
    with open(os.path.join(XLMR, "expected.json"), encoding="utf-8") as f:
        xlmr = json.load(f)
    with open(os.path.join(XLMR, "config.json"), encoding="utf-8") as f:
        vocab_size = json.load(f)["vocab_size"]
    texts, ids = xlmr["texts"], xlmr["ids"]
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
