#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's JinaBERT v2 architecture (model_type "bert", ALiBi).

Writes fixtures/jina-tiny/ (shaped like jinaai/jina-embeddings-v2-small-en: JinaBertModel weights without a
prefix plus pooler.dense, 4 heads, F32, mean pooling + Normalize) and fixtures/jina-6head-tiny/ (6 heads, so
the ALiBi slopes take the recursive non-power-of-two branch; every tensor under `bert.` with the masked-LM
head a JinaBertForMaskedLM state dict carries, F16), see README.md next to this file. Both reuse bert-tiny's
tokenizer (uncased WordPiece, [PAD]=0 [CLS]=2 [SEP]=3) and its verified texts and ids. fixtures/jina-code-tiny/ is
jina-embeddings-v2-base-code's variant (remote code jinaai/jina-bert-v2-qk-post-norm), below.

Run from the repository root:  /usr/bin/python3 test/oracle/make_jina.py   (~5 s; after make_fixtures.py)
What it shares with make_gte.py and make_nomic.py (float64 building blocks, checks, fixture files) is in
post_norm_oracle.py.

The forward below is written by hand in float64 from jinaai/jina-bert-implementation's modeling_bert.py
(JinaBertEmbeddings, JinaBertEncoder.rebuild_alibi_tensor, JinaBertSelfAttention, JinaBertGLUMLP,
JinaBertLayer, JinaBertModel; the jina-embeddings-v2-{small,base}-{en,de,es,zh} checkpoints run it);
transformers is not used. Conventions it follows:
  - config: BERT names (hidden_size, num_attention_heads, intermediate_size, num_hidden_layers,
    layer_norm_eps); position_embedding_type "alibi", feed_forward_type "geglu", emb_pooler "mean"
  - embeddings: word_embeddings[ids] + token_type_embeddings[0] (token types all zero), NO position table
    (position_embedding_type "alibi" builds none), then embeddings.LayerNorm
  - ALiBi, symmetric (bidirectional): bias[h, i, j] = -slope_h * |i - j| added to the scaled scores of every
    layer, positions 0..len-1 in each right-padded row. Slopes as in the ALiBi paper's code: for n heads a
    power of two, slope_k = start * start**k with start = 2^(-2^-(log2 n - 3)), i.e. 2^(-8 (k+1) / n);
    otherwise with m = 2^floor(log2 n): the m slopes of m heads, then the slopes of 2m heads taken every other
    one ([0::2]), the first n - m of them. 12 heads (the base models): 2^-1..2^-8, 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5
  - layer `encoder.layer.{l}.`: attention.self.{query,key,value} (each [H, H] + bias), d = H / n,
    softmax(q k^T / sqrt(d) + alibi + padding mask) v, padding keys masked; attention.output.dense;
    post-norm h = attention.output.LayerNorm(x + dense(ctx)). mlp (JinaBertGLUMLP): u = mlp.gated_layers(h)
    ([2I, H], no bias); gated = u[..., :I], non_gated = u[..., I:]; m = gelu(gated) * non_gated (exact
    erf GELU); x' = mlp.layernorm(mlp.wo(m) + h)
  - hidden_states = [embedding output after its LayerNorm, layer 1, ..., layer L], no final norm; the
    sentence embedding (emb_pooler / sentence-transformers Pooling) is the mean over real tokens
  - jina-bert-v2-qk-post-norm (jina-embeddings-v2-base-code), as its modeling_bert.py gives it (a
    transformers port of it and text-embeddings-inference's jina_code.rs agree): q = attention.self.layer_norm_q(
    query(x)) and k = attention.self.layer_norm_k(key(x)), each a LayerNorm over all heads (width H) before the
    heads are split; a = attention.output.LayerNorm(x + dense(ctx)) as above, then r = layer_norm_1(x + a) (the
    layer input added a second time); u = mlp.up_gated_layer(r) ([2I, H], no bias), m = u[..., :I] *
    gelu(u[..., I:]) (the GELU on the SECOND half, unlike gated_layers); x' = layer_norm_2(r + mlp.down_layer(m))
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

