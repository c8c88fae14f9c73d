#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's SPLADE sparse encoders (sentence-transformers v5 `SparseEncoder`:
`MLMTransformer` + `SpladePooling`).

Writes three fixture folders (see README.md next to this file), each a complete Hugging Face / sentence-transformers
folder m3web can open by path:

  fixtures/splade-bert-tiny/         shaped like naver/splade-v3 as sentence-transformers v5 saves it: a
                                     BertForMaskedLM state dict (F32): bert-tiny's encoder under `bert.` (its pooler
                                     left out) and a new random MLM head, cls.predictions.transform.dense [H, H] + bias,
                                     cls.predictions.transform.LayerNorm [H], cls.predictions.bias [V];
                                     SpladePooling max / relu
  fixtures/splade-distilbert-tiny/   shaped like opensearch-project's DistilBERT SPLADE models: distilbert-mlm-tiny's
                                     DistilBertForMaskedLM state dict (F16: the encoder under `distilbert.` and its
                                     head, vocab_transform [H, H] + bias, vocab_layer_norm [H], vocab_projector.bias
                                     [V], that bias shifted down, see BIAS_SHIFT); SpladePooling max / log1p_relu
  fixtures/splade-xlmr-tiny/         shaped like ibm-granite/granite-embedding-30m-sparse (a RoBERTa SPLADE model): an
                                     XLMRobertaForMaskedLM state dict (F16): xlmr-tiny's encoder under `roberta.` (its
                                     pooler and its own head left out) and a new random MLM head, lm_head.dense [H, H]
                                     + bias, lm_head.layer_norm [H], lm_head.bias [V]; SpladePooling max / relu

In all three the decoder weight is tied to the word table and not stored (cls.predictions.decoder.weight /
vocab_projector.weight / lm_head.decoder.weight), as transformers saves tied weights. Each folder: config.json (the
base fixture's, with `architectures` ["BertForMaskedLM"] / ["DistilBertForMaskedLM"] / ["XLMRobertaForMaskedLM"]),
model.safetensors, the base fixture's tokenizer.json and tokenizer_config.json (bert-tiny's for the first two,
xlmr-tiny's cased WordPiece in XLM-R's special-token layout for the third; no base has a sentencepiece file),
modules.json (MLMTransformer at the root, SpladePooling in 1_SpladePooling/), 1_SpladePooling/config.json,
config_sentence_transformers.json (SparseEncoder, dot similarity, empty query / document prompts),
sentence_bert_config.json (max_seq_length min(usable positions, 512): 160, the position table, for BERT and
DistilBERT; 128 = max_position_embeddings 130 - padding_idx 1 - 1 for XLM-R, whose position ids start at
padding_idx + 1; do_lower_case false), and expected.json.

Run from the repository root:  /usr/bin/python3 test/oracle/make_splade.py   (~5 s; after make_fixtures.py and
make_distilbert.py, whose folders it reads)

transformers and sentence-transformers are not used. The encoders are make_fixtures.py's float64 BERT / XLM-R forward
(RoBERTa positions: cumsum of the non-pad mask + padding_idx) and make_distilbert.py's float64 DistilBERT forward; the
heads and the pooling are written by hand in float64 from transformers' modeling_bert.py
(BertPredictionHeadTransform, BertLMPredictionHead), modeling_distilbert.py (DistilBertForMaskedLM),
modeling_xlm_roberta.py / modeling_roberta.py (RobertaLMHead) and sentence-transformers v5's
sparse_encoder/models/SpladePooling.py. Conventions:
  - BERT head: logits = LayerNorm_eps(act(x @ transform.dense^T + b)) @ word_table^T + cls.predictions.bias, act =
    config hidden_act ("gelu": exact erf), eps = config layer_norm_eps (1e-12)
  - DistilBERT head: logits = vocab_layer_norm(act(vocab_transform(x))) @ word_table^T + vocab_projector.bias, act =
    config activation ("gelu": exact erf), eps 1e-12 (hard-coded in DistilBERT)
  - RoBERTa / XLM-R head: logits = layer_norm_eps(gelu(x @ lm_head.dense^T + b)) @ word_table^T + lm_head.bias, gelu
    ALWAYS exact erf (RobertaLMHead calls transformers' gelu, whatever hidden_act says), eps = config layer_norm_eps
    (1e-5)
  - x: the LAST layer's hidden states of every token, specials ([CLS] ... [SEP] / <s> ... </s>) included; no
    padding, so every token is attended and pooled (SpladePooling multiplies the logits by the attention mask first:
    a padded row pools to 0, which changes neither max nor sum of values >= 0; checked below on a right-padded batch)
  - SpladePooling: t = log1p(relu(logits)); activation_function "log1p_relu" applies a second log1p on top; then
    max (pooling_strategy "max") or sum ("sum") over the tokens, per vocabulary entry
  - the sparse vector keeps the entries > 0, indices (token ids) ascending; similarity: the dot product

expected.json: { model, texts, ids, pooling, sparse, pairs, note }. `texts` / `ids` are the base fixture's (ids with
the specials, as its expected.json verified them); `pooling` names the folder's own setting ("max_relu" /
"max_log1p_relu" / "max_relu"); `sparse` has keys max_relu, max_log1p_relu, sum_relu, sum_log1p_relu, each a list per
text of { indices, values }; `pairs[j]` is the dot product of text 0's and text j's vectors in the folder's own setting.
Values and pairs are computed in float64 and rounded to 7 significant digits (the support is decided before
rounding).

