#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's MPNet architecture (model_type "mpnet").

Writes fixtures/mpnet-tiny/ (shaped like sentence-transformers/all-mpnet-base-v2, multi-qa-mpnet-base-dot-v1,
paraphrase-mpnet-base-v2: MPNetModel weights without a prefix plus pooler.dense, 4 heads, F32, mean pooling +
Normalize) and fixtures/mpnet-mlm-tiny/ (6 heads; every tensor under `mpnet.` with the lm_head an
MPNetForMaskedLM state dict carries, F16), see README.md next to this file. Both use an MPNet-layout tokenizer
made from bert-tiny's (uncased WordPiece, <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4, template "<s> $A </s>") and
bert-tiny's texts with its verified ids mapped through that permutation.

Run from the repository root:  /usr/bin/python3 test/oracle/make_mpnet.py [--no-node]   (~20 s on 2 cores;
after make_fixtures.py). At the end it runs check_tokenizers.mjs (the JS tokenizer against every tiny fixture's ids).
The float64 building blocks, checks and fixture files it shares with make_gte.py, make_nomic.py and make_jina.py
are in post_norm_oracle.py.

The forward below is written by hand in float64 from transformers' models/mpnet/modeling_mpnet.py
(create_position_ids_from_input_ids, MPNetEmbeddings, MPNetSelfAttention, MPNetAttention, MPNetLayer,
MPNetEncoder.compute_position_bias / relative_position_bucket, MPNetModel, MPNetLMHead) and
configuration_mpnet.py; transformers is not used. Conventions it follows:
  - config: BERT's names (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act,
    layer_norm_eps 1e-5, max_position_embeddings = longest input + 2, 514 in the real models) plus
    relative_attention_num_buckets 32; pad_token_id 1, bos 0, eos 2. No token-type table (no type_vocab_size)
  - embeddings: padding_idx = 1, hard-coded (not read from the config); position ids as RoBERTa's
    create_position_ids_from_input_ids: cumsum(ids != 1) * (ids != 1) + 1, so real tokens get 2, 3, ..., len + 1
    and pads 1. x = embeddings.LayerNorm(word_embeddings[ids] + position_embeddings[position ids])
  - relative position bias, computed ONCE by the encoder from the padded row's token indices 0..S-1 (not the
    position ids; right padding leaves each real token's index as it is alone) and added in EVERY layer:
    bias[h, i, j] = encoder.relative_attention_bias.weight[bucket(j - i), h] (an Embedding [32, heads]) with
    bucket(r): n = -r = i - j; ret = 16 if n < 0 (key j after query i) else 0; n = |n|; n < 8: ret + n; else
    ret + min(15, 8 + int(log(n / 8) / log(128 / 8) * 8)), computed by torch in float32 (n.float() / 8, torch.log,
    divided by python's math.log(16.0), times 8, .to(torch.long) truncation). num_buckets 32 and
    max_distance 128 are compute_position_bias' defaults, not read from the config. In exact arithmetic the large
    branch is 1 + bit_length(n * n) (clipped at 15), i.e. |r| 8..11 -> 8, 12..15 -> 9, 16..22 -> 10,
    23..31 -> 11, 32..45 -> 12, 46..63 -> 13, 64..90 -> 14, >= 91 -> 15; torch's float32 agrees over
    -300..300 (asserted, and exported as expected.json's `buckets`)
  - layer `encoder.layer.{l}.`: attention.attn.{q,k,v} ([H, H] + bias each), d = H / heads,
    softmax(q k^T / sqrt(d) + bias + padding mask) v, bidirectional; attention.attn.o; post-norm
    h = attention.LayerNorm(o(ctx) + x); x' = output.LayerNorm(output.dense(gelu(intermediate.dense(h))) + h),
    exact erf GELU ("gelu")
  - hidden_states = [embedding output after its LayerNorm, layer 1, ..., layer L], no final norm; pooler.dense
    (MPNetModel's tanh pooler) is not used by sentence-transformers, whose vector is the mean over real
    tokens, then Normalize
  - MPNetForMaskedLM (base_model_prefix "mpnet", MPNetModel without its pooler): the tensors under `mpnet.`, plus
    lm_head.dense.{weight,bias}, lm_head.layer_norm.{weight,bias}, lm_head.bias; lm_head.decoder's weight is tied
    to the word table and its bias is lm_head.bias, neither stored again. The embedder ignores the head
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

PADDING_IDX = 1  # MPNetEmbeddings.padding_idx, hard-coded
NUM_BUCKETS, MAX_DISTANCE = 32, 128  # compute_position_bias / relative_position_bucket defaults
BUCKET_RANGE = 300  # expected.json's `buckets` covers j - i in -300..300

# bert-tiny's specials -> MPNet's (name, id): <s> <pad> </s> <unk> take ids 0..3 (swapping with whatever held
# them), [MASK] keeps its id under MPNet's name.
SPECIALS = (("[CLS]", "<s>", 0), ("[PAD]", "<pad>", 1), ("[SEP]", "</s>", 2), ("[UNK]", "<unk>", 3),
            ("[MASK]", "<mask>", None))  # fmt: skip

# Standard deviations of the random weights (LayerNorm weights 1 + 0.1*N(0,1), biases 0.1*N(0,1), linear biases
# 0.1*N(0,1)). Inputs to every projection are LayerNorm outputs (unit scale), so query/key 0.18 gives per-head
# logits of std about 1.7 (head dim 16). The relative bias table ("rel", N(0, 0.9^2) per bucket and head) is of
# the same order: large enough that dropping it, bucketing i - j, adding it in the first layer only or
# bucketing without the log branch all move the last layer well below 0.999 (with 0.5, the first-layer-only
# mistake moves mpnet-mlm-tiny's mean to 0.9965 only), while the content logits still matter. The position rows
# (0.4, next to the word rows' 0.5) make positions from 0 instead of 2 move the output far. The q8 figure is
# the binding constraint: query/key 0.2 with intermediate 0.2 leave per-row q8 rounding of the weights
# (simulated below) at 0.9992 on the last CLS (mpnet-mlm-tiny with query/key 0.28: 0.9989), every group of
# tensors contributing alike; query/key 0.18 and intermediate 0.15 give 0.9996 / 0.9994. mpnet-mlm-tiny (head
# dim 8) uses query/key 0.22 (logits of std ~1.7 at head dim 8) and 3 layers: with 2, the first-layer-only
# mistake differs in one layer and moves the mean to 0.997 only.
STD = {"emb": 0.5, "pos": 0.4, "qk": 0.18, "v": 0.15, "o": 0.12, "ffn_in": 0.15, "ffn_out": 0.08, "rel": 0.9}
STD_6HEAD = dict(STD, qk=0.22)


# --------------------------------------------------------------------------------------------------
# Relative position buckets
# --------------------------------------------------------------------------------------------------


def relative_position_bucket(relative_position, num_buckets=NUM_BUCKETS, max_distance=MAX_DISTANCE):
    """MPNetEncoder.relative_position_bucket as torch computes it: relative_position = j - i (long tensor);
    the large branch in float32 and truncated by .to(torch.long)."""
    n = -relative_position
    num_buckets //= 2
    ret = (n < 0).to(torch.long) * num_buckets
    n = torch.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    scaled = torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    val_if_large = torch.clamp(max_exact + scaled.to(torch.long), max=num_buckets - 1)
    return ret + torch.where(is_small, n, val_if_large)


def bucket_exact(r):
    """The same bucket of one python int r = j - i in integer arithmetic: for n = |r| >= 8,
    8 + floor(8 log(n/8) / log 16) = 8 + floor(log2(n^2 / 64)) = 1 + bit_length(n^2), at most 15."""
    ret = 16 if r > 0 else 0
    n = abs(r)
    return ret + (n if n < 8 else min(15, 1 + (n * n).bit_length()))


def bucket_linear(relative_position):
    """The mistake: buckets by the exact distance clipped at 15, without the log branch."""
    return (relative_position > 0).to(torch.long) * 16 + relative_position.abs().clamp(max=15)


def self_test_buckets():
    """torch's float32 buckets equal the integer form over j - i in -300..300 (and by hand at a few
    distances). Returns the exported table and a line for the summary: the float32 values where the exact
    value is an integer (n = 16, 32, 64, 128, 256: a float32 log a hair low there would truncate one bucket
    lower) and how close any other n comes to an integer from below."""
    r = torch.arange(-BUCKET_RANGE, BUCKET_RANGE + 1)
    values = relative_position_bucket(r).tolist()
    exact = [bucket_exact(int(x)) for x in r]
    diff = [(int(x), a, b) for x, a, b in zip(r, values, exact) if a != b]
    assert not diff, ("float32 buckets differ from the integer form", diff)
    by_hand = {0: 0, -1: 1, 1: 17, -7: 7, -8: 8, -11: 8, -12: 9, -16: 10, -23: 11, -31: 11, -32: 12, -45: 12,
               -46: 13, -63: 13, -64: 14, -90: 14, -91: 15, -300: 15, 8: 24, 91: 31, 300: 31}  # fmt: skip
    for x, b in by_hand.items():
        assert values[x + BUCKET_RANGE] == b, (x, values[x + BUCKET_RANGE], b)
    n = torch.arange(8, BUCKET_RANGE + 1)
    f32 = (torch.log(n.float() / 8) / math.log(16.0) * 8).tolist()
    on_integer = [(k, v) for k, v in zip(n.tolist(), f32) if k & (k - 1) == 0]  # n = 2^m
    assert all(v == round(v) for _, v in on_integer), on_integer
    # Below n = 91 the bucket is not clipped at 15: there the truncation has the most room to go wrong.
    gap, at = min((math.ceil(v) - v, k) for k, v in zip(n.tolist(), f32) if v != round(v) and k < 91)
    line = (
        f"buckets: float32 torch == integer form over j - i in -{BUCKET_RANGE}..{BUCKET_RANGE}; float32 at "
        f"n = {', '.join(f'{k}: {v:g}' for k, v in on_integer)} exactly; below n = 91 (unclipped) the nearest "
        f"other approach to an integer from below is {gap:.4f} (n = {at})"
    )
    return {"from": -BUCKET_RANGE, "values": values}, line


# --------------------------------------------------------------------------------------------------
# Tokenizer: bert-tiny's, its specials renamed and moved to MPNet's ids
# --------------------------------------------------------------------------------------------------


def mpnet_tokenizer():
    """tokenizer.json, tokenizer_config.json and the old id -> new id permutation, from bert-tiny's files."""
    tj = pn.read_json(os.path.join(pn.BERT, "tokenizer.json"))
    old = tj["model"]["vocab"]
    rename = {a: b for a, b, _ in SPECIALS}
    vocab = {rename.get(t, t): i for t, i in old.items()}
    for _, name, target in SPECIALS:
        if target is None:
            continue
        holder = next(t for t, i in vocab.items() if i == target)
        vocab[holder], vocab[name] = vocab[name], target
    perm = {i: vocab[rename.get(t, t)] for t, i in old.items()}
    assert sorted(perm.values()) == list(range(len(old))), "not a permutation"
    moved = {i: j for i, j in perm.items() if i != j}
    assert moved == {2: 0, 0: 1, 3: 2, 1: 3}, moved  # bert-tiny: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4
    vocab = dict(sorted(vocab.items(), key=lambda kv: kv[1]))

    tj["model"]["vocab"] = vocab
    tj["model"]["unk_token"] = rename[tj["model"]["unk_token"]]
    added = []
    for a in tj["added_tokens"]:
        a = dict(a, id=perm[a["id"]], content=rename[a["content"]])
        a["lstrip"] = a["content"] == "<mask>"  # MPNetTokenizer's mask token: AddedToken(lstrip=True)
        added.append(a)
    tj["added_tokens"] = sorted(added, key=lambda a: a["id"])
    post = tj["post_processor"]
    assert post["type"] == "TemplateProcessing"
    special = lambda t, type_id: {"SpecialToken": {"id": t, "type_id": type_id}}  # noqa: E731
    seq = lambda s, type_id: {"Sequence": {"id": s, "type_id": type_id}}  # noqa: E731
    post["single"] = [special("<s>", 0), seq("A", 0), special("</s>", 0)]
    # MPNetConverter's pair template: <s>:0 $A:0 </s>:0 </s>:0 $B:1 </s>:1
    post["pair"] = [special("<s>", 0), seq("A", 0), special("</s>", 0), special("</s>", 0), seq("B", 1),
                    special("</s>", 1)]  # fmt: skip
    post["special_tokens"] = {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in ("<s>", "</s>")}
    if tj.get("padding"):
        tj["padding"].update(pad_id=vocab["<pad>"], pad_token="<pad>")

    # Cross-check: make_fixtures' writer, given the new vocabulary and specials, writes the same file (up to
    # the XLM-R pair template it uses for <s>, which differs from MPNet's in B's type id).
    specials = [b for _, b, _ in SPECIALS]
    ref = mf.tokenizer_json(vocab, specials, True, "<unk>", "<s>", "</s>", lstrip=("<mask>",))
    ref["post_processor"]["pair"] = post["pair"]
    assert ref == tj, "tokenizer.json differs from make_fixtures.tokenizer_json's"

    tcfg = {
        "tokenizer_class": "MPNetTokenizer",
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "model_max_length": 160,
        **mf.XLMR_SPECIAL_TOKENS,
        "clean_up_tokenization_spaces": True,
    }
    return tj, tcfg, perm


def mpnet_ids(texts, bert_ids, tj, perm):
    """bert-tiny's verified ids mapped through the permutation, checked against make_fixtures' Python
    WordPiece tokenizer run with the new vocabulary and specials."""
    ids = [[perm[t] for t in x] for x in bert_ids]
    specials = [b for _, b, _ in SPECIALS]
    tok = mf.WordPieceTokenizer(tj["model"]["vocab"], True, "<unk>", "<s>", "</s>", added=specials, lstrip=("<mask>",))
    for t, x in zip(texts, ids):
        assert tok.encode(t) == x, (t, tok.encode(t), x)
        assert x[0] == 0 and x[-1] == 2, x  # <s> ... </s>
        assert PADDING_IDX not in x, x  # no real token is <pad>: the position ids would skip it
    return ids


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------


def make_weights(cfg, prefix, seed, std, pooler, mlm_head):
    """(name, float64 array) in module order, named as MPNetModel (prefix "") or MPNetForMaskedLM (prefix
    "mpnet.") state dicts name them."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    wt = pn.RandomWeights(seed, H)
    wt.normal(prefix + "embeddings.word_embeddings.weight", (V, H), std["emb"])
    wt.normal(prefix + "embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], H), std["pos"])
    wt.ln(prefix + "embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        for name, s in (("q", "qk"), ("k", "qk"), ("v", "v"), ("o", "o")):
            wt.lin(p + f"attention.attn.{name}", H, H, std[s])
        wt.ln(p + "attention.LayerNorm")
        wt.lin(p + "intermediate.dense", I, H, std["ffn_in"])
        wt.lin(p + "output.dense", H, I, std["ffn_out"])
        wt.ln(p + "output.LayerNorm")
    shape = (cfg["relative_attention_num_buckets"], cfg["num_attention_heads"])
    wt.normal(prefix + "encoder.relative_attention_bias.weight", shape, std["rel"])
    if pooler:  # MPNetModel's pooler, in the sentence-transformers checkpoints; the runtime must ignore it
        wt.lin(prefix + "pooler.dense", H, H, 0.2)
    if mlm_head:  # MPNetLMHead (decoder weight tied to the word table, decoder bias = lm_head.bias); ignored
        wt.lin("lm_head.dense", H, H, 0.2)
        wt.ln("lm_head.layer_norm")
        wt.normal("lm_head.bias", (V,), 0.1)
    return wt.w


# --------------------------------------------------------------------------------------------------
# MPNet forward (float64), route 1: hand-written, the mistakes selectable
# --------------------------------------------------------------------------------------------------


def position_ids(ids, from_zero=False):
    """create_position_ids_from_input_ids(ids, padding_idx 1): real tokens 2, 3, ..., pads 1. from_zero: the
    mistake of BERT's 0..S-1."""
    if from_zero:
        return torch.arange(ids.shape[1]).expand_as(ids)
    m = (ids != PADDING_IDX).long()
    return torch.cumsum(m, dim=1) * m + PADDING_IDX


def position_bias(W, prefix, S, bucket=relative_position_bucket, flip=False):
    """[heads, S, S]: relative_attention_bias.weight[bucket(j - i), h] over token indices 0..S-1. flip: the
    mistake of bucketing i - j."""
    r = torch.arange(S)[None, :] - torch.arange(S)[:, None]  # memory_position - context_position = j - i
    return W[prefix + "encoder.relative_attention_bias.weight"][bucket(-r if flip else r)].permute(2, 0, 1)


def forward(W, cfg, prefix, ids, mask, bias="model", positions_from_zero=False):
    """hidden_states [emb, layer 1..L], each [B, S, H]. Mistakes: bias "none" (no relative bias), "flipped"
    (bucket of i - j), "first layer" (added in layer 1 only), "no log" (buckets by the distance clipped at 15);
    positions_from_zero (position ids 0..S-1 instead of 2..)."""
    H, n, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d = H // n
    B, S = ids.shape
    assert cfg["hidden_act"] == "gelu" and cfg["relative_attention_num_buckets"] == NUM_BUCKETS
    lin = lambda t, name: pn.linear(W, t, prefix + name)  # noqa: E731
    ln = lambda t, name: pn.layer_norm(t, W, prefix + name, eps)  # noqa: E731
    pos = position_ids(ids, positions_from_zero)
    x = W[prefix + "embeddings.word_embeddings.weight"][ids] + W[prefix + "embeddings.position_embeddings.weight"][pos]
    x = ln(x, "embeddings.LayerNorm")
    states = [x]
    if bias == "no log":
        pb = position_bias(W, prefix, S, bucket_linear)
    else:
        pb = position_bias(W, prefix, S, flip=bias == "flipped")
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (lin(x, p + f"attention.attn.{m}").view(B, S, n, d) for m in ("q", "k", "v"))
        use = bias != "none" and (bias != "first layer" or l == 0)
        ctx = pn.attention(q, k, v, mask, pb if use else None)
        h = ln(lin(ctx, p + "attention.attn.o") + x, p + "attention.LayerNorm")
        x = ln(lin(mf.gelu(lin(h, p + "intermediate.dense")), p + "output.dense") + h, p + "output.LayerNorm")
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Route 2: the bias by an explicit loop in numpy (integer-form buckets), torch.nn.functional embedding /
# attention / LayerNorm / GELU
# --------------------------------------------------------------------------------------------------


def bias_loop(table, S):
    """[heads, S, S] float64 from the [32, heads] table, one entry at a time."""
    out = np.zeros((table.shape[1], S, S), dtype=np.float64)
    for h in range(table.shape[1]):
        for i in range(S):
            for j in range(S):
                out[h, i, j] = table[bucket_exact(j - i), h]
    return out


def forward_functional(W, cfg, prefix, ids, mask):
    n, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    B, S = ids.shape
    g = lambda name: W[prefix + name]  # noqa: E731
    ln = lambda t, name: pn.layer_norm_functional(t, W, prefix + name, eps)  # noqa: E731
    # Position ids written another way: 1 + the running count of real tokens, pads set to 1.
    real = ids.ne(PADDING_IDX)
    pos = torch.where(real, real.long().cumsum(1) + 1, torch.ones_like(ids))
    x = F.embedding(ids, g("embeddings.word_embeddings.weight"))
    x = ln(x + F.embedding(pos, g("embeddings.position_embeddings.weight")), "embeddings.LayerNorm")
    states = [x]
    # multi_head_attention_forward folds batch and heads as b * n + h: the per-head bias repeated per row.
    table = g("encoder.relative_attention_bias.weight").numpy()
    attn_bias = torch.from_numpy(bias_loop(table, S)).repeat(B, 1, 1)  # [B * n, S, S]
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (F.linear(x, g(p + f"attention.attn.{m}.weight"), g(p + f"attention.attn.{m}.bias")) for m in "qkv")
        a = pn.attention_functional(q, k, v, n, W, prefix + p + "attention.attn.o", mask, attn_bias)
        h = ln(a + x, p + "attention.LayerNorm")
        m = F.gelu(F.linear(h, g(p + "intermediate.dense.weight"), g(p + "intermediate.dense.bias")))
        x = ln(F.linear(m, g(p + "output.dense.weight"), g(p + "output.dense.bias")) + h, p + "output.LayerNorm")
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def run_model(name, cfg, prefix, dtype, seed, std, texts, ids, tok, buckets, pooler, mlm_head, st_files):
    folder = pn.new_folder(name, cfg, pn.BERT)
    tj, tcfg = tok
    mf.write_json(os.path.join(folder, "tokenizer.json"), tj)
    mf.write_json(os.path.join(folder, "tokenizer_config.json"), tcfg)
    if st_files:  # all-mpnet-base-v2's: Transformer, mean Pooling (the four-key file), Normalize
        max_len = cfg["max_position_embeddings"] - 2  # position ids run to len + 1
        pn.write_st_files(folder, cfg["hidden_size"], "mean", max_len, all_pooling_keys=False)
    W = pn.store_weights(folder, make_weights(cfg, prefix, seed, std, pooler, mlm_head), dtype)

    assert cfg["pad_token_id"] == PADDING_IDX and max(t for x in ids for t in x) < cfg["vocab_size"]
    assert max(map(len, ids)) + PADDING_IDX < cfg["max_position_embeddings"]  # the last real token's position id
    # The fixture must tell the conventions apart: the last layer's mean and CLS both move.
    mistakes = {
        "no relative bias": dict(bias="none"),
        "bucket(i - j)": dict(bias="flipped"),
        "positions from 0": dict(positions_from_zero=True),
        "bias in layer 1 only": dict(bias="first layer"),
        "no log buckets": dict(bias="no log"),
    }
    note = (
        "hidden.{i}.{l} (l=0..layers): [len_i, hidden], real tokens only; l=0 is the embedding output after "
        "embeddings.LayerNorm (word + position rows 2..len+1: padding_idx 1 + 1 + index, no token type), l=k the "
        "output of layer k (post-norm, after output.LayerNorm; no final norm). mean.{i}.{l} / cls.{i}.{l} (l>=1): "
        "mean over real tokens (not normalised; what the sentence-transformers Pooling takes, before Normalize) / "
        "token 0. Every layer adds encoder.relative_attention_bias.weight[bucket(j - i), h] to q k^T / sqrt(d) "
        "(i the query's, j the key's token index 0..len-1); buckets.values[r - buckets.from] is bucket(r) for "
        "r = j - i in -300..300, as torch computes it (float32 log, truncation); the integer form agrees. "
    )
    # Route 1 on one padded batch (<pad> = 1), checked against each text alone and against route 2 (the bias by
    # a numpy loop with integer-form buckets, F.multi_head_attention_forward with it as a float attn_mask plus a
    # key padding mask, F.embedding, F.layer_norm, F.gelu).
    head = (
        f"vocab {cfg['vocab_size']}, hidden {cfg['hidden_size']}, {cfg['num_attention_heads']} heads, "
        f"{cfg['num_hidden_layers']} layers"
    )
    pn.run_fixture(
        name, folder, texts, ids, cfg["pad_token_id"], forward, forward_functional, W, cfg, prefix,
        mistakes=mistakes, head=head, note=note, extra_json={"buckets": buckets},
    )  # fmt: skip


def config(vocab_size, **kw):
    """The fields of all-mpnet-base-v2's config.json (MPNetConfig), sizes scaled down; 162 position rows for
    inputs up to 160 tokens (514 for 512 in the real models)."""
    cfg = {
        "_name_or_path": "microsoft/mpnet-base",
        "architectures": ["MPNetModel"],
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 162,
        "model_type": "mpnet",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "pad_token_id": 1,
        "relative_attention_num_buckets": 32,
        "torch_dtype": "float32",
        "transformers_version": "4.8.2",
        "vocab_size": vocab_size,
    }
    cfg.update(kw)
    return cfg


def main():
    texts, bert_ids, vocab_size = pn.bert_texts()
    buckets, line = self_test_buckets()
    print(line)
    tj, tcfg, perm = mpnet_tokenizer()
    ids = mpnet_ids(texts, bert_ids, tj, perm)
    # The log branch matters: the longest text spans distances up to 149 (every bucket, 15 from 91 on).
    assert max(len(x) for x in ids) > 91 and sum(len(x) > 31 for x in ids) >= 2
    tok = (tj, tcfg)
    run_model("mpnet-tiny", config(vocab_size), "", np.float32, 3030, STD, texts, ids, tok, buckets, True, False, True)
    mlm = config(
        vocab_size, architectures=["MPNetForMaskedLM"], hidden_size=48, num_attention_heads=6, intermediate_size=96,
        num_hidden_layers=3, torch_dtype="float16",
    )  # fmt: skip
    run_model(
        "mpnet-mlm-tiny", mlm, "mpnet.", np.float16, 6060, STD_6HEAD, texts, ids, tok, buckets, False, True, False
    )
    mf.node_check_unless_skipped()


if __name__ == "__main__":
    main()