# Standard deviations of the random weights (LayerNorm weights 1 + 0.1*N(0,1), biases 0.1*N(0,1), linear
# biases 0.1*N(0,1)). Inputs to every projection are LayerNorm outputs (unit scale), so query/key 0.15 gives
# per-head logits of std about 2, comparable to the ALiBi bias over a few tokens (slopes 1/4 .. 1/256 with 4
# heads): attention is neither one-hot nor set by the bias alone, so the slopes and their head order both
# matter. gated_layers 0.12 / wo 0.08 keep per-row q8 rounding of the weights (simulated below) at cosine
# >= 0.999 on the last CLS (0.15 gives 0.9985) while every deliberate mistake still moves it far. The
# token-type row is large enough that dropping it moves the output too. jina-6head-tiny (2 layers, head dim
# 8) has q8 room to spare and needs a stronger attention path for the ALiBi mistakes to move it well below
# 0.999 (with STD as is: no ALiBi 0.997, reversed slopes 0.996): query/key 0.2, value 0.2, output 0.16.
STD = {"emb": 0.5, "type": 0.2, "qk": 0.15, "v": 0.15, "o": 0.12, "gated": 0.12, "wo": 0.08}
STD_6HEAD = dict(STD, qk=0.2, v=0.2, o=0.16)
# jina-code-tiny's q and k are normed before the scores, so their projections' scale only shows where a runtime
# skips the norms: at 0.4 unnormed scores are about 7x as large (no norms: cosine 0.99 at STD's 0.15).
STD_CODE = dict(STD, qk=0.4)


# --------------------------------------------------------------------------------------------------
# ALiBi slopes
# --------------------------------------------------------------------------------------------------