Self-checks: the stored tensor names are exactly those listed above; the base encoder reproduces the base fixture's
last-layer hidden states (expected.safetensors, F32) to < 1e-5; a second route (torch.nn.functional head, one
right-padded batch, SpladePooling's own masked, in-place, -inf-initialised loop) agrees with the per-text route to
< 1e-9 (for XLM-R the padded batch also exercises RoBERTa's position ids under padding); text 0's logits have both
signs in every folder; and the whole output is generated twice into temporary folders and compared byte for byte
before it replaces the fixture folders (deterministic: numpy RandomState 6060 for the BERT head, 6061 for the XLM-R
head).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import make_distilbert as md  # noqa: E402
import post_norm_oracle as pn  # noqa: E402

import filecmp  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DISTIL = os.path.join(mf.OUT, "distilbert-mlm-tiny")
SEED = {"bert": 6060, "xlmr": 6061}  # the new random heads
SETTINGS = [("max", "relu"), ("max", "log1p_relu"), ("sum", "relu"), ("sum", "log1p_relu")]
DIGITS = 7  # significant digits of the stored values

# The new BERT head's scales. transform.dense 0.2 (its input, the last LayerNorm's output, is unit scale: pre-GELU
# std ~1.4); the head LayerNorm's weight 0.3 * (1 + 0.1 N) and bias 0.03 N: the logits are a dot product of that
# output with a word row (std 0.5, H = 48), so their std is ~0.5 * sqrt(48) * 0.3 ~ 1; cls.predictions.bias 0.1 N.
# The decoder bias is then shifted down by 2.3 (about 2.2 standard deviations of the logits), so that ~1.5% of them are
# positive: sparse vectors of ~100-900 ids after max pooling, as a trained SPLADE model's are sparse, not the whole
# vocabulary. (bert-tiny's own, ignored head, with LayerNorm weight ~1, gives std 3.5.) distilbert-mlm-tiny's reused
# head (logits std ~3.6) gets its vocab_projector.bias shifted by 8.0 for the same share. The new XLM-R head has
# the same scales (H = 64: logits std ~1.2) and its lm_head.bias is shifted down by 2.6 for the same share.
HEAD_STD = {"dense": 0.2, "dense_bias": 0.1, "ln_scale": 0.3, "bias": 0.1}
BIAS_SHIFT = {"bert": 2.3, "distilbert": 8.0, "xlmr": 2.6}


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------


def new_head(M, H, V, dtype):
    """A new MLM head's tensors (M.head's names: dense [H, H] + bias, LayerNorm [H], decoder bias [V]), drawn from
    RandomState(SEED[M.key]) in this order, the decoder bias shifted by -BIAS_SHIFT[M.key]; as dtype: what is
    stored (float32 for BERT, float16 for XLM-R, the dtype of the encoder they join)."""
    rs = np.random.RandomState(SEED[M.key])
    s, d, ln = HEAD_STD, M.head["dense"], M.head["ln"]
    w = [
        (d + ".weight", rs.standard_normal((H, H)) * s["dense"]),
        (d + ".bias", rs.standard_normal(H) * s["dense_bias"]),
        (ln + ".weight", s["ln_scale"] * (1.0 + 0.1 * rs.standard_normal(H))),
        (ln + ".bias", s["ln_scale"] * 0.1 * rs.standard_normal(H)),
        (M.head["bias"], rs.standard_normal(V) * s["bias"] - BIAS_SHIFT[M.key]),
    ]
    return [(n, a.astype(dtype)) for n, a in w]


ENCODER_LAYER = [
    "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
    "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
]  # fmt: skip


def encoder_names(prefix, L):
    """A BertModel / XLMRobertaModel encoder's tensors under prefix, no pooler."""
    tables = ("word_embeddings", "position_embeddings", "token_type_embeddings")
    names = [f"{prefix}embeddings.{n}.weight" for n in tables]
    names += [f"{prefix}embeddings.LayerNorm.weight", f"{prefix}embeddings.LayerNorm.bias"]
    names += [f"{prefix}encoder.layer.{l}.{m}.{p}" for l in range(L) for m in ENCODER_LAYER for p in ("weight", "bias")]
    return names


def bert_names(L):
    head = ["transform.dense.weight", "transform.dense.bias", "transform.LayerNorm.weight", "transform.LayerNorm.bias"]
    return encoder_names("bert.", L) + [f"cls.predictions.{n}" for n in head] + ["cls.predictions.bias"]


def roberta_names(L):
    head = ["dense.weight", "dense.bias", "layer_norm.weight", "layer_norm.bias"]
    return encoder_names("roberta.", L) + [f"lm_head.{n}" for n in head] + ["lm_head.bias"]


def distil_names(L):
    layer = ["attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin", "sa_layer_norm",
             "ffn.lin1", "ffn.lin2", "output_layer_norm"]  # fmt: skip
    names = ["distilbert.embeddings.word_embeddings.weight", "distilbert.embeddings.position_embeddings.weight"]
    names += ["distilbert.embeddings.LayerNorm.weight", "distilbert.embeddings.LayerNorm.bias"]
    names += [f"distilbert.transformer.layer.{l}.{m}.{p}" for l in range(L) for m in layer for p in ("weight", "bias")]
    head = ["vocab_transform.weight", "vocab_transform.bias", "vocab_layer_norm.weight", "vocab_layer_norm.bias"]
    return names + head + ["vocab_projector.bias"]


# --------------------------------------------------------------------------------------------------
# Models: (name, base folder, prefix, head tensor names, encoder forward, settings, inputs, usable length)
# --------------------------------------------------------------------------------------------------


class Bert:
    name, base, own, key = "splade-bert-tiny", pn.BERT, ("max", "relu"), "bert"
    prefix, arch, new_head = "bert.", "BertForMaskedLM", True
    head = {"dense": "cls.predictions.transform.dense", "ln": "cls.predictions.transform.LayerNorm",
            "bias": "cls.predictions.bias"}  # fmt: skip

    @staticmethod
    def sizes(cfg):
        return cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"], cfg["layer_norm_eps"], cfg["hidden_act"]

    @staticmethod
    def tensors(cfg, src):
        """bert-tiny's encoder tensors unchanged (F32; not its pooler, not its own head), then the new head."""
        H, V, L, _, _ = Bert.sizes(cfg)
        enc = [(n, a) for n, a in src.items() if n.startswith("bert.") and not n.startswith("bert.pooler.")]
        return enc + new_head(Bert, H, V, np.float32), bert_names(L)

    @staticmethod
    def encode(W, cfg, ids, mask):
        return mf.forward(W, cfg, "bert.", ids, mask, False)

    @staticmethod
    def inputs():
        """bert-tiny's texts and verified ids ([CLS] ... [SEP])."""
        texts, ids, _ = pn.bert_texts()
        return texts, ids

    @staticmethod
    def positions(cfg):
        return cfg["max_position_embeddings"]


class Distil:
    name, base, own, key = "splade-distilbert-tiny", DISTIL, ("max", "log1p_relu"), "distilbert"
    prefix, arch, new_head = "distilbert.", "DistilBertForMaskedLM", False
    head = {"dense": "vocab_transform", "ln": "vocab_layer_norm", "bias": "vocab_projector.bias"}

    @staticmethod
    def sizes(cfg):
        return cfg["dim"], cfg["vocab_size"], cfg["n_layers"], md.LN_EPS, cfg["activation"]

    @staticmethod
    def inputs():
        """distilbert-mlm-tiny's, which are bert-tiny's texts and verified ids."""
        texts, ids, _ = pn.source_texts(DISTIL)
        assert (texts, ids) == Bert.inputs()
        return texts, ids

    @staticmethod
    def positions(cfg):
        return cfg["max_position_embeddings"]

    @staticmethod
    def tensors(cfg, src):
        """distilbert-mlm-tiny's DistilBertForMaskedLM state dict (F16, its own head), the decoder bias shifted down."""
        shifted = [
            (n, (a.astype(np.float64) - BIAS_SHIFT["distilbert"]).astype(a.dtype) if n == Distil.head["bias"] else a)
            for n, a in src.items()
        ]
        return shifted, distil_names(Distil.sizes(cfg)[2])

    @staticmethod
    def encode(W, cfg, ids, mask):
        return md.forward(W, cfg, "distilbert.", ids, mask)


class Xlmr:
    name, base, own, key = "splade-xlmr-tiny", pn.XLMR, ("max", "relu"), "xlmr"
    prefix, arch, new_head = "roberta.", "XLMRobertaForMaskedLM", True
    head = {"dense": "lm_head.dense", "ln": "lm_head.layer_norm", "bias": "lm_head.bias"}

    @staticmethod
    def sizes(cfg):
        """The activation is always exact erf GELU: RobertaLMHead calls transformers' gelu, whatever hidden_act."""
        return cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"], cfg["layer_norm_eps"], "gelu"

    @staticmethod
    def tensors(cfg, src):
        """xlmr-tiny's encoder tensors unchanged (F16; not its pooler, not its own head), then the new head (F16)."""
        H, V, L, _, _ = Xlmr.sizes(cfg)
        enc = [(n, a) for n, a in src.items() if n.startswith("roberta.") and not n.startswith("roberta.pooler.")]
        return enc + new_head(Xlmr, H, V, np.float16), roberta_names(L)

    @staticmethod
    def encode(W, cfg, ids, mask):
        return mf.forward(W, cfg, "roberta.", ids, mask, True)  # positions padding_idx + 1, padding_idx + 2, ...

    @staticmethod
    def inputs():
        """xlmr-tiny's texts and verified ids (<s> = 0 ... </s> = 2, no <pad> = 1 inside: RoBERTa positions)."""
        texts, ids, _ = pn.source_texts(pn.XLMR)
        assert all(x[0] == 0 and x[-1] == 2 and 1 not in x for x in ids)
        return texts, ids

    @staticmethod
    def positions(cfg):
        """The usable length: RoBERTa's position ids start at padding_idx + 1."""
        return cfg["max_position_embeddings"] - cfg["pad_token_id"] - 1


MODELS = (Bert, Distil, Xlmr)


# --------------------------------------------------------------------------------------------------
# Head and pooling, route 1 (per text, hand-written) and route 2 (torch.nn.functional, padded batch)
# --------------------------------------------------------------------------------------------------


def logits(M, W, cfg, x):
    """The MLM head over hidden states x [..., H]: transform dense -> act -> LayerNorm -> tied decoder + bias."""
    _, _, _, eps, act = M.sizes(cfg)
    assert act == "gelu"  # exact erf GELU
    h = mf.gelu(x @ W[M.head["dense"] + ".weight"].T + W[M.head["dense"] + ".bias"])
    h = mf.layer_norm(h, W[M.head["ln"] + ".weight"], W[M.head["ln"] + ".bias"], eps)
    return h @ W[M.prefix + "embeddings.word_embeddings.weight"].T + W[M.head["bias"]]


def logits_functional(M, W, cfg, x):
    _, _, _, eps, _ = M.sizes(cfg)
    h = F.gelu(F.linear(x, W[M.head["dense"] + ".weight"], W[M.head["dense"] + ".bias"]))
    h = F.layer_norm(h, (h.shape[-1],), W[M.head["ln"] + ".weight"], W[M.head["ln"] + ".bias"], eps)
    return F.linear(h, W[M.prefix + "embeddings.word_embeddings.weight"], W[M.head["bias"]])


def pool(lg, pooling, activation):
    """lg [S, V], one text's logits, every token real: log1p(relu), a second log1p for log1p_relu, max or sum."""
    t = torch.log1p(torch.relu(lg))
    if activation == "log1p_relu":
        t = torch.log1p(t)
    return t.max(0).values if pooling == "max" else t.sum(0)


def pool_st(lg, mask, pooling, activation):
    """SpladePooling.forward as sentence-transformers v5 runs it in eval mode (one chunk): logits times the
    attention mask, relu_, log1p_, a second log1p_ for log1p_relu, then max against a -inf start or sum. [B, V]."""
    B, _, V = lg.shape
    start = float("-inf") if pooling == "max" else 0.0
    pooled = torch.full((B, V), start, dtype=lg.dtype)
    t = (lg * mask.unsqueeze(-1).to(lg.dtype)).relu_().log1p_()
    if activation == "log1p_relu":
        t = t.log1p_()
    return torch.maximum(pooled, t.max(1).values) if pooling == "max" else pooled + t.sum(1)


def rounded(v):
    return float(f"{v:.{DIGITS}g}")


def sparse(vec):
    """The entries > 0 of a [V] vector: ascending indices and their float64 values."""
    idx = torch.nonzero(vec > 0).flatten().tolist()
    return idx, [vec[i].item() for i in idx]


def dot(a, b):
    """Sparse dot product: the sum over shared indices of the products."""
    bd = dict(zip(*b))
    return sum(v * bd[i] for i, v in zip(*a) if i in bd)


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_expected(path, doc):
    """expected.json, readable and small: one line per text (texts, ids, and each setting's {indices, values})."""
    lines = ["{"]
    fields = list(doc.items())
    for k, (key, val) in enumerate(fields):
        end = "," if k < len(fields) - 1 else ""
        if key in ("texts", "ids"):
            rows = ",\n".join("    " + dumps(r) for r in val)
            lines.append(f'  "{key}": [\n{rows}\n  ]{end}')
        elif key == "sparse":
            parts = []
            for s, rows in val.items():
                body = ",\n".join("      " + dumps(r) for r in rows)
                parts.append(f'    "{s}": [\n{body}\n    ]')
            lines.append('  "sparse": {\n' + ",\n".join(parts) + "\n  }" + end)
        else:
            lines.append(f'  "{key}": {dumps(val)}{end}')
    lines.append("}")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def write_st_files(folder, V, activation, max_seq_length):
    st = "sentence_transformers.sparse_encoder.models."
    mf.write_json(
        os.path.join(folder, "modules.json"),
        [
            {"idx": 0, "name": "0", "path": "", "type": st + "MLMTransformer"},
            {"idx": 1, "name": "1", "path": "1_SpladePooling", "type": st + "SpladePooling"},
        ],
    )
    os.makedirs(os.path.join(folder, "1_SpladePooling"))
    mf.write_json(
        os.path.join(folder, "1_SpladePooling", "config.json"),
        {"pooling_strategy": "max", "activation_function": activation, "word_embedding_dimension": V},
    )
    mf.write_json(
        os.path.join(folder, "config_sentence_transformers.json"),
        {"model_type": "SparseEncoder", "similarity_fn_name": "dot", "prompts": {"query": "", "document": ""},
         "default_prompt_name": None},
    )  # fmt: skip
    mf.write_json(
        os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": max_seq_length, "do_lower_case": False}
    )


# --------------------------------------------------------------------------------------------------
# One folder
# --------------------------------------------------------------------------------------------------


def build(M, root):
    """Writes root/<M.name>/ and returns a summary dict."""
    texts, ids = M.inputs()
    cfg = pn.read_json(os.path.join(M.base, "config.json"))
    cfg["architectures"] = [M.arch]
    H, V, L, _, _ = M.sizes(cfg)
    folder = os.path.join(root, M.name)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    for f in ("tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model"):  # (none of the bases has the last)
        if f != "sentencepiece.bpe.model" or os.path.exists(os.path.join(M.base, f)):
            shutil.copyfile(os.path.join(M.base, f), os.path.join(folder, f))
    assert max(len(x) for x in ids) <= M.positions(cfg)
    write_st_files(folder, V, M.own[1], min(M.positions(cfg), 512))

    src = mf.read_safetensors(os.path.join(M.base, "model.safetensors"))
    tensors, names = M.tensors(cfg, src)
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, tensors, {"format": "pt"})
    stored = mf.read_safetensors(path)
    assert list(stored) == names, (M.name, sorted(set(stored) ^ set(names)))
    assert M.prefix + "embeddings.word_embeddings.weight" in stored  # the decoder's tied weight, stored once
    assert not any("decoder" in n or "projector.weight" in n or "pooler" in n for n in stored)
    # The encoder (and a reused head, but for its shifted bias) unchanged.
    kept = [n for n in stored if n.startswith(M.prefix) or not (M.new_head or n == M.head["bias"])]
    assert all(stored[n].dtype == src[n].dtype and np.array_equal(stored[n], src[n]) for n in kept)
    W = {n: torch.from_numpy(a.astype(np.float64)) for n, a in stored.items()}  # the oracle computes from stored values

    base_expected = mf.read_safetensors(os.path.join(M.base, "expected.safetensors"))
    out = {f"{p}_{a}": [] for p, a in SETTINGS}
    full = {f"{p}_{a}": [] for p, a in SETTINGS}
    per_text_logits, base = [], 0.0
    with torch.no_grad():
        for i, x in enumerate(ids):
            inp = torch.tensor([x])
            last = M.encode(W, cfg, inp, torch.ones_like(inp))[-1][0]
            ref = torch.from_numpy(base_expected[f"hidden.{i}.{L}"].astype(np.float64))
            diff = (last - ref).abs().max().item()
            assert diff < 1e-5, (M.name, "base hidden states", i, diff)
            base = max(base, diff)
            lg = logits(M, W, cfg, last)
            per_text_logits.append(lg)
            for p, a in SETTINGS:
                vec = pool(lg, p, a)
                full[f"{p}_{a}"].append(vec)
                idx, vals = sparse(vec)
                out[f"{p}_{a}"].append((idx, vals))
        # Route 2: one right-padded batch, the functional head, SpladePooling's own loop.
        inp, mask = pn.padded_batch(ids, cfg["pad_token_id"])
        lg2 = logits_functional(M, W, cfg, M.encode(W, cfg, inp, mask)[-1])
        route = 0.0
        for p, a in SETTINGS:
            batch = pool_st(lg2, mask, p, a)
            for i in range(len(ids)):
                route = max(route, (batch[i] - full[f"{p}_{a}"][i]).abs().max().item())
                assert torch.equal(batch[i] > 0, full[f"{p}_{a}"][i] > 0), (M.name, "support", p, a, i)
        assert route < 1e-9, (M.name, "route 2", route)

    lg0 = per_text_logits[0]
    assert lg0.min() < 0 < lg0.max(), (M.name, "text 0 logits of one sign")
    own = f"{M.own[0]}_{M.own[1]}"
    pairs = [dot(out[own][0], v) for v in out[own]]
    sparse_json = {
        k: [{"indices": idx, "values": [rounded(v) for v in vals]} for idx, vals in rows] for k, rows in out.items()
    }
    counts = {k: [len(idx) for idx, _ in rows] for k, rows in out.items()}
    allv = torch.cat(per_text_logits)
    note = (
        f"SPLADE over {M.base.rsplit(os.sep, 1)[-1]}'s encoder: MLM head over the last layer's hidden states of every "
        f"token (specials included, no padding), t = log1p(relu(logits)) (log1p_relu: a second log1p), max or sum over "
        f"the tokens; entries > 0 only, indices ascending. pairs: dot product of text 0's {own} vector with each "
        f"text's. Computed in float64 from the stored weights, values and pairs rounded to {DIGITS} significant digits."
    )
    write_expected(
        os.path.join(folder, "expected.json"),
        {
            "model": M.name,
            "texts": texts,
            "ids": ids,
            "pooling": own,
            "sparse": sparse_json,
            "pairs": [rounded(p) for p in pairs],
            "note": note,
        },
    )
    small = sum(1 for rows in out.values() for _, vals in rows for v in vals if v < 1e-3)
    return {
        "name": M.name, "names": names, "V": V, "counts": counts, "pairs": pairs, "route": route, "base": base,
        "logits": (allv.std().item(), (allv > 0).double().mean().item(), allv.abs().max().item()),
        "text0": ((lg0 > 0).double().mean().item(), lg0.min().item(), lg0.max().item()), "small": small,
    }  # fmt: skip


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def main():
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        summaries = [build(M, a) for M in MODELS]
        for M in MODELS:
            build(M, b)
        assert tree(a) == tree(b)
        for f in tree(a):
            assert filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False), ("not deterministic", f)
        for M in MODELS:
            dst = os.path.join(mf.OUT, M.name)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            shutil.copytree(os.path.join(a, M.name), dst)
    for s in summaries:
        std, pos, mx = s["logits"]
        p0, lo, hi = s["text0"]
        print(
            f"{s['name']}: {len(s['names'])} tensors, vocab {s['V']}; logits std {std:.2f}, {pos:.2%} positive, "
            f"|max| {mx:.1f} (text 0: {p0:.2%} positive, {lo:.2f}..{hi:.2f}); base last-layer states max diff "
            f"{s['base']:.1e}; route 2 max diff {s['route']:.1e}; {s['small']} stored values < 1e-3"
        )
        for k, c in s["counts"].items():
            print(f"  non-zero {k}: {c}")
        print(f"  pairs {[round(p, 3) for p in s['pairs']]}")
    print("byte-identical on a second generation")


if __name__ == "__main__":
    main()
