#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's NomicBERT architecture (model_type "nomic_bert").

Writes fixtures/nomic-tiny/ (shaped like nomic-ai/nomic-embed-text-v1.5: NomicBertModel, SwiGLU, no
biases, rotary_emb_base 1000, F32, mean pooling + Normalize, the search_query / search_document prompts,
and the model card's Matryoshka recipe) and fixtures/nomic-bias-tiny/ (every bias the config can switch
on, GeGLU, rotary_emb_base 10000, F16), see README.md next to this file. Both reuse bert-tiny's tokenizer
(uncased WordPiece, [PAD]=0 [CLS]=2 [SEP]=3) and its verified texts and ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_nomic.py   (~5 s; after make_fixtures.py)

The forward below is written by hand in float64 from nomic-ai/nomic-bert-2048's modeling_hf_nomic_bert.py
(NomicBertEmbeddings, NomicBertRotaryEmbedding, apply_rotary_emb / rotate_half, NomicBertAttention,
NomciBertGatedMLP, NomicBertBlock with prenorm false, NomicBertModel); transformers is not used.
Conventions it follows, all read from that source:
  - vocab_size is rounded up to a multiple of pad_vocab_size_multiple (NomicBertModel.__init__); the
    table has that many rows
  - embeddings: word_embeddings[ids] + token_type_embeddings[0] (type_vocab_size > 0, token_type_ids
    default to zeros), no position table (rotary_emb_fraction > 0 sets max_position_embeddings to 0),
    then emb_ln (LayerNorm, eps layer_norm_epsilon)
  - attention: qkv = attn.Wqkv(x) ([3H, H], bias iff qkv_proj_bias), rearranged "(three h d)": q, k, v
    are rows [0, H), [H, 2H), [2H, 3H), each nh heads of d = H / nh. RoPE over rotary_emb_fraction * d
    = the whole head, not interleaved: rotate_half(x) = cat(-x2, x1) of the two halves, cos / sin of
    pos * inv_freq repeated "(2 d)", inv_freq_j = 1 / base^(2j/d), base = rotary_emb_base; positions
    0..seqlen-1 of the batch, so 0..len-1 in each right-padded row. softmax(q k^T / sqrt(d) + mask) v,
    bidirectional, padding keys masked; attn.out_proj (bias iff qkv_proj_bias)
  - block (prenorm false): h = norm1(x + attn(x)); y = fc11(h), gate = fc12(h) (biases iff
    mlp_fc1_bias); m = y * act(gate), act = F.silu for "swiglu", F.gelu (exact erf) for "geglu";
    x' = norm2(h + fc2(m)) (bias iff mlp_fc2_bias). The MLP width is n_inner rounded UP to a multiple
    of 256 (NomciBertGatedMLP's multiple_of default); nomic-bias-tiny's n_inner 192 exercises that
  - hidden_states = [emb_ln output, layer 1, ..., layer L], no final norm
  - Matryoshka (nomic-embed-text-v1.5's model card): mean over real tokens of the last layer,
    F.layer_norm(emb, (H,)) without affine (eps 1e-5, the default), emb[:, :dim], F.normalize(p=2)
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
BERT = os.path.join(OUT, "bert-tiny")
MATRYOSHKA_DIMS = (16, 32, 64)
CARD_LN_EPS = 1e-5  # F.layer_norm's default, as the model card calls it

# Standard deviations of the random weights (LayerNorm weights 1 + 0.1*N(0,1), LayerNorm biases
# 0.1*N(0,1) + LN_OFFSET, linear biases 0.1*N(0,1)). Inputs to every projection are LayerNorm outputs
# (unit scale), so query/key 0.15 gives per-head logits of std about 2: attention is clearly non-uniform
# without being one-hot. fc11 / fc12 0.15 and fc2 0.05 keep per-row q8 rounding of the weights
# (simulated below) at cosine >= 0.999 on the last CLS while every deliberate mistake still moves it far.
# The token-type row is large enough that dropping it moves the output too. LN_OFFSET gives the
# LayerNorm biases a common mean: the mean-pooled vector then has a feature mean that the card's
# layer_norm step removes, so the fixture tells the recipe with and without it apart (with LN_OFFSET 0
# the two agree to cosine 0.9992 / 0.9995 at dim 16 and that check would fail).
STD = {"emb": 0.5, "type": 0.2, "qk": 0.15, "v": 0.15, "o": 0.12, "fc1": 0.15, "fc2": 0.05}
LN_OFFSET = 0.1


def mlp_width(cfg):
    """NomciBertGatedMLP's hidden_features: n_inner rounded UP to a multiple of 256 (its multiple_of
    default, which NomicBertBlock does not override). nomic-embed-text-v1.5's 3072 is already one."""
    return -(-cfg["n_inner"] // 256) * 256


def make_weights(cfg, seed):
    """(name, float64 array) in module order, named as nomic-embed-text-v1.5 stores them (no prefix)."""
    rs = np.random.RandomState(seed)
    H, I, V = cfg["n_embd"], mlp_width(cfg), cfg["vocab_size"]
    w = []

    def normal(name, shape, std):
        w.append((name, rs.standard_normal(shape) * std))

    def ln(name):
        w.append((name + ".weight", 1.0 + 0.1 * rs.standard_normal((H,))))
        w.append((name + ".bias", LN_OFFSET + 0.1 * rs.standard_normal((H,))))

    def lin(name, o, i, std, bias):
        normal(name + ".weight", (o, i), std)
        if bias:
            normal(name + ".bias", (o,), 0.1)

    normal("embeddings.word_embeddings.weight", (V, H), STD["emb"])
    normal("embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], H), STD["type"])
    ln("emb_ln")
    for l in range(cfg["n_layer"]):
        p = f"encoder.layers.{l}."
        qkv = rs.standard_normal((3 * H, H))
        qkv[: 2 * H] *= STD["qk"]
        qkv[2 * H :] *= STD["v"]
        w.append((p + "attn.Wqkv.weight", qkv))
        if cfg["qkv_proj_bias"]:
            normal(p + "attn.Wqkv.bias", (3 * H,), 0.1)
        lin(p + "attn.out_proj", H, H, STD["o"], cfg["qkv_proj_bias"])
        lin(p + "mlp.fc11", I, H, STD["fc1"], cfg["mlp_fc1_bias"])
        lin(p + "mlp.fc12", I, H, STD["fc1"], cfg["mlp_fc1_bias"])
        lin(p + "mlp.fc2", H, I, STD["fc2"], cfg["mlp_fc2_bias"])
        ln(p + "norm1")
        ln(p + "norm2")
    return w


# --------------------------------------------------------------------------------------------------
# NomicBERT forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def layer_norm(x, W, name, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def silu(x):
    return x / (1.0 + torch.exp(-x))


def rotate_half(x, interleaved):
    if not interleaved:
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)
    x1, x2 = x[..., ::2], x[..., 1::2]  # GPT-J pairs (x_2j, x_2j+1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def forward(W, cfg, ids, mask, base=None, interleaved=False, swap_fc=False, no_type=False):
    """hidden_states [emb, layer 1..L], each [B, S, H]. Mistakes: base (another rotary_emb_base),
    interleaved (GPT-J RoPE pairs), swap_fc (fc11 and fc12 exchanged: the activation on the wrong
    branch), no_type (the token-type row dropped)."""
    H, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    d = H // nh
    B, S = ids.shape
    act = {"swiglu": silu, "geglu": gelu}[cfg["activation_function"]]
    assert cfg["rotary_emb_fraction"] == 1.0 and not cfg["rotary_emb_interleaved"] and not cfg["prenorm"]
    assert cfg["rotary_emb_scale_base"] is None and cfg["rotary_scaling_factor"] is None and not cfg["causal"]

    def lin(t, name):
        y = t @ W[name + ".weight"].T
        return y + W[name + ".bias"] if name + ".bias" in W else y

    x = W["embeddings.word_embeddings.weight"][ids]
    if not no_type:
        x = x + W["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    x = layer_norm(x, W, "emb_ln", eps)
    states = [x]
    base = float(cfg["rotary_emb_base"] if base is None else base)
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    freqs = torch.arange(S, dtype=torch.float64)[:, None] * inv_freq[None, :]  # [S, d/2]
    rep = freqs.repeat_interleave(2, dim=-1) if interleaved else torch.cat((freqs, freqs), dim=-1)
    cos, sin = rep.cos()[None, :, None, :], rep.sin()[None, :, None, :]  # [1, S, 1, d]
    add_mask = (1.0 - mask.to(torch.float64))[:, None, None, :] * torch.finfo(torch.float64).min
    for l in range(cfg["n_layer"]):
        p = f"encoder.layers.{l}."
        q, k, v = (t.view(B, S, nh, d) for t in lin(x, p + "attn.Wqkv").split(H, dim=-1))
        q = q * cos + rotate_half(q, interleaved) * sin
        k = k * cos + rotate_half(k, interleaved) * sin
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, nh, S, d]
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + add_mask, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, S, H)
        h = layer_norm(x + lin(ctx, p + "attn.out_proj"), W, p + "norm1", eps)
        y, gate = lin(h, p + "mlp.fc11"), lin(h, p + "mlp.fc12")
        if swap_fc:
            y, gate = gate, y
        x = layer_norm(h + lin(y * act(gate), p + "mlp.fc2"), W, p + "norm2", eps)
        states.append(x)
    return states


def mean_pool(t, lengths):
    return torch.stack([t[i, :n].mean(0) for i, n in enumerate(lengths)])


def matryoshka(mean, dim, with_ln=True):
    """nomic-embed-text-v1.5's card: layer_norm (no affine), truncate, L2-normalise."""
    e = F.layer_norm(mean, (mean.shape[-1],), eps=CARD_LN_EPS) if with_ln else mean
    return F.normalize(e[:, :dim], p=2, dim=1)


# --------------------------------------------------------------------------------------------------
# Route 2: complex-number RoPE, torch.nn.functional attention / LayerNorm / SiLU / GELU
# --------------------------------------------------------------------------------------------------


def forward_functional(W, cfg, ids, mask):
    H, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    d, half = H // nh, H // nh // 2
    B, S = ids.shape
    act = {"swiglu": F.silu, "geglu": F.gelu}[cfg["activation_function"]]
    ln = lambda t, n: F.layer_norm(t, (H,), W[n + ".weight"], W[n + ".bias"], eps)  # noqa: E731
    x = F.embedding(ids, W["embeddings.word_embeddings.weight"])
    x = ln(x + F.embedding(torch.zeros_like(ids), W["embeddings.token_type_embeddings.weight"]), "emb_ln")
    states = [x]
    # Frequencies in numpy through logs: inv_freq_j = exp(-(2j/d) ln base).
    j = np.arange(half, dtype=np.float64)
    ang = np.outer(np.arange(S, dtype=np.float64), np.exp(-(2.0 * j / d) * np.log(float(cfg["rotary_emb_base"]))))
    ang = torch.from_numpy(ang)
    rot = torch.polar(torch.ones_like(ang), ang)[None, :, None, :]  # e^{i angle}, [1, S, 1, d/2]

    def rope(t):  # pairs (t_j, t_{j+d/2}) as complex numbers, times e^{i angle_j}
        z = torch.complex(t[..., :half], t[..., half:]) * rot
        return torch.cat((z.real, z.imag), dim=-1).reshape(B, S, H)

    eye, zeros = torch.eye(H, dtype=torch.float64), torch.zeros(3 * H, dtype=torch.float64)
    pad = ~mask.bool()
    get = lambda n: W.get(n)  # noqa: E731  (None when the config has no such bias)
    for l in range(cfg["n_layer"]):
        p = f"encoder.layers.{l}."
        qkv = F.linear(x, W[p + "attn.Wqkv.weight"], get(p + "attn.Wqkv.bias")).view(B, S, 3, nh, d)
        q, k, v = rope(qkv[:, :, 0]), rope(qkv[:, :, 1]), qkv[:, :, 2].reshape(B, S, H)
        out_b = get(p + "attn.out_proj.bias")
        tr = lambda t: t.transpose(0, 1)  # noqa: E731  [S, B, H] for multi_head_attention_forward
        a, _ = F.multi_head_attention_forward(
            tr(q), tr(k), tr(v), H, nh,
            in_proj_weight=None, in_proj_bias=zeros, bias_k=None, bias_v=None, add_zero_attn=False,
            dropout_p=0.0, out_proj_weight=W[p + "attn.out_proj.weight"],
            out_proj_bias=out_b if out_b is not None else torch.zeros(H, dtype=torch.float64),
            training=False, key_padding_mask=pad, need_weights=False, use_separate_proj_weight=True,
            q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye,
        )  # fmt: skip
        h = ln(x + tr(a), p + "norm1")
        y = F.linear(h, W[p + "mlp.fc11.weight"], get(p + "mlp.fc11.bias"))
        gate = F.linear(h, W[p + "mlp.fc12.weight"], get(p + "mlp.fc12.bias"))
        x = ln(h + F.linear(y * act(gate), W[p + "mlp.fc2.weight"], get(p + "mlp.fc2.bias")), p + "norm2")
        states.append(x)
    return states


def matryoshka_numpy(mean, dim):
    """The card's recipe written out in numpy: standardise over H (eps 1e-5), truncate, unit length."""
    m = mean.numpy()
    z = (m - m.mean(1, keepdims=True)) / np.sqrt(m.var(1, keepdims=True) + CARD_LN_EPS)
    z = z[:, :dim]
    return z / np.sqrt((z * z).sum(1, keepdims=True))


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


def min_cosine(u, w):
    return (u * w).sum(-1).div(u.norm(dim=-1) * w.norm(dim=-1)).min().item()


def write_st_files(folder, hidden, max_seq_length):
    """nomic-embed-text-v1.5's sentence-transformers files: Transformer, mean Pooling, Normalize."""
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
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    os.makedirs(os.path.join(folder, "2_Normalize"))  # empty, as sentence-transformers saves it
    mf.write_json(
        os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": max_seq_length, "do_lower_case": False}
    )
    mf.write_json(
        os.path.join(folder, "config_sentence_transformers.json"),
        {
            "model_type": "SentenceTransformer",
            "__version__": {"sentence_transformers": "2.4.0.dev0", "transformers": "4.37.2", "pytorch": "2.1.0+cu121"},
            "prompts": {
                "query": "search_query: ",
                "document": "search_document: ",
                "classification": "classification: ",
                "clustering": "clustering: ",
            },
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def run_model(name, cfg, dtype, seed, texts, ids, st_files):
    folder = os.path.join(OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(BERT, f), os.path.join(folder, f))
    if st_files:
        write_st_files(folder, cfg["n_embd"], cfg["n_positions"])
    stored = [(n, a.astype(dtype)) for n, a in make_weights(cfg, seed)]
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, stored, {"format": "pt"})
    W = {n: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}

    L, H = cfg["n_layer"], cfg["n_embd"]
    assert W["encoder.layers.0.mlp.fc11.weight"].shape == (mlp_width(cfg), H)
    lengths = [len(x) for x in ids]
    assert max(t for x in ids for t in x) < cfg["vocab_size"] and max(lengths) <= cfg["n_positions"]
    B, S = len(ids), max(lengths)
    inp = torch.zeros((B, S), dtype=torch.long)  # [PAD] = 0
    mask = torch.zeros((B, S), dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    with torch.no_grad():
        states = forward(W, cfg, inp, mask)
        for i, x in enumerate(ids):  # each text alone must equal its rows of the padded batch
            alone = forward(W, cfg, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long))
            for l in range(L + 1):
                diff = (alone[l][0] - states[l][i, : len(x)]).abs().max().item()
                assert diff < 1e-9, (name, "alone", i, l, diff)
        # Second route: complex RoPE, F.multi_head_attention_forward, F.layer_norm, F.silu / F.gelu.
        other = forward_functional(W, cfg, inp, mask)
        route = max(
            (other[l][i, :n] - states[l][i, :n]).abs().max().item() for l in range(L + 1) for i, n in enumerate(lengths)
        )
        assert route < 1e-9, (name, "route 2", route)
        mean_last = mean_pool(states[L], lengths)
        mat = {dim: matryoshka(mean_last, dim) for dim in MATRYOSHKA_DIMS}
        for dim in MATRYOSHKA_DIMS:  # the recipe written twice
            diff = np.abs(mat[dim].numpy() - matryoshka_numpy(mean_last, dim)).max()
            assert diff < 1e-12, (name, "matryoshka", dim, diff)
        # The fixture must tell the conventions apart: the last layer's mean and CLS both move.
        cls_last = states[L][:, 0]
        wrong_base = 10000 if cfg["rotary_emb_base"] != 10000 else 1000
        mistakes = {
            "fc11/fc12 swapped": dict(swap_fc=True),
            f"RoPE base {wrong_base}": dict(base=wrong_base),
            "interleaved RoPE": dict(interleaved=True),
            "no token type": dict(no_type=True),
        }
        figures = {}
        for label, kw in mistakes.items():
            bad = forward(W, cfg, inp, mask, **kw)[L]
            figures[label] = (min_cosine(mean_pool(bad, lengths), mean_last), min_cosine(bad[:, 0], cls_last))
            assert max(figures[label]) < 0.999, (name, label, figures[label])
        cos_no_ln = min_cosine(matryoshka(mean_last, 16, with_ln=False), mat[16])
        assert cos_no_ln < 0.999, (name, "matryoshka without layer_norm", cos_no_ln)
        # How far q8 weight rounding alone moves the last CLS (float64 compute): the weight scales are
        # chosen so that it stays >= 0.999, leaving the runtime room under a q8 bound such as gte.test.ts's 0.998.
        q8 = forward(q8_rows(W), cfg, inp, mask)[L]
        cos_q8 = min_cosine(q8[:, 0], cls_last)
        cos_q8_mean = min_cosine(mean_pool(q8, lengths), mean_last)
        assert cos_q8 >= 0.999, (name, "q8", cos_q8)
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
        if st_files:
            for dim in MATRYOSHKA_DIMS:
                out.append((f"matryoshka.{i}.{dim}", mat[dim][i].numpy().astype(np.float32)))
    mf.write_safetensors(os.path.join(folder, "expected.safetensors"), out)
    note = (
        "hidden.{i}.{l} (l=0..layers): [len_i, hidden], real tokens only; l=0 is the embedding output after "
        "emb_ln, l=k the output of layer k (post-norm, after norm2; no final norm). mean.{i}.{l} / cls.{i}.{l} "
        "(l>=1): mean over real tokens (not normalised; what the sentence-transformers Pooling takes, before "
        "Normalize) / token 0. "
    )
    if st_files:
        note += (
            "matryoshka.{i}.{dim} (dim 16, 32, 64): the model card's recipe on the last layer's mean: "
            "F.layer_norm over hidden without affine (eps 1e-5), the first dim values, L2-normalised. "
        )
    note += (
        "Computed in float64 from the stored weights (one right-padded batch, checked against each text alone "
        "and a second attention route), stored as F32."
    )
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {"model": name, "texts": texts, "ids": ids, "layers": L, "hidden": H, "note": note},
    )
    moved = ", ".join(f"{k} {m:.4f}/{c:.4f}" for k, (m, c) in figures.items())
    print(
        f"{name}: vocab {cfg['vocab_size']}, {len(texts)} texts, lengths {lengths}; min cosine (last layer, "
        f"mean/CLS) vs {moved}; matryoshka@16 without layer_norm {cos_no_ln:.4f}; route 2 max diff {route:.1e}; "
        f"q8 weights CLS {cos_q8:.5f} mean {cos_q8_mean:.5f}; mean token cosine {pair:.2f}"
    )


def config(vocab_size, **kw):
    """The fields of nomic-embed-text-v1.5's config.json (NomicBertConfig, a GPT2Config), sizes scaled down."""
    cfg = {
        "activation_function": "swiglu",
        "architectures": ["NomicBertModel"],
        "attn_pdrop": 0.0,
        "auto_map": {
            "AutoConfig": "nomic-ai/nomic-bert-2048--configuration_hf_nomic_bert.NomicBertConfig",
            "AutoModel": "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.NomicBertModel",
        },
        "bos_token_id": None,
        "causal": False,
        "dense_seq_output": True,
        "embd_pdrop": 0.0,
        "eos_token_id": None,
        "fused_bias_fc": True,
        "fused_dropout_add_ln": True,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-12,
        "max_trained_positions": 160,
        "mlp_fc1_bias": False,
        "mlp_fc2_bias": False,
        "model_type": "nomic_bert",
        "n_embd": 64,
        "n_head": 4,
        "n_inner": 256,
        "n_layer": 3,
        "n_positions": 160,
        "pad_vocab_size_multiple": 8,
        "parallel_block": False,
        "parallel_block_tied_norm": False,
        "prenorm": False,
        "qkv_proj_bias": False,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.0,
        "rotary_emb_base": 1000,
        "rotary_emb_fraction": 1.0,
        "rotary_emb_interleaved": False,
        "rotary_emb_scale_base": None,
        "rotary_scaling_factor": None,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.0,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": "4.37.2",
        "type_vocab_size": 2,
        "use_cache": True,
        "use_flash_attn": True,
        "use_rms_norm": False,
        "use_xentropy": True,
        "vocab_size": vocab_size,
    }
    cfg.update(kw)
    return cfg


def main():
    with open(os.path.join(BERT, "expected.json"), encoding="utf-8") as f:
        bert = json.load(f)
    with open(os.path.join(BERT, "tokenizer.json"), encoding="utf-8") as f:
        tok_size = len(json.load(f)["model"]["vocab"])
    texts, ids = bert["texts"], bert["ids"]
    assert all(x[0] == 2 and x[-1] == 3 for x in ids)  # [CLS] ... [SEP]
    multiple = 8
    vocab_size = -(-tok_size // multiple) * multiple  # rounded up, as NomicBertModel pads the table
    assert vocab_size > tok_size, (tok_size, vocab_size)  # so the fixture has rows no token reaches
    run_model("nomic-tiny", config(vocab_size), np.float32, 1357, texts, ids, st_files=True)
    bias = config(
        vocab_size,
        activation_function="geglu",
        n_inner=192,  # the MLP is 256 wide all the same (mlp_width)
        mlp_fc1_bias=True,
        mlp_fc2_bias=True,
        qkv_proj_bias=True,
        rotary_emb_base=10000,
        torch_dtype="float16",
    )
    run_model("nomic-bias-tiny", bias, np.float16, 7531, texts, ids, st_files=False)


if __name__ == "__main__":
    main()