def alibi_slopes(n):
    """The ALiBi paper's _get_alibi_head_slopes, as jina-bert-implementation copies it (recursive)."""

    def power_of_2(m):
        start = 2 ** (-(2 ** -(math.log2(m) - 3)))
        ratio = start
        return [start * ratio**k for k in range(m)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    m = 2 ** math.floor(math.log2(n))
    return power_of_2(m) + alibi_slopes(2 * m)[0::2][: n - m]


def alibi_slopes_closed(n):
    """The same slopes in closed form (numpy): slope_k = 2^(-8 (k+1) / m) for the m = 2^floor(log2 n)
    first heads, then 2^(-8 (2j+1) / (2m)) = 2^(-4 (2j+1) / m) for j = 0 .. n-m-1 (the slopes of 2m heads
    at k = 0, 2, 4, ...)."""
    m = 1 << (int(n).bit_length() - 1)
    first = 2.0 ** (-8.0 * np.arange(1, m + 1) / m)
    rest = 2.0 ** (-4.0 * (2 * np.arange(n - m) + 1) / m)
    return np.concatenate([first, rest])


def self_test_slopes():
    """The recursive and the closed forms agree for 1..32 heads; the 4-, 6-, 8- and 12-head slopes are
    written out by hand. Returns the 6- and 12-head lists for the summary."""
    for n in range(1, 33):
        a, b = np.array(alibi_slopes(n)), alibi_slopes_closed(n)
        assert a.shape == (n,) and np.abs(a / b - 1).max() < 1e-14, (n, a, b)
    assert alibi_slopes(4) == [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8], alibi_slopes(4)
    # 6 heads: m = 4 gives 2^-2, 2^-4, 2^-6, 2^-8; 8 heads give 2^-1 .. 2^-8, every other one from the
    # first: 2^-1, 2^-3, 2^-5, 2^-7; the first 6 - 4 = 2 of them: 2^-1, 2^-3.
    six = [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    assert alibi_slopes(6) == six, alibi_slopes(6)
    # 12 heads (jina-embeddings-v2-base-*): m = 8 gives 2^-1 .. 2^-8; 16 heads give 2^-0.5 .. 2^-8, every
    # other one from the first: 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5 (the first 12 - 8 = 4).
    twelve = [2.0**-e for e in (1, 2, 3, 4, 5, 6, 7, 8, 0.5, 1.5, 2.5, 3.5)]
    assert np.abs(np.array(alibi_slopes(12)) / twelve - 1).max() < 1e-14, alibi_slopes(12)
    # 8 heads (jina-embeddings-v2-small-en): 2^-1 .. 2^-8.
    assert alibi_slopes(8) == [2.0**-e for e in range(1, 9)], alibi_slopes(8)
    return six, alibi_slopes(12)


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------


def make_weights(cfg, prefix, seed, std, pooler, mlm_head, code=False):
    """(name, float64 array) in module order, named as JinaBertModel (prefix "") or JinaBertForMaskedLM
    (prefix "bert.") state dicts name them; code: jina-bert-v2-qk-post-norm's names and extra norms."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    wt = pn.RandomWeights(seed, H)
    wt.embeddings(prefix, V, cfg["type_vocab_size"], std, prefix + "embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        for name, s in (("query", "qk"), ("key", "qk"), ("value", "v")):
            wt.lin(p + f"attention.self.{name}", H, H, std[s])
        if code:
            wt.ln(p + "attention.self.layer_norm_q")
            wt.ln(p + "attention.self.layer_norm_k")
        wt.lin(p + "attention.output.dense", H, H, std["o"])
        wt.ln(p + "attention.output.LayerNorm")
        if code:
            wt.ln(p + "layer_norm_1")
            wt.lin(p + "mlp.up_gated_layer", 2 * I, H, std["gated"], bias=False)
            wt.lin(p + "mlp.down_layer", H, I, std["wo"])
            wt.ln(p + "layer_norm_2")
            continue
        wt.lin(p + "mlp.gated_layers", 2 * I, H, std["gated"], bias=False)
        wt.lin(p + "mlp.wo", H, I, std["wo"])
        wt.ln(p + "mlp.layernorm")
    if pooler:  # in the real JinaBertModel checkpoints; the runtime must ignore it
        wt.lin(prefix + "pooler.dense", H, H, 0.2)
    if mlm_head:  # JinaBertForMaskedLM's head (decoder tied to the word table, not stored); ignored too
        wt.lin("cls.predictions.transform.dense", H, H, 0.2)
        wt.ln("cls.predictions.transform.LayerNorm")
        wt.normal("cls.predictions.bias", (V,), 0.1)
    return wt.w


# --------------------------------------------------------------------------------------------------
# JinaBERT forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def forward(W, cfg, prefix, ids, mask, slopes=None, alibi=True, signed=False, swap_glu=False, no_type=False,
            no_qk_norm=False, no_norm_1=False):
    """hidden_states [emb, layer 1..L], each [B, S, H]. slopes: per-head slopes (default: the model's).
    Mistakes: alibi=False (no ALiBi), slopes reordered or another formula, signed (-slope * (i - j), the
    distance without its absolute value), swap_glu (the GELU on the other half of the gated projection's
    output), no_type (the token-type row dropped); for the qk-post-norm variant (cfg["qk_post_norm"], the
    oracle's own key) no_qk_norm (q and k unnormed), no_norm_1 (layer_norm_1 and its second residual left out)."""
    H, n, I, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"]
    d = H // n
    B, S = ids.shape
    assert cfg["position_embedding_type"] == "alibi" and cfg["feed_forward_type"] == "geglu"
    assert cfg["hidden_act"] == "gelu"
    lin = lambda t, name: pn.linear(W, t, prefix + name)  # noqa: E731
    x = pn.embeddings(W, ids, prefix, prefix + "embeddings.LayerNorm", eps, no_type)
    states = [x]
    # The weights' dtype: float64 here, float32 in bench/onnx_jina.py's export of this forward.
    s = torch.tensor(alibi_slopes(n) if slopes is None else slopes, dtype=x.dtype)
    pos = torch.arange(S, dtype=x.dtype)
    dist = pos[:, None] - pos[None, :]  # i - j
    bias = -s[:, None, None] * (dist if signed else dist.abs())[None]  # [n, S, S]
    if not alibi:
        bias = torch.zeros_like(bias)
    code = cfg.get("qk_post_norm", False)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (lin(x, p + f"attention.self.{name}") for name in ("query", "key", "value"))
        if code and not no_qk_norm:
            q = pn.layer_norm(q, W, prefix + p + "attention.self.layer_norm_q", eps)
            k = pn.layer_norm(k, W, prefix + p + "attention.self.layer_norm_k", eps)
        ctx = pn.attention(q.view(B, S, n, d), k.view(B, S, n, d), v.view(B, S, n, d), mask, bias)
        h = pn.layer_norm(x + lin(ctx, p + "attention.output.dense"), W, prefix + p + "attention.output.LayerNorm", eps)
        if code:
            if not no_norm_1:
                h = pn.layer_norm(x + h, W, prefix + p + "layer_norm_1", eps)
            u = lin(h, p + "mlp.up_gated_layer")
            up, gated = u[..., :I], u[..., I:]
            if swap_glu:
                up, gated = gated, up
            x = pn.layer_norm(h + lin(up * mf.gelu(gated), p + "mlp.down_layer"), W, prefix + p + "layer_norm_2", eps)
            states.append(x)
            continue
        u = lin(h, p + "mlp.gated_layers")
        gated, non_gated = u[..., :I], u[..., I:]
        if swap_glu:
            gated, non_gated = non_gated, gated
        x = pn.layer_norm(lin(mf.gelu(gated) * non_gated, p + "mlp.wo") + h, W, prefix + p + "mlp.layernorm", eps)
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Route 2: ALiBi by an explicit loop in numpy (closed-form slopes), torch.nn.functional attention /
# LayerNorm / GELU
# --------------------------------------------------------------------------------------------------


def alibi_loop(n, S):
    """[n, S, S] float64, one entry at a time."""
    s = alibi_slopes_closed(n)
    out = np.zeros((n, S, S), dtype=np.float64)
    for h in range(n):
        for i in range(S):
            for j in range(S):
                out[h, i, j] = -s[h] * abs(i - j)
    return out


def forward_functional(W, cfg, prefix, ids, mask):
    n, I, eps = cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"]
    B, S = ids.shape
    g = lambda name: W[prefix + name]  # noqa: E731
    ln = lambda t, name: pn.layer_norm_functional(t, W, prefix + name, eps)  # noqa: E731
    x = pn.embeddings_functional(W, ids, prefix, prefix + "embeddings.LayerNorm", eps)
    states = [x]
    # multi_head_attention_forward folds batch and heads as b * n + h: the per-head bias repeated per row.
    attn_bias = torch.from_numpy(alibi_loop(n, S)).repeat(B, 1, 1)  # [B * n, S, S]
    code = cfg.get("qk_post_norm", False)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (
            F.linear(x, g(p + f"attention.self.{m}.weight"), g(p + f"attention.self.{m}.bias"))
            for m in ("query", "key", "value")
        )
        if code:
            q, k = ln(q, p + "attention.self.layer_norm_q"), ln(k, p + "attention.self.layer_norm_k")
        a = pn.attention_functional(q, k, v, n, W, prefix + p + "attention.output.dense", mask, attn_bias)
        h = ln(x + a, p + "attention.output.LayerNorm")
        if code:
            r = ln(x + h, p + "layer_norm_1")
            up, gated = F.linear(r, g(p + "mlp.up_gated_layer.weight")).split(I, dim=-1)
            down = F.linear(up * F.gelu(gated), g(p + "mlp.down_layer.weight"), g(p + "mlp.down_layer.bias"))
            x = ln(r + down, p + "layer_norm_2")
            states.append(x)
            continue
        gated, non_gated = F.linear(h, g(p + "mlp.gated_layers.weight")).split(I, dim=-1)
        m = F.gelu(gated) * non_gated
        x = ln(F.linear(m, g(p + "mlp.wo.weight"), g(p + "mlp.wo.bias")) + h, p + "mlp.layernorm")
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def run_model(name, cfg, prefix, dtype, seed, std, texts, ids, pooler, mlm_head, st_files, code=False):
    folder = pn.new_folder(name, cfg, pn.BERT)
    if st_files:  # jina-embeddings-v2-small-en's: Transformer, mean Pooling, Normalize
        pn.write_st_files(folder, cfg["hidden_size"], "mean", cfg["max_position_embeddings"], all_pooling_keys=False)
    W = pn.store_weights(folder, make_weights(cfg, prefix, seed, std, pooler, mlm_head, code), dtype)
    cfg = dict(cfg, qk_post_norm=code)  # the forward's switch; config.json stays the checkpoint's

    n = cfg["num_attention_heads"]
    slopes = alibi_slopes(n)
    assert max(t for x in ids for t in x) < cfg["vocab_size"] and max(map(len, ids)) <= cfg["max_position_embeddings"]
    # The fixture must tell the conventions apart: the last layer's mean and CLS both move.
    mistakes = {
        "no ALiBi": dict(alibi=False),
        "slopes reversed": dict(slopes=slopes[::-1]),
        "gated/non-gated swapped": dict(swap_glu=True),
        "no token type": dict(no_type=True),
        "signed distance": dict(signed=True),
    }
    if code:
        mistakes["no q / k norms"] = dict(no_qk_norm=True)
        mistakes["no layer_norm_1"] = dict(no_norm_1=True)
    if not math.log2(n).is_integer():  # the power-of-two formula applied to n heads as is
        mistakes[f"2^(-8k/{n}) slopes"] = dict(slopes=[2.0 ** (-8.0 * (k + 1) / n) for k in range(n)])
    note = (
        "hidden.{i}.{l} (l=0..layers): [len_i, hidden], real tokens only; l=0 is the embedding output after "
        "embeddings.LayerNorm (word + token type 0, no position table), l=k the output of layer k (post-norm, "
        "after mlp.layernorm; no final norm). mean.{i}.{l} / cls.{i}.{l} (l>=1): mean over real tokens (not "
        "normalised; what emb_pooler 'mean' and the sentence-transformers Pooling take, before Normalize) / "
        "token 0. Attention adds -slopes[h] * |i - j| (slopes listed here, head order) to q k^T / sqrt(d). "
        + ("q and k are normed (layer_norm_q / layer_norm_k over H) before the heads split; layer_norm_1(x + a) "
           "feeds mlp.up_gated_layer, whose second half goes through GELU; layer_norm_2 ends the layer. " if code else "")
    )  # fmt: skip
    # Route 1 on one padded batch ([PAD] = 0), checked against each text alone and against route 2 (ALiBi by a
    # numpy loop with closed-form slopes, F.multi_head_attention_forward with it as a float attn_mask plus a key
    # padding mask, F.layer_norm, F.gelu).
    head = f"vocab {cfg['vocab_size']}, {n} heads, slopes {['%g' % s for s in slopes]}"
    pn.run_fixture(
        name, folder, texts, ids, cfg["pad_token_id"], forward, forward_functional, W, cfg, prefix,
        mistakes=mistakes, head=head, note=note, extra_json={"slopes": slopes},
    )  # fmt: skip


def config(vocab_size, **kw):
    """The fields of jina-embeddings-v2-small-en's config.json (JinaBertConfig, a BertConfig), sizes scaled
    down."""
    cfg = {
        "_name_or_path": "jinaai/jina-bert-implementation",
        "architectures": ["JinaBertForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "attn_implementation": "torch",
        "auto_map": {
            "AutoConfig": "jinaai/jina-bert-implementation--configuration_bert.JinaBertConfig",
            "AutoModel": "jinaai/jina-bert-implementation--modeling_bert.JinaBertModel",
            "AutoModelForMaskedLM": "jinaai/jina-bert-implementation--modeling_bert.JinaBertForMaskedLM",
        },
        "classifier_dropout": None,
        "emb_pooler": "mean",
        "feed_forward_type": "geglu",
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 8192,
        "model_max_length": 8192,
        "model_type": "bert",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "pad_token_id": 0,
        "position_embedding_type": "alibi",
        "torch_dtype": "float32",
        "transformers_version": "4.26.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    cfg.update(kw)
    return cfg


def main():
    texts, ids, vocab_size = pn.bert_texts()
    six, twelve = self_test_slopes()
    print(f"slopes: 4 heads {alibi_slopes(4)}; 6 heads {six}; 12 heads {[round(s, 6) for s in twelve]}")
    run_model("jina-tiny", config(vocab_size), "", np.float32, 2718, STD, texts, ids, True, False, True)
    six_head = config(
        vocab_size, hidden_size=48, num_attention_heads=6, intermediate_size=80, num_hidden_layers=2,
        torch_dtype="float16",
    )  # fmt: skip
    run_model("jina-6head-tiny", six_head, "bert.", np.float16, 3141, STD_6HEAD, texts, ids, False, True, False)
    # jina-embeddings-v2-base-code's config.json names its remote code (auto_map) and nothing else sets it apart.
    code_remote = "jinaai/jina-bert-v2-qk-post-norm"
    code = config(
        vocab_size, _name_or_path="jinaai/jina-embeddings-v2-base-code",
        auto_map={
            "AutoConfig": f"{code_remote}--configuration_bert.JinaBertConfig",
            "AutoModel": f"{code_remote}--modeling_bert.JinaBertModel",
            "AutoModelForMaskedLM": f"{code_remote}--modeling_bert.JinaBertForMaskedLM",
        },
    )  # fmt: skip
    run_model("jina-code-tiny", code, "", np.float32, 1618, STD_CODE, texts, ids, False, False, True, code=True)


if __name__ == "__main__":
    main()
