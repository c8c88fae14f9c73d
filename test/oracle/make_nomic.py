#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's NomicBERT architecture (model_type "nomic_bert").

Writes fixtures/nomic-tiny/ (shaped like nomic-ai/nomic-embed-text-v1.5: NomicBertModel, SwiGLU, no
biases, rotary_emb_base 1000, F32, mean pooling + Normalize, the search_query / search_document prompts,
and the model card's Matryoshka recipe), fixtures/nomic-bias-tiny/ (every bias the config can switch
on, GeGLU, rotary_emb_base 10000, F16) and fixtures/nomic-moe-tiny/ (shaped like
nomic-ai/nomic-embed-text-v2-moe: the ungated GELU MLP with biases, and a mixture of experts in every
second layer), see README.md next to this file. Both reuse bert-tiny's tokenizer
(uncased WordPiece, [PAD]=0 [CLS]=2 [SEP]=3) and its verified texts and ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_nomic.py   (~5 s; after make_fixtures.py)
What it shares with make_gte.py and make_jina.py (float64 building blocks, checks, fixture files) is in
post_norm_oracle.py.

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
nomic-embed-text-v2-moe (activation_function "gelu", moe_every_n_layers n), from the same file's
NomicBertMLP and NomicMoELayer (megablocks' router and experts, as vLLM's and llama.cpp's ports read
them):
  - layers l with l % n != 1: x' = norm2(h + fc2(gelu(fc1(h)))), both with biases, n_inner wide
    (no rounding: NomicBertMLP takes hidden_features as given)
  - layers l with l % n == 1: p = softmax(h router^T) over num_experts in float32 (router:
    mlp.router.layer.weight [E, H], no bias); the moe_top_k largest kept with their probabilities,
    NOT renormalised (moe_normalize_expert_weights false); for each kept expert e,
    w1_e = mlp.experts.mlp.w1[e I:(e+1) I] and w2_e = mlp.experts.mlp.w2[e I:(e+1) I], both [I, H]:
    out += p_e * gelu(h w1_e^T) w2_e (w2 untransposed); then out + mlp.experts.bias (one [H] bias,
    added once, after the sum); x' = norm2(h + out)
  - Matryoshka (its model card: truncate_dim): the first dim values of the mean, L2-normalised
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

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
    default, which NomicBertBlock does not override). nomic-embed-text-v1.5's 3072 is already one.
    NomicBertMLP (activation_function "gelu") and the experts take n_inner as it is."""
    if cfg["activation_function"] == "gelu":
        return cfg["n_inner"]
    return -(-cfg["n_inner"] // 256) * 256


# The router's weights: per-token logits of std about 2.4, so that the experts kept differ from token to
# token and the second and third most probable are rarely close (q8 rounding of the rest of the model must
# not change which experts a token goes to).
ROUTER_STD = 0.3
# The experts' second projection: larger than fc2's, so that how their outputs are weighed (renormalised
# or not) moves the output past cosine 0.999.
EXPERT_OUT_STD = 0.1


def is_moe_layer(cfg, l):
    """NomicBertEncoder: layer l has experts when moe_every_n_layers n > 0 and l % n == 1."""
    n = cfg.get("moe_every_n_layers", 0)
    return n > 0 and l % n == 1


def make_weights(cfg, seed):
    """(name, float64 array) in module order, named as nomic-embed-text-v1.5 / v2-moe store them (no prefix)."""
    H, I = cfg["n_embd"], mlp_width(cfg)
    wt = pn.RandomWeights(seed, H, ln_bias=LN_OFFSET)
    wt.embeddings("", cfg["vocab_size"], cfg["type_vocab_size"], STD, "emb_ln")
    for l in range(cfg["n_layer"]):
        p = f"encoder.layers.{l}."
        wt.packed_qkv(p + "attn.Wqkv", STD, cfg["qkv_proj_bias"])
        wt.lin(p + "attn.out_proj", H, H, STD["o"], cfg["qkv_proj_bias"])
        if is_moe_layer(cfg, l):
            E = cfg["num_experts"]
            wt.normal(p + "mlp.router.layer.weight", (E, H), ROUTER_STD)
            wt.normal(p + "mlp.experts.mlp.w1", (E * I, H), STD["fc1"])
            wt.normal(p + "mlp.experts.mlp.w2", (E * I, H), EXPERT_OUT_STD)
            wt.normal(p + "mlp.experts.bias", (H,), 0.1)
        elif cfg["activation_function"] == "gelu":
            wt.lin(p + "mlp.fc1", I, H, STD["fc1"], cfg["mlp_fc1_bias"])
            wt.lin(p + "mlp.fc2", H, I, STD["fc2"], cfg["mlp_fc2_bias"])
        else:
            wt.lin(p + "mlp.fc11", I, H, STD["fc1"], cfg["mlp_fc1_bias"])
            wt.lin(p + "mlp.fc12", I, H, STD["fc1"], cfg["mlp_fc1_bias"])
            wt.lin(p + "mlp.fc2", H, I, STD["fc2"], cfg["mlp_fc2_bias"])
        wt.ln(p + "norm1")
        wt.ln(p + "norm2")
    return wt.w


# --------------------------------------------------------------------------------------------------
# NomicBERT forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def silu(x):
    return x / (1.0 + torch.exp(-x))


def experts(W, p, cfg, h, renormalise=False, bias_inside=False, w2_transposed=False):
    """NomicMoELayer over h [B, S, H], token by token as NomicExperts loops. Mistakes: renormalise (the
    kept probabilities divided by their sum, as Mixtral does), bias_inside (the shared bias added to each
    expert's output, so scaled by its weight), w2_transposed (w2 viewed as [E, H, I] and applied transposed)."""
    E, k, H, I = cfg["num_experts"], cfg["moe_top_k"], cfg["n_embd"], mlp_width(cfg)
    w1 = W[p + "mlp.experts.mlp.w1"].view(E, I, H)
    w2 = W[p + "mlp.experts.mlp.w2"].view(E, H, I).transpose(1, 2) if w2_transposed else W[p + "mlp.experts.mlp.w2"].view(E, I, H)
    bias = W[p + "mlp.experts.bias"]
    flat = h.reshape(-1, H)
    out = torch.zeros_like(flat)
    for t in range(flat.shape[0]):
        logits = flat[t] @ W[p + "mlp.router.layer.weight"].T
        probs = torch.exp(logits - logits.max())
        probs = probs / probs.sum()
        order = sorted(range(E), key=lambda e: -probs[e].item())[:k]
        weights = probs[order] / probs[order].sum() if renormalise else probs[order]
        for e, w in zip(order, weights):
            y = mf.gelu(flat[t] @ w1[e].T) @ w2[e]
            out[t] += w * (y + bias if bias_inside else y)
    return (out if bias_inside else out + bias).view(h.shape)


def forward(W, cfg, ids, mask, base=None, interleaved=False, swap_fc=False, no_type=False, **moe):
    """hidden_states [emb, layer 1..L], each [B, S, H]. Mistakes: base (another rotary_emb_base),
    interleaved (GPT-J RoPE pairs), swap_fc (fc11 and fc12 exchanged: the activation on the wrong
    branch), no_type (the token-type row dropped), and the experts' (experts())."""
    H, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    d = H // nh
    B, S = ids.shape
    act = {"swiglu": silu, "geglu": mf.gelu, "gelu": mf.gelu}[cfg["activation_function"]]
    assert cfg["rotary_emb_fraction"] == 1.0 and not cfg["rotary_emb_interleaved"] and not cfg["prenorm"]
    assert cfg["rotary_emb_scale_base"] is None and cfg["rotary_scaling_factor"] is None and not cfg["causal"]
    lin = lambda t, name: pn.linear(W, t, name)  # noqa: E731
    x = pn.embeddings(W, ids, "", "emb_ln", eps, no_type)
    states = [x]
    base = float(cfg["rotary_emb_base"] if base is None else base)
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    cos, sin = pn.rope_cos_sin(inv_freq, S, interleaved)
    for l in range(cfg["n_layer"]):
        p = f"encoder.layers.{l}."
        q, k, v = (t.view(B, S, nh, d) for t in lin(x, p + "attn.Wqkv").split(H, dim=-1))
        q, k = pn.apply_rope(q, cos, sin, interleaved), pn.apply_rope(k, cos, sin, interleaved)
        ctx = pn.attention(q, k, v, mask)
        h = pn.layer_norm(x + lin(ctx, p + "attn.out_proj"), W, p + "norm1", eps)
        if is_moe_layer(cfg, l):
            m = experts(W, p, cfg, h, **moe)
        elif cfg["activation_function"] == "gelu":
            m = lin(act(lin(h, p + "mlp.fc1")), p + "mlp.fc2")
        else:
            y, gate = lin(h, p + "mlp.fc11"), lin(h, p + "mlp.fc12")
            if swap_fc:
                y, gate = gate, y
            m = lin(y * act(gate), p + "mlp.fc2")
        x = pn.layer_norm(h + m, W, p + "norm2", eps)
        states.append(x)
    return states


def matryoshka(mean, dim, with_ln=True):
    """nomic-embed-text-v1.5's card: layer_norm (no affine), truncate, L2-normalise."""
    e = F.layer_norm(mean, (mean.shape[-1],), eps=CARD_LN_EPS) if with_ln else mean
    return F.normalize(e[:, :dim], p=2, dim=1)


# --------------------------------------------------------------------------------------------------
# Route 2: complex-number RoPE, torch.nn.functional attention / LayerNorm / SiLU / GELU
# --------------------------------------------------------------------------------------------------


def forward_functional(W, cfg, ids, mask):
    H, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    d = H // nh
    B, S = ids.shape
    act = {"swiglu": F.silu, "geglu": F.gelu, "gelu": F.gelu}[cfg["activation_function"]]
    x = pn.embeddings_functional(W, ids, "", "emb_ln", eps)
    states = [x]
    # Frequencies in numpy through logs: inv_freq_j = exp(-(2j/d) ln base).
    j = np.arange(d // 2, dtype=np.float64)
    rot = pn.rope_rotation(np.exp(-(2.0 * j / d) * np.log(float(cfg["rotary_emb_base"]))), S)
    ln = lambda t, n: pn.layer_norm_functional(t, W, n, eps)  # noqa: E731
    get = lambda n: W.get(n)  # noqa: E731  (None when the config has no such bias)
    for l in range(cfg["n_layer"]):
        p = f"encoder.layers.{l}."
        qkv = F.linear(x, W[p + "attn.Wqkv.weight"], get(p + "attn.Wqkv.bias")).view(B, S, 3, nh, d)
        q, k = pn.rope_complex(qkv[:, :, 0], rot), pn.rope_complex(qkv[:, :, 1], rot)
        a = pn.attention_functional(q, k, qkv[:, :, 2].reshape(B, S, H), nh, W, p + "attn.out_proj", mask)
        h = ln(x + a, p + "norm1")
        if is_moe_layer(cfg, l):
            m = experts_dense(W, p, cfg, h)
        elif cfg["activation_function"] == "gelu":
            m = F.linear(act(F.linear(h, W[p + "mlp.fc1.weight"], get(p + "mlp.fc1.bias"))), W[p + "mlp.fc2.weight"], get(p + "mlp.fc2.bias"))
        else:
            y = F.linear(h, W[p + "mlp.fc11.weight"], get(p + "mlp.fc11.bias"))
            gate = F.linear(h, W[p + "mlp.fc12.weight"], get(p + "mlp.fc12.bias"))
            m = F.linear(y * act(gate), W[p + "mlp.fc2.weight"], get(p + "mlp.fc2.bias"))
        x = ln(h + m, p + "norm2")
        states.append(x)
    return states


def experts_dense(W, p, cfg, h):
    """Route 2 of NomicMoELayer: every token through every expert at once (einsum), torch.topk and a scatter
    of the kept probabilities into a [tokens, E] gate that is zero elsewhere."""
    E, k, H, I = cfg["num_experts"], cfg["moe_top_k"], cfg["n_embd"], mlp_width(cfg)
    flat = h.reshape(-1, H)
    probs = F.softmax(F.linear(flat, W[p + "mlp.router.layer.weight"]), dim=-1)
    top, idx = torch.topk(probs, k, dim=-1)
    gate = torch.zeros_like(probs).scatter_(1, idx, top)
    hidden = F.gelu(torch.einsum("th,eih->tei", flat, W[p + "mlp.experts.mlp.w1"].view(E, I, H)))
    out = torch.einsum("tei,eih,te->th", hidden, W[p + "mlp.experts.mlp.w2"].view(E, I, H), gate)
    return (out + W[p + "mlp.experts.bias"]).view(h.shape)


def matryoshka_numpy(mean, dim):
    """The card's recipe written out in numpy: standardise over H (eps 1e-5), truncate, unit length."""
    m = mean.numpy()
    z = (m - m.mean(1, keepdims=True)) / np.sqrt(m.var(1, keepdims=True) + CARD_LN_EPS)
    z = z[:, :dim]
    return z / np.sqrt((z * z).sum(1, keepdims=True))


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def run_model(name, cfg, dtype, seed, texts, ids, st_files):
    folder = pn.new_folder(name, cfg, pn.BERT)
    moe = cfg.get("moe_every_n_layers", 0) > 0
    # v1.5's card cuts after a layer norm; v2-moe's (truncate_dim) slices the mean as it is.
    card_ln = cfg["activation_function"] != "gelu"
    if st_files:  # nomic-embed-text's: Transformer, mean Pooling, Normalize, the card's prompts
        prompts = (
            {"query": "search_query: ", "passage": "search_document: "}
            if moe
            else {
                "query": "search_query: ",
                "document": "search_document: ",
                "classification": "classification: ",
                "clustering": "clustering: ",
            }
        )
        versions = {"sentence_transformers": "2.4.0.dev0", "transformers": "4.37.2", "pytorch": "2.1.0+cu121"}
        pn.write_st_files(folder, cfg["n_embd"], "mean", cfg["n_positions"], prompts=prompts, versions=versions)
    W = pn.store_weights(folder, make_weights(cfg, seed), dtype)

    first_in = "encoder.layers.0.mlp." + ("fc1" if cfg["activation_function"] == "gelu" else "fc11") + ".weight"
    assert W[first_in].shape == (mlp_width(cfg), cfg["n_embd"])
    assert max(t for x in ids for t in x) < cfg["vocab_size"] and max(map(len, ids)) <= cfg["n_positions"]
    # The fixture must tell the conventions apart: the last layer's mean and CLS both move.
    wrong_base = 10000 if cfg["rotary_emb_base"] != 10000 else 1000
    mistakes = {
        f"RoPE base {wrong_base}": dict(base=wrong_base),
        "interleaved RoPE": dict(interleaved=True),
        "no token type": dict(no_type=True),
    }
    if cfg["activation_function"] != "gelu":
        mistakes["fc11/fc12 swapped"] = dict(swap_fc=True)
    if moe:
        mistakes.update({
            "renormalised expert weights": dict(renormalise=True),
            "expert bias inside the sum": dict(bias_inside=True),
            "w2 transposed": dict(w2_transposed=True),
        })  # fmt: skip

    def matryoshka_checks(last, run_last, lengths):
        mean_last = pn.mean_pool(last, lengths)
        mat = {dim: matryoshka(mean_last, dim, with_ln=card_ln) for dim in MATRYOSHKA_DIMS}
        if card_ln:
            for dim in MATRYOSHKA_DIMS:  # the recipe written twice
                diff = np.abs(mat[dim].numpy() - matryoshka_numpy(mean_last, dim)).max()
                assert diff < 1e-12, (name, "matryoshka", dim, diff)
        # The two recipes must differ on this fixture, or a test could not tell which one ran.
        cos_other = pn.min_cosine(matryoshka(mean_last, 16, with_ln=not card_ln), mat[16])
        assert cos_other < 0.999, (name, "the other matryoshka recipe", cos_other)

        def matryoshka_rows(i):
            return [(f"matryoshka.{i}.{dim}", mat[dim][i].numpy().astype(np.float32)) for dim in MATRYOSHKA_DIMS]

        other = "without" if card_ln else "with"
        return f"matryoshka@16 {other} layer_norm {cos_other:.4f}; ", matryoshka_rows if st_files else None

    note = (
        "hidden.{i}.{l} (l=0..layers): [len_i, hidden], real tokens only; l=0 is the embedding output after "
        "emb_ln, l=k the output of layer k (post-norm, after norm2; no final norm). mean.{i}.{l} / cls.{i}.{l} "
        "(l>=1): mean over real tokens (not normalised; what the sentence-transformers Pooling takes, before "
        "Normalize) / token 0. "
    )
    if st_files and card_ln:
        note += (
            "matryoshka.{i}.{dim} (dim 16, 32, 64): the model card's recipe on the last layer's mean: "
            "F.layer_norm over hidden without affine (eps 1e-5), the first dim values, L2-normalised. "
        )
    elif st_files:
        note += (
            "matryoshka.{i}.{dim} (dim 16, 32, 64): the model card's truncate_dim on the last layer's mean: "
            "the first dim values, L2-normalised. "
        )
    if moe:
        note += (
            f"Layers l with l % {cfg['moe_every_n_layers']} == 1 (0-based) have {cfg['num_experts']} experts, "
            f"top {cfg['moe_top_k']}, probabilities not renormalised. "
        )
    # Route 1 on one padded batch ([PAD] = 0), checked against each text alone and against route 2
    # (complex RoPE, F.multi_head_attention_forward, F.layer_norm, F.silu / F.gelu).
    pn.run_fixture(
        name, folder, texts, ids, 0, forward, forward_functional, W, cfg,
        mistakes=mistakes, head=f"vocab {cfg['vocab_size']}", note=note, extra_checks=matryoshka_checks,
    )  # fmt: skip


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
    texts, ids, tok_size = pn.bert_texts()
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
    moe = config(
        vocab_size,
        activation_function="gelu",
        n_inner=96,  # not a multiple of 256: the ungated MLP and the experts take it as it is
        n_layer=4,
        mlp_fc1_bias=True,
        mlp_fc2_bias=True,
        qkv_proj_bias=True,
        rotary_emb_base=10000,
        type_vocab_size=1,
        pad_token_id=1,
        moe_every_n_layers=2,
        num_experts=8,
        moe_top_k=2,
        moe_impl="megablocks",
        moe_normalize_expert_weights=False,
        moe_resid_pdrop=0.0,
        num_shared_experts=0,
        expert_choice_router=False,
        router_aux_loss_coef=0.1,
        ffn_div=1,
    )
    run_model("nomic-moe-tiny", moe, np.float32, 2468, texts, ids, st_files=True)


if __name__ == "__main__":
    main()
