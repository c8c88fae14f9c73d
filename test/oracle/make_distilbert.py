#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's DistilBERT architecture (model_type "distilbert").

Writes fixtures/distilbert-tiny/ (shaped like sentence-transformers/multi-qa-distilbert-cos-v1,
msmarco-distilbert-base-v4: DistilBertModel weights without a prefix, 4 heads, F32, mean pooling + Normalize)
and fixtures/distilbert-mlm-tiny/ (6 heads, 2 layers; every tensor under `distilbert.` with the masked-LM head a
DistilBertForMaskedLM state dict carries, F16), see README.md next to this file. Both reuse bert-tiny's tokenizer
(uncased WordPiece, [PAD]=0 [CLS]=2 [SEP]=3) and its verified texts and ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_distilbert.py   (~5 s; after make_fixtures.py)
The float64 building blocks, checks and fixture files it shares with make_gte.py, make_nomic.py and make_jina.py
are in post_norm_oracle.py.

The forward below is written by hand in float64 from transformers' models/distilbert/modeling_distilbert.py
(Embeddings, MultiHeadSelfAttention, FFN, TransformerBlock, Transformer, DistilBertModel,
DistilBertForMaskedLM) and configuration_distilbert.py; transformers is not used. Conventions it follows:
  - config: DistilBERT's own names, NOT BERT's: dim, n_layers, n_heads, hidden_dim (FFN width),
    max_position_embeddings, vocab_size, activation "gelu", sinusoidal_pos_embds false, dropout,
    attention_dropout, qa_dropout, seq_classif_dropout, tie_weights_, pad_token_id. There is no
    layer_norm_eps: every LayerNorm is nn.LayerNorm(dim, eps=1e-12), hard-coded
  - embeddings (no token-type table): word_embeddings[ids] + position_embeddings[0..S-1] (the position_ids
    buffer, 0..len-1 in each right-padded row, not RoBERTa's padding_idx + 1 offset), then embeddings.LayerNorm
  - layer `transformer.layer.{l}.`: attention.{q_lin,k_lin,v_lin} ([dim, dim] + bias each), d = dim / n_heads,
    softmax((q / sqrt(d)) k^T, padding keys masked) v, bidirectional; attention.out_lin; post-norm
    h = sa_layer_norm(out_lin(ctx) + x); x' = output_layer_norm(ffn.lin2(gelu(ffn.lin1(h))) + h) with
    ffn.lin1 [hidden_dim, dim], ffn.lin2 [dim, hidden_dim], exact erf GELU ("gelu")
  - hidden_states = [embedding output after its LayerNorm, layer 1, ..., layer L], no final norm and no pooler;
    the sentence vector of the sentence-transformers checkpoints is the mean over real tokens, then Normalize
  - DistilBertForMaskedLM (base_model_prefix "distilbert"): the DistilBertModel tensors under `distilbert.`, plus
    vocab_transform.{weight,bias} [dim, dim], vocab_layer_norm.{weight,bias}, vocab_projector.bias [vocab]; the
    projector's weight is tied to the word table and not stored. The embedder ignores the head
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

LN_EPS = 1e-12  # nn.LayerNorm(dim, eps=1e-12) in Embeddings, TransformerBlock (both) and the MLM head

# Standard deviations of the random weights (LayerNorm weights 1 + 0.1*N(0,1), biases 0.1*N(0,1), linear biases
# 0.1*N(0,1)). Inputs to every projection are LayerNorm outputs (unit scale), so query/key 0.2 gives per-head
# logits of std about 2 (head dim 16): attention is clearly non-uniform without being one-hot. The position rows
# (0.4, next to the word rows' 0.5) are large enough that dropping them or reading them two rows later
# (RoBERTa's offset) moves the output far. lin1 0.2 / lin2 0.08 keep per-row q8 rounding of the weights
# (simulated below) at cosine >= 0.999 on the last CLS while every deliberate mistake still moves it far.
# distilbert-mlm-tiny (2 layers, head dim 8) uses the same scales with query/key 0.28 (logits of std ~2 at head
# dim 8). Swapping the two norms of a block moves the output to ~0.9 with these plain LayerNorm draws already.
# The tanh GELU approximation differs from erf GELU by < 5e-4 anywhere, which no scale that keeps q8 >= 0.999
# turns into a cosine below 0.999: it is printed as a figure (1 - cosine ~1e-8 .. 1e-7), not checked.
STD = {"emb": 0.5, "pos": 0.4, "qk": 0.2, "v": 0.15, "o": 0.12, "lin1": 0.2, "lin2": 0.08}
STD_6HEAD = dict(STD, qk=0.28)


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------


def make_weights(cfg, prefix, seed, std, mlm_head):
    """(name, float64 array) in module order, named as DistilBertModel (prefix "") or DistilBertForMaskedLM
    (prefix "distilbert.") state dicts name them."""
    H, I, V = cfg["dim"], cfg["hidden_dim"], cfg["vocab_size"]
    wt = pn.RandomWeights(seed, H)
    wt.normal(prefix + "embeddings.word_embeddings.weight", (V, H), std["emb"])
    wt.normal(prefix + "embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], H), std["pos"])
    wt.ln(prefix + "embeddings.LayerNorm")
    for l in range(cfg["n_layers"]):
        p = f"{prefix}transformer.layer.{l}."
        for name, s in (("q_lin", "qk"), ("k_lin", "qk"), ("v_lin", "v"), ("out_lin", "o")):
            wt.lin(p + f"attention.{name}", H, H, std[s])
        wt.ln(p + "sa_layer_norm")
        wt.lin(p + "ffn.lin1", I, H, std["lin1"])
        wt.lin(p + "ffn.lin2", H, I, std["lin2"])
        wt.ln(p + "output_layer_norm")
    if mlm_head:  # DistilBertForMaskedLM's head (vocab_projector.weight tied to the word table, not stored)
        wt.lin("vocab_transform", H, H, 0.2)
        wt.ln("vocab_layer_norm")
        wt.normal("vocab_projector.bias", (V,), 0.1)
    return wt.w


# --------------------------------------------------------------------------------------------------
# DistilBERT forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def tanh_gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def forward(W, cfg, prefix, ids, mask, swap_norms=False, no_pos=False, pos_offset=0, approx_gelu=False):
    """hidden_states [emb, layer 1..L], each [B, S, dim]. Mistakes: swap_norms (sa_layer_norm after the FFN and
    output_layer_norm after attention), no_pos (no position rows), pos_offset (position ids start there, 2 as
    RoBERTa's padding_idx + 1 would), approx_gelu (tanh GELU instead of erf)."""
    H, n = cfg["dim"], cfg["n_heads"]
    d = H // n
    B, S = ids.shape
    assert cfg["activation"] == "gelu" and cfg["sinusoidal_pos_embds"] is False
    lin = lambda t, name: pn.linear(W, t, prefix + name)  # noqa: E731
    ln = lambda t, name: pn.layer_norm(t, W, prefix + name, LN_EPS)  # noqa: E731
    act = tanh_gelu if approx_gelu else mf.gelu
    x = W[prefix + "embeddings.word_embeddings.weight"][ids]
    if not no_pos:
        x = x + W[prefix + "embeddings.position_embeddings.weight"][torch.arange(S) + pos_offset][None]
    x = ln(x, "embeddings.LayerNorm")
    states = [x]
    sa_norm, out_norm = ("output_layer_norm", "sa_layer_norm") if swap_norms else ("sa_layer_norm", "output_layer_norm")
    for l in range(cfg["n_layers"]):
        p = f"transformer.layer.{l}."
        q, k, v = (lin(x, p + f"attention.{m}").view(B, S, n, d) for m in ("q_lin", "k_lin", "v_lin"))
        h = ln(lin(pn.attention(q, k, v, mask), p + "attention.out_lin") + x, p + sa_norm)
        x = ln(lin(act(lin(h, p + "ffn.lin1")), p + "ffn.lin2") + h, p + out_norm)
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Route 2: torch.nn.functional embedding / attention / LayerNorm / GELU
# --------------------------------------------------------------------------------------------------


def forward_functional(W, cfg, prefix, ids, mask):
    n = cfg["n_heads"]
    B, S = ids.shape
    g = lambda name: W[prefix + name]  # noqa: E731
    ln = lambda t, name: pn.layer_norm_functional(t, W, prefix + name, LN_EPS)  # noqa: E731
    pos = torch.arange(S).unsqueeze(0).expand(B, S)
    x = F.embedding(ids, g("embeddings.word_embeddings.weight"))
    x = ln(x + F.embedding(pos, g("embeddings.position_embeddings.weight")), "embeddings.LayerNorm")
    states = [x]
    for l in range(cfg["n_layers"]):
        p = f"transformer.layer.{l}."
        lin = lambda t, m: F.linear(t, g(p + f"attention.{m}.weight"), g(p + f"attention.{m}.bias"))  # noqa: E731
        q, k, v = (lin(x, m) for m in ("q_lin", "k_lin", "v_lin"))
        h = ln(pn.attention_functional(q, k, v, n, W, prefix + p + "attention.out_lin", mask) + x, p + "sa_layer_norm")
        f = F.linear(F.gelu(F.linear(h, g(p + "ffn.lin1.weight"), g(p + "ffn.lin1.bias"))), g(p + "ffn.lin2.weight"))
        x = ln(f + g(p + "ffn.lin2.bias") + h, p + "output_layer_norm")
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def run_model(name, cfg, prefix, dtype, seed, std, texts, ids, mlm_head, st_files):
    folder = pn.new_folder(name, cfg, pn.BERT)
    if st_files:  # multi-qa-distilbert-cos-v1's: Transformer, mean Pooling (the four-key file), Normalize
        pn.write_st_files(folder, cfg["dim"], "mean", cfg["max_position_embeddings"], all_pooling_keys=False)
    W = pn.store_weights(folder, make_weights(cfg, prefix, seed, std, mlm_head), dtype)

    assert max(t for x in ids for t in x) < cfg["vocab_size"]
    assert max(map(len, ids)) + 2 <= cfg["max_position_embeddings"]  # the offset-by-2 mistake reads 2 rows further
    # The fixture must tell the conventions apart: the last layer's mean and CLS both move.
    mistakes = {
        "norms swapped": dict(swap_norms=True),
        "no positions": dict(no_pos=True),
        "positions + 2": dict(pos_offset=2),
    }

    def tanh_gelu_figure(last, run_last, lengths):
        # Not a check, a figure: tanh GELU moves too little to tell apart (see the comment above STD).
        cos_mean, cos_cls = pn.cosines(run_last(approx_gelu=True), last, lengths)
        return f"(not checked: tanh GELU 1 - {1 - cos_mean:.1e}/{1 - cos_cls:.1e}); ", None

    note = (
        "hidden.{i}.{l} (l=0..layers): [len_i, dim], real tokens only; l=0 is the embedding output after "
        "embeddings.LayerNorm (word + position rows 0..len-1, no token type), l=k the output of layer k "
        "(post-norm, after output_layer_norm; no final norm). mean.{i}.{l} / cls.{i}.{l} (l>=1): mean over real "
        "tokens (not normalised; what the sentence-transformers Pooling takes, before Normalize) / token 0. "
        "Every LayerNorm has eps 1e-12 (hard-coded in DistilBERT); GELU is the exact erf form. "
    )
    # Route 1 on one padded batch ([PAD] = 0), checked against each text alone and against route 2
    # (F.embedding, F.multi_head_attention_forward with a key padding mask, F.layer_norm, F.gelu).
    head = f"vocab {cfg['vocab_size']}, dim {cfg['dim']}, {cfg['n_heads']} heads, {cfg['n_layers']} layers"
    pn.run_fixture(
        name, folder, texts, ids, cfg["pad_token_id"], forward, forward_functional, W, cfg, prefix,
        mistakes=mistakes, head=head, note=note, extra_checks=tanh_gelu_figure,
    )  # fmt: skip


def config(vocab_size, **kw):
    """The fields of multi-qa-distilbert-cos-v1's config.json (DistilBertConfig), sizes scaled down; the
    position table has bert-tiny's 160 rows."""
    cfg = {
        "_name_or_path": "distilbert-base-uncased",
        "activation": "gelu",
        "architectures": ["DistilBertModel"],
        "attention_dropout": 0.1,
        "dim": 64,
        "dropout": 0.1,
        "hidden_dim": 128,
        "initializer_range": 0.02,
        "max_position_embeddings": 160,
        "model_type": "distilbert",
        "n_heads": 4,
        "n_layers": 3,
        "pad_token_id": 0,
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "sinusoidal_pos_embds": False,
        "tie_weights_": True,
        "torch_dtype": "float32",
        "transformers_version": "4.30.2",
        "vocab_size": vocab_size,
    }
    cfg.update(kw)
    return cfg


def main():
    texts, ids, vocab_size = pn.bert_texts()
    run_model("distilbert-tiny", config(vocab_size), "", np.float32, 1618, STD, texts, ids, False, True)
    mlm = config(
        vocab_size, architectures=["DistilBertForMaskedLM"], dim=48, n_heads=6, hidden_dim=96, n_layers=2,
        torch_dtype="float16",
    )  # fmt: skip
    run_model("distilbert-mlm-tiny", mlm, "distilbert.", np.float16, 8161, STD_6HEAD, texts, ids, True, False)


if __name__ == "__main__":
    main()
