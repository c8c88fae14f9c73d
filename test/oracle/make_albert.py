#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's ALBERT (model_type "albert") and ELECTRA discriminator (model_type
"electra", embedding_size != hidden_size) architectures: the two BERT-like encoders whose embeddings are narrower
than the layers and are projected up before the first layer.

Writes fixtures/albert-tiny/ (shaped like sentence-transformers/paraphrase-albert-small-v2: an AlbertModel state
dict without a prefix, one shared layer group, F32, mean pooling + Normalize), fixtures/albert-groups-tiny/ (two
layer groups over four layers; every tensor under `albert.` with the masked-LM head an AlbertForMaskedLM state dict
carries, F16) and fixtures/electra-small-tiny/ (shaped like google/electra-small-discriminator: an
ElectraForPreTraining state dict, everything under `electra.` plus the discriminator head, F32), see README.md next
to this file. All three reuse bert-tiny's tokenizer (uncased WordPiece, [PAD]=0 [CLS]=2 [SEP]=3) and its verified
texts and ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_albert.py   (~10 s on 2 cores; after make_fixtures.py)
The float64 building blocks, checks and fixture files it shares with make_distilbert.py and the others are in
post_norm_oracle.py.

The forward below is written by hand in float64 from transformers' models/albert/modeling_albert.py
(AlbertEmbeddings, AlbertAttention, AlbertLayer, AlbertLayerGroup, AlbertTransformer, AlbertModel,
AlbertForMaskedLM / AlbertMLMHead), configuration_albert.py, models/electra/modeling_electra.py (ElectraEmbeddings,
ElectraModel's embeddings_project, the BERT-style ElectraLayer, ElectraForPreTraining /
ElectraDiscriminatorPredictions), configuration_electra.py, and activations.py (NewGELUActivation, GELUActivation);
transformers is not used. Conventions it follows:
  - embeddings (both): word_embeddings[ids] + position_embeddings[0..S-1] (the position_ids buffer, 0..len-1 in
    each right-padded row, not RoBERTa's padding_idx + 1 offset) + token_type_embeddings[0] (the token_type_ids
    buffer: zeros; type 1 is never used), then embeddings.LayerNorm (layer_norm_eps), all embedding_size (E) wide
  - then a projection E -> hidden_size (H) with bias: ALBERT's encoder.embedding_hidden_mapping_in (inside
    AlbertTransformer), ELECTRA's embeddings_project (ElectraModel, present when embedding_size != hidden_size).
    hidden_states[0] is that projected output, H wide (both encoders record their input as the first entry)
  - ALBERT config: AlbertConfig's names: embedding_size, hidden_size, num_hidden_layers, num_hidden_groups,
    inner_group_num, num_attention_heads, intermediate_size, hidden_act "gelu_new" (the tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), NOT erf), layer_norm_eps, max_position_embeddings,
    type_vocab_size, position_embedding_type "absolute", pad/bos/eos_token_id 0/2/3
  - ALBERT weight sharing: the tensors of encoder.albert_layer_groups.{g}.albert_layers.{j}. exist once per group g
    (num_hidden_groups) and inner layer j (inner_group_num); step i of num_hidden_layers runs every inner layer of
    group int(i / (num_hidden_layers / num_hidden_groups)) in turn (layers 0, 1 -> group 0 and 2, 3 -> group 1 for
    4 layers in 2 groups), and only the group's output is a hidden state: hidden_states has num_hidden_layers + 1
    entries, whatever inner_group_num is
  - AlbertLayer (post-norm): ctx = softmax(q k^T / sqrt(d), padding keys masked) v with attention.{query,key,value}
    [H, H] + bias, d = H / num_attention_heads, bidirectional; a = attention.LayerNorm(x + attention.dense(ctx));
    x' = full_layer_layer_norm(ffn_output(gelu_new(ffn(a))) + a), ffn [I, H], ffn_output [H, I]. No final norm
  - AlbertModel has pooler.{weight,bias} [H, H] (tanh on token 0; the embedder ignores it); AlbertForMaskedLM
    (base_model_prefix "albert") builds AlbertModel(add_pooling_layer=False), so no pooler, and its head is
    predictions.{bias [V], dense [E, H] + bias, LayerNorm [E], decoder.bias [V]} (decoder.bias is predictions.bias,
    the same values; decoder.weight is tied to the word table and not stored). The embedder ignores the head
  - ELECTRA layers: BERT's, `encoder.layer.{l}.attention.self.{query,key,value}`, `attention.output.{dense,
    LayerNorm}`, `intermediate.dense`, `output.{dense,LayerNorm}`, post-norm, hidden_act "gelu" (exact erf).
    ElectraForPreTraining (base_model_prefix "electra") adds discriminator_predictions.dense [H, H] + bias and
    dense_prediction [1, H] + bias, which the embedder ignores. No pooler, no final norm
  - the sentence vector of the sentence-transformers checkpoint is the mean over real tokens, then Normalize
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

# Standard deviations of the random weights (LayerNorm weights 1 + 0.1*N(0,1), biases 0.1*N(0,1), linear biases
# 0.1*N(0,1)), make_distilbert.py's with what the narrow embeddings add. The word (0.5), position (0.4) and
# token-type (0.25) rows are of a size, so that dropping the type-0 row (one shift of every token before the
# embedding LayerNorm) or reading the position rows two further (RoBERTa's offset) moves the output far; a larger
# type row would be a large common part of every token. The projection E -> H (0.18 ~ 1 / sqrt(E) for E = 32,
# 0.2 for E = 24) keeps the first layer's input at unit scale, as the LayerNorm outputs feeding every other
# projection are; query/key 0.2 gives per-head logits of std about 2. Value 0.1 / attention output 0.08 (below
# make_distilbert.py's 0.15 / 0.12) keep the averaging of attention from pulling the tokens together: with
# ALBERT's one layer applied four times the mean pairwise token cosine of the last layer reached 0.92 with the
# larger ones, 0.65 with these. ffn 0.2 / ffn_output 0.08 keep per-row q8 rounding of the weights (simulated by
# post_norm_oracle.run_fixture) at cosine >= 0.999 on the last CLS while every deliberate mistake still moves it
# far. gelu_new differs from erf GELU by < 5e-4 anywhere: as in make_distilbert.py, erf GELU in ALBERT is printed
# as a figure, not checked.
STD = {"emb": 0.5, "pos": 0.4, "type": 0.25, "proj": 0.18, "qk": 0.2, "v": 0.1, "o": 0.08, "lin1": 0.2, "lin2": 0.08}
STD_E24 = dict(STD, proj=0.2)  # albert-groups-tiny: E = 24

# The layer's tensors, by role, under each architecture's names.
ALBERT_NAMES = {
    "q": "attention.query",
    "k": "attention.key",
    "v": "attention.value",
    "o": "attention.dense",
    "attn_norm": "attention.LayerNorm",
    "up": "ffn",
    "down": "ffn_output",
    "out_norm": "full_layer_layer_norm",
}
BERT_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "o": "attention.output.dense",
    "attn_norm": "attention.output.LayerNorm",
    "up": "intermediate.dense",
    "down": "output.dense",
    "out_norm": "output.LayerNorm",
}


def is_albert(cfg):
    return cfg["model_type"] == "albert"


def projection(cfg):
    """The E -> H projection after the embedding LayerNorm, under the model prefix."""
    return "encoder.embedding_hidden_mapping_in" if is_albert(cfg) else "embeddings_project"


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------


def make_weights(cfg, prefix, seed, std, head):
    """(name, float64 array) in module order, named as the state dict of AlbertModel (prefix "", head "pooler"),
    AlbertForMaskedLM (prefix "albert.", head "mlm") or ElectraForPreTraining (prefix "electra.", head
    "discriminator") names them."""
    E, H, I, V = cfg["embedding_size"], cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    wt = pn.RandomWeights(seed, H)

    def ln_e(name):  # a LayerNorm over the E-wide embeddings
        wt.hidden = E
        wt.ln(name)
        wt.hidden = H

    wt.normal(prefix + "embeddings.word_embeddings.weight", (V, E), std["emb"])
    wt.normal(prefix + "embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], E), std["pos"])
    wt.normal(prefix + "embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], E), std["type"])
    ln_e(prefix + "embeddings.LayerNorm")
    wt.lin(prefix + projection(cfg), H, E, std["proj"])
    if is_albert(cfg):
        blocks = [
            (f"{prefix}encoder.albert_layer_groups.{g}.albert_layers.{j}.", ALBERT_NAMES)
            for g in range(cfg["num_hidden_groups"])
            for j in range(cfg["inner_group_num"])
        ]
    else:
        blocks = [(f"{prefix}encoder.layer.{l}.", BERT_NAMES) for l in range(cfg["num_hidden_layers"])]
    for p, n in blocks:
        for role, s in (("q", "qk"), ("k", "qk"), ("v", "v"), ("o", "o")):
            wt.lin(p + n[role], H, H, std[s])
        wt.ln(p + n["attn_norm"])
        wt.lin(p + n["up"], I, H, std["lin1"])
        wt.lin(p + n["down"], H, I, std["lin2"])
        wt.ln(p + n["out_norm"])
    if head == "pooler":  # AlbertModel's pooler (tanh on token 0)
        wt.lin("pooler", H, H, 0.2)
    elif head == "mlm":  # AlbertMLMHead; decoder.weight tied to the word table, decoder.bias is predictions.bias
        wt.normal("predictions.bias", (V,), 0.1)
        bias = wt.w[-1][1]
        wt.lin("predictions.dense", E, H, 0.2)
        ln_e("predictions.LayerNorm")
        wt.w.append(("predictions.decoder.bias", bias.copy()))
    elif head == "discriminator":  # ElectraDiscriminatorPredictions
        wt.lin("discriminator_predictions.dense", H, H, 0.2)
        wt.lin("discriminator_predictions.dense_prediction", 1, H, 0.2)
    return wt.w


# --------------------------------------------------------------------------------------------------
# Forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def tanh_gelu(x):  # gelu_new (NewGELUActivation)
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def layer_blocks(cfg, i, groups="blocks"):
    """The layer prefixes (under the model prefix) step i runs, in order, and their names. groups: "blocks" as
    AlbertTransformer picks the group, "interleaved" (group i % G) and "one" (group 0 every step) as mistakes."""
    if not is_albert(cfg):
        return [(f"encoder.layer.{i}.", BERT_NAMES)]
    N, G = cfg["num_hidden_layers"], cfg["num_hidden_groups"]
    g = {"blocks": int(i / (N / G)), "interleaved": i % G, "one": 0}[groups]
    p = f"encoder.albert_layer_groups.{g}.albert_layers."
    return [(f"{p}{j}.", ALBERT_NAMES) for j in range(cfg["inner_group_num"])]


def forward(W, cfg, prefix, ids, mask, swap_norms=False, pos_offset=0, no_type=False, groups="blocks",
            other_gelu=False):  # fmt: skip
    """hidden_states [projected embeddings, step 1..N], each [B, S, H]. Mistakes: swap_norms (the attention norm
    after the FFN and the output norm after attention), pos_offset (position ids start there, 2 as RoBERTa's
    padding_idx + 1 would), no_type (no token-type row), groups (see layer_blocks), other_gelu (erf GELU in
    ALBERT, tanh in ELECTRA)."""
    H, n, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d = H // n
    B, S = ids.shape
    assert cfg["hidden_act"] == ("gelu_new" if is_albert(cfg) else "gelu")
    assert cfg["position_embedding_type"] == "absolute"
    lin = lambda t, name: pn.linear(W, t, prefix + name)  # noqa: E731
    ln = lambda t, name: pn.layer_norm(t, W, prefix + name, eps)  # noqa: E731
    act = tanh_gelu if is_albert(cfg) != other_gelu else mf.gelu
    x = W[prefix + "embeddings.word_embeddings.weight"][ids]
    x = x + W[prefix + "embeddings.position_embeddings.weight"][torch.arange(S) + pos_offset][None]
    if not no_type:
        x = x + W[prefix + "embeddings.token_type_embeddings.weight"][0]
    x = lin(ln(x, "embeddings.LayerNorm"), projection(cfg))
    states = [x]
    for i in range(cfg["num_hidden_layers"]):
        for p, nm in layer_blocks(cfg, i, groups):
            attn_norm, out_norm = nm["attn_norm"], nm["out_norm"]
            if swap_norms:
                attn_norm, out_norm = out_norm, attn_norm
            q, k, v = (lin(x, p + nm[r]).view(B, S, n, d) for r in ("q", "k", "v"))
            a = ln(x + lin(pn.attention(q, k, v, mask), p + nm["o"]), p + attn_norm)
            x = ln(lin(act(lin(a, p + nm["up"])), p + nm["down"]) + a, p + out_norm)
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Route 2: torch.nn.functional embedding / linear / attention / LayerNorm / GELU
# --------------------------------------------------------------------------------------------------


def forward_functional(W, cfg, prefix, ids, mask):
    n, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    B, S = ids.shape
    g = lambda name: W[prefix + name]  # noqa: E731
    ln = lambda t, name: pn.layer_norm_functional(t, W, prefix + name, eps)  # noqa: E731
    fl = lambda t, name: F.linear(t, g(name + ".weight"), g(name + ".bias"))  # noqa: E731
    approximate = "tanh" if cfg["hidden_act"] == "gelu_new" else "none"
    pos = torch.arange(S).unsqueeze(0).expand(B, S)
    x = F.embedding(ids, g("embeddings.word_embeddings.weight"))
    x = x + F.embedding(pos, g("embeddings.position_embeddings.weight"))
    x = x + F.embedding(torch.zeros_like(ids), g("embeddings.token_type_embeddings.weight"))
    x = fl(ln(x, "embeddings.LayerNorm"), projection(cfg))
    states = [x]
    N = cfg["num_hidden_layers"]
    for i in range(N):
        if is_albert(cfg):  # layers_per_group consecutive steps share a group
            per_group = N // cfg["num_hidden_groups"]
            p0 = f"encoder.albert_layer_groups.{i // per_group}.albert_layers."
            blocks = [(f"{p0}{j}.", ALBERT_NAMES) for j in range(cfg["inner_group_num"])]
        else:
            blocks = [(f"encoder.layer.{i}.", BERT_NAMES)]
        for p, nm in blocks:
            q, k, v = (fl(x, p + nm[r]) for r in ("q", "k", "v"))
            a = ln(pn.attention_functional(q, k, v, n, W, prefix + p + nm["o"], mask) + x, p + nm["attn_norm"])
            f = fl(F.gelu(fl(a, p + nm["up"]), approximate=approximate), p + nm["down"])
            x = ln(f + a, p + nm["out_norm"])
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def run_model(name, cfg, prefix, dtype, seed, std, texts, ids, head, st_files):
    folder = pn.new_folder(name, cfg, pn.BERT)
    if st_files:  # paraphrase-albert-small-v2's Transformer, mean Pooling (the four-key file); Normalize
        pn.write_st_files(folder, cfg["hidden_size"], "mean", cfg["max_position_embeddings"], all_pooling_keys=False)
    W = pn.store_weights(folder, make_weights(cfg, prefix, seed, std, head), dtype)

    assert max(t for x in ids for t in x) < cfg["vocab_size"]
    assert max(map(len, ids)) + 2 <= cfg["max_position_embeddings"]  # the offset-by-2 mistake reads 2 rows further
    # The fixture must tell the conventions apart: the last layer's mean and CLS both move.
    mistakes = {
        "norms swapped": dict(swap_norms=True),
        "positions + 2": dict(pos_offset=2),
        "no token type row": dict(no_type=True),
    }
    if is_albert(cfg) and cfg["num_hidden_groups"] > 1:
        mistakes["groups interleaved"] = dict(groups="interleaved")
        mistakes["one group for all"] = dict(groups="one")

    extra_checks = None
    if is_albert(cfg):

        def extra_checks(last, run_last, lengths):
            # Not a check, a figure: erf GELU moves too little to tell apart (see the comment above STD).
            cos_mean, cos_cls = pn.cosines(run_last(other_gelu=True), last, lengths)
            return f"(not checked: erf GELU 1 - {1 - cos_mean:.1e}/{1 - cos_cls:.1e}); ", None

    E, H = cfg["embedding_size"], cfg["hidden_size"]
    if is_albert(cfg):
        steps = (
            f"l=k the output of step k of {cfg['num_hidden_layers']} (group int((k-1) / "
            f"({cfg['num_hidden_layers']} / {cfg['num_hidden_groups']})), after full_layer_layer_norm; no final "
            "norm). GELU is gelu_new (tanh approximation). "
        )
        proj = "encoder.embedding_hidden_mapping_in"
    else:
        steps = "l=k the output of layer k (post-norm, after output.LayerNorm; no final norm). GELU is exact erf. "
        proj = "embeddings_project"
    note = (
        f"hidden.{{i}}.{{l}} (l=0..layers): [len_i, hidden_size], real tokens only; l=0 is the embedding output "
        f"projected to hidden_size: {proj}(embeddings.LayerNorm(word + position rows 0..len-1 + token type 0 row)) "
        f"([{H}], the embeddings being embedding_size {E} wide), {steps}"
        "mean.{i}.{l} / cls.{i}.{l} (l>=1): mean over real tokens (not normalised; what the sentence-transformers "
        f"Pooling takes, before Normalize) / token 0. Every LayerNorm has eps {cfg['layer_norm_eps']}. "
    )
    # Route 1 on one padded batch ([PAD] = 0), checked against each text alone and against route 2
    # (F.embedding, F.linear, F.multi_head_attention_forward with a key padding mask, F.layer_norm, F.gelu).
    head_line = (
        f"vocab {cfg['vocab_size']}, embedding {E}, hidden {H}, {cfg['num_attention_heads']} heads, "
        f"{cfg['num_hidden_layers']} layers"
    )
    if is_albert(cfg):
        head_line += f" in {cfg['num_hidden_groups']} group(s)"
    pn.run_fixture(
        name, folder, texts, ids, cfg["pad_token_id"], forward, forward_functional, W, cfg, prefix,
        mistakes=mistakes, head=head_line, note=note, extra_checks=extra_checks,
    )  # fmt: skip


def albert_config(vocab_size, **kw):
    """AlbertConfig's fields as paraphrase-albert-small-v2's config.json has them, sizes scaled down; the position
    table has bert-tiny's 160 rows."""
    cfg = {
        "architectures": ["AlbertModel"],
        "attention_probs_dropout_prob": 0,
        "bos_token_id": 2,
        "classifier_dropout_prob": 0.1,
        "embedding_size": 32,
        "eos_token_id": 3,
        "hidden_act": "gelu_new",
        "hidden_dropout_prob": 0,
        "hidden_size": 64,
        "initializer_range": 0.02,
        "inner_group_num": 1,
        "intermediate_size": 128,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 160,
        "model_type": "albert",
        "num_attention_heads": 4,
        "num_hidden_groups": 1,
        "num_hidden_layers": 4,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.30.2",
        "type_vocab_size": 2,
        "vocab_size": vocab_size,
    }
    cfg.update(kw)
    return cfg


def electra_config(vocab_size):
    """ElectraConfig's fields (google/electra-small-discriminator's shape: embedding_size < hidden_size, 4 heads),
    sizes scaled down; the position table has bert-tiny's 160 rows."""
    return {
        "architectures": ["ElectraForPreTraining"],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "embedding_size": 32,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 160,
        "model_type": "electra",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "summary_activation": "gelu",
        "summary_last_dropout": 0.1,
        "summary_type": "first",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": "4.30.2",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def main():
    texts, ids, vocab_size = pn.bert_texts()
    run_model("albert-tiny", albert_config(vocab_size), "", np.float32, 2424, STD, texts, ids, "pooler", True)
    groups = albert_config(
        vocab_size, architectures=["AlbertForMaskedLM"], embedding_size=24, hidden_size=48, intermediate_size=96,
        num_hidden_groups=2, torch_dtype="float16",
    )  # fmt: skip
    run_model("albert-groups-tiny", groups, "albert.", np.float16, 4242, STD_E24, texts, ids, "mlm", False)
    electra = electra_config(vocab_size)
    run_model("electra-small-tiny", electra, "electra.", np.float32, 3131, STD, texts, ids, "discriminator", False)


if __name__ == "__main__":
    main()
