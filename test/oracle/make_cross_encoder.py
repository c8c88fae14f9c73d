#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's cross-encoders (rerankers): single-label sequence classifiers.

Also fixtures/ce-electra-tiny/ (shaped like cross-encoder/ms-marco-electra-base: ElectraForSequenceClassification,
BERT's layers and pair template under `electra.`, no pooler, ElectraClassificationHead: dense, exact GELU, out_proj).

Writes fixtures/ce-bert-tiny/ (shaped like cross-encoder/ms-marco-MiniLM-L-6-v2: BertForSequenceClassification,
token types 0 / 1 for the two segments, the pooler and classifier head, no activation_fn named, so
sentence-transformers' CrossEncoder applies its sigmoid) and fixtures/ce-xlmr-tiny/ (shaped like
BAAI/bge-reranker-base: XLMRobertaForSequenceClassification, RoBERTa's classification head over <s>, one token
type, activation_fn Identity as sentence-transformers 4 records it), see README.md next to this file. They reuse
bert-tiny's and xlmr-tiny's tokenizers, and their pairs are made of those fixtures' verified ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_cross_encoder.py   (~3 s; after make_fixtures.py)

The forward is written by hand in float64 from transformers' modeling_bert.py (BertEmbeddings with token_type_ids,
BertModel, BertPooler, BertForSequenceClassification) and modeling_roberta.py / modeling_xlm_roberta.py
(create_position_ids_from_input_ids, RobertaClassificationHead: dense, tanh, out_proj over the first token);
transformers is not used. A pair is the tokenizer's pair template over the two texts' own ids: BERT's
[CLS] A [SEP] B [SEP] with token type 1 from B on (TemplateProcessing "$B:1 [SEP]:1"), RoBERTa's
<s> A </s></s> B </s> with token type 0 throughout (RobertaProcessing). sentence-transformers' CrossEncoder.predict
returns sigmoid(logit) for one label unless the config's sentence_transformers.activation_fn names another.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# (query, document) as indices into the source fixture's texts: same-language and cross-language pairs, a text
# against itself, both orders of one pair.
PAIRS = [(0, 1), (1, 0), (0, 0), (2, 3), (4, 5), (5, 4), (6, 7), (9, 2), (10, 8), (3, 9), (7, 7), (1, 9)]
CLASSIFIER_STD = 0.3


def pair_ids(ids, roberta):
    """The pair template over two single-text id lists (each framed by its own specials): ids and token types."""
    out, types = [], []
    for q, d in PAIRS:
        a, b = ids[q][1:-1], ids[d][1:-1]
        cls, sep = ids[q][0], ids[q][-1]
        if roberta:
            seq = [cls, *a, sep, sep, *b, sep]
            tt = [0] * len(seq)
        else:
            seq = [cls, *a, sep, *b, sep]
            tt = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        out.append(seq)
        types.append(tt)
    return out, types


def make_weights(cfg, prefix, seed, std, head_kind):
    """The encoder's weights as make_fixtures.py draws them (its MLM head left out), then the classification head."""
    dummy = {"dense": "lm.dense", "ln": "lm.ln", "bias": "lm.bias"}
    w = [(n, a) for n, a in mf.make_weights(cfg, prefix, seed, std, dummy) if not n.startswith("lm.")]
    if head_kind != "pooler":  # XLMRobertaForSequenceClassification and ElectraModel build no pooler
        w = [(n, a) for n, a in w if not n.startswith(prefix + "pooler.")]
    rs = np.random.RandomState(seed + 1)
    H = cfg["hidden_size"]
    names = (None, "classifier") if head_kind == "pooler" else ("classifier.dense", "classifier.out_proj")
    if names[0]:
        w += [(names[0] + ".weight", rs.standard_normal((H, H)) * 0.2), (names[0] + ".bias", rs.standard_normal(H) * 0.1)]
    w += [(names[1] + ".weight", rs.standard_normal((1, H)) * CLASSIFIER_STD), (names[1] + ".bias", rs.standard_normal(1) * 0.1)]
    return w


def encoder(W, cfg, prefix, ids, types, mask, roberta, no_types=False, positions_from_zero=False):
    """The last layer's states [B, S, H]. Mistakes: no_types (every token type 0), positions_from_zero (RoBERTa's
    positions without the padding_idx + 1 offset)."""
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d = H // nh
    B, S = ids.shape
    g = lambda n: W[prefix + n]  # noqa: E731
    if roberta and not positions_from_zero:
        pad = cfg["pad_token_id"]
        m = (ids != pad).long()
        pos = torch.cumsum(m, dim=1) * m + pad
    else:
        pos = torch.arange(S).unsqueeze(0).expand(B, S)
    tt = torch.zeros_like(ids) if no_types else types
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.token_type_embeddings.weight")[tt]
    x = mf.layer_norm(x + g("embeddings.position_embeddings.weight")[pos], g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    lin = lambda t, n: pn.linear(W, t, prefix + n)  # noqa: E731
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (lin(x, p + f"attention.self.{n}").view(B, S, nh, d) for n in ("query", "key", "value"))
        a = pn.layer_norm(x + lin(pn.attention(q, k, v, mask), p + "attention.output.dense"), W, prefix + p + "attention.output.LayerNorm", eps)
        x = pn.layer_norm(a + lin(mf.gelu(lin(a, p + "intermediate.dense")), p + "output.dense"), W, prefix + p + "output.LayerNorm", eps)
    return x


# The head's activation: BertPooler's and RobertaClassificationHead's tanh, ElectraClassificationHead's exact GELU
# ("although BERT uses tanh here, it seems Electra authors used gelu here", modeling_electra.py).
ACTIVATIONS = {"pooler": torch.tanh, "roberta": torch.tanh, "electra": mf.gelu}


def head(W, first, prefix, head_kind, activation=None):
    """The logit [B] from the first token's state: BertPooler + classifier, or RoBERTa's / ELECTRA's classification head."""
    act = activation or ACTIVATIONS[head_kind]
    if head_kind != "pooler":
        return pn.linear(W, act(pn.linear(W, first, "classifier.dense")), "classifier.out_proj")[:, 0]
    return pn.linear(W, act(pn.linear(W, first, prefix + "pooler.dense")), "classifier")[:, 0]


def logits(W, cfg, prefix, roberta, head_kind, ids, types, mask, **mistakes):
    activation = mistakes.pop("activation", None)
    mean_first = mistakes.pop("mean_first", False)
    x = encoder(W, cfg, prefix, ids, types, mask, roberta, **mistakes)
    first = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True) if mean_first else x[:, 0]
    return head(W, first, prefix, head_kind, activation)


def logits_functional(W, cfg, prefix, roberta, head_kind, ids, types, mask):
    """Route 2: F.embedding, F.layer_norm, F.multi_head_attention_forward, F.gelu, F.linear."""
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    B, S = ids.shape
    g = lambda n: W[prefix + n]  # noqa: E731
    pad = cfg["pad_token_id"]
    pos = (torch.cumsum((ids != pad).long(), 1) * (ids != pad).long() + pad) if roberta else torch.arange(S).expand(B, S)
    ln = lambda t, n: F.layer_norm(t, (H,), g(n + ".weight"), g(n + ".bias"), eps)  # noqa: E731
    x = F.embedding(ids, g("embeddings.word_embeddings.weight")) + F.embedding(types, g("embeddings.token_type_embeddings.weight"))
    x = ln(x + F.embedding(pos, g("embeddings.position_embeddings.weight")), "embeddings.LayerNorm")
    lin = lambda t, n: F.linear(t, g(n + ".weight"), g(n + ".bias"))  # noqa: E731
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (lin(x, p + f"attention.self.{n}") for n in ("query", "key", "value"))
        a = pn.attention_functional(q, k, v, nh, {k2[len(prefix):]: t for k2, t in W.items() if k2.startswith(prefix)}, p + "attention.output.dense", mask)
        a = ln(x + a, p + "attention.output.LayerNorm")
        x = ln(a + lin(F.gelu(lin(a, p + "intermediate.dense")), p + "output.dense"), p + "output.LayerNorm")
    first = x[:, 0]
    if head_kind != "pooler":
        act = F.gelu if head_kind == "electra" else torch.tanh
        return F.linear(act(F.linear(first, W["classifier.dense.weight"], W["classifier.dense.bias"])), W["classifier.out_proj.weight"], W["classifier.out_proj.bias"])[:, 0]
    pooled = torch.tanh(F.linear(first, g("pooler.dense.weight"), g("pooler.dense.bias")))
    return F.linear(pooled, W["classifier.weight"], W["classifier.bias"])[:, 0]


def run(name, source, prefix, roberta, cfg_changes, std, seed, dtype, head_kind=None):
    head_kind = head_kind or ("roberta" if roberta else "pooler")
    src_cfg = pn.read_json(os.path.join(source, "config.json"))
    texts, ids, _ = pn.source_texts(source)
    cfg = {**src_cfg, **cfg_changes}
    folder = pn.new_folder(name, cfg, source)
    W = pn.store_weights(folder, make_weights(cfg, prefix, seed, std, head_kind), dtype)
    seqs, types = pair_ids(ids, roberta)
    assert max(map(len, seqs)) <= cfg["max_position_embeddings"] - (cfg["pad_token_id"] + 1 if roberta else 0)
    pad = cfg["pad_token_id"]
    inp, mask = pn.padded_batch(seqs, pad)
    tt, _ = pn.padded_batch(types, 0)
    with torch.no_grad():
        got = logits(W, cfg, prefix, roberta, head_kind, inp, tt, mask)
        for i, (s, t) in enumerate(zip(seqs, types)):
            alone = logits(W, cfg, prefix, roberta, head_kind, torch.tensor([s]), torch.tensor([t]), torch.ones((1, len(s)), dtype=torch.long))
            assert abs(alone.item() - got[i].item()) < 1e-9, (name, "alone", i)
        route = (logits_functional(W, cfg, prefix, roberta, head_kind, inp, tt, mask) - got).abs().max().item()
        assert route < 1e-9, (name, "route 2", route)
        mistakes = {"mean of the tokens instead of the first": dict(mean_first=True)}
        if head_kind == "electra":
            mistakes["tanh instead of GELU in the head"] = dict(activation=torch.tanh)
        else:
            mistakes["no tanh in the head"] = dict(activation=lambda t: t)
        if roberta:
            mistakes["positions from 0 (no padding_idx + 1)"] = dict(positions_from_zero=True)
        else:
            mistakes["token types all 0"] = dict(no_types=True)
        moved = {}
        for label, kw in mistakes.items():
            moved[label] = (logits(W, cfg, prefix, roberta, head_kind, inp, tt, mask, **kw) - got).abs().max().item()
            assert moved[label] > 0.1, (name, label, moved[label])
        # Per-row q8 rounding of every matrix alone (the runtime keeps the classifier head in f32): how far the
        # logits move, the level a q8 pack is held to.
        q8 = {n: (t if n.startswith("classifier") or n.startswith(prefix + "pooler") else q) for (n, t), q in zip(W.items(), pn.q8_rows(W).values())}
        q8_moved = (logits(q8, cfg, prefix, roberta, head_kind, inp, tt, mask) - got).abs().max().item()
    spread = got.std().item()
    assert spread > 0.3, (name, "logit spread", spread)
    scores = torch.sigmoid(got) if cfg.get("sentence_transformers") is None else got
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {
            "model": name,
            "pairs": [[texts[q], texts[d]] for q, d in PAIRS],
            "ids": seqs,
            "token_type_ids": types,
            "logits": [float(v) for v in got],
            "scores": [float(v) for v in scores],
            "note": (
                "logits: the classifier's output for each pair (query, document) read as the tokenizer's pair template "
                "over the two texts' ids; scores: what sentence-transformers' CrossEncoder.predict returns (sigmoid of "
                "the logit where the config names no activation_fn, the logit for Identity). Computed in float64 from "
                "the stored weights (one right-padded batch, checked against each pair alone and a second route)."
            ),
        },
    )
    figures = ", ".join(f"{k} {v:.3f}" for k, v in moved.items())
    print(
        f"{name}: {len(seqs)} pairs, lengths {[len(s) for s in seqs]}; logit spread {spread:.3f}; max |logit change| "
        f"{figures}; q8 weights {q8_moved:.3f}; route 2 {route:.1e}"
    )


def main():
    labels = {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    run("ce-bert-tiny", pn.BERT, "bert.", False, {"architectures": ["BertForSequenceClassification"], **labels}, mf.BERT_STD, 4321, np.float32)
    st = {"sentence_transformers": {"activation_fn": "torch.nn.modules.linear.Identity", "version": "4.0.2"}}
    run("ce-xlmr-tiny", pn.XLMR, "roberta.", True, {"architectures": ["XLMRobertaForSequenceClassification"], **labels, **st}, mf.XLMR_STD, 8765, np.float16)
    # cross-encoder/ms-marco-electra-base's shape: ElectraForSequenceClassification, BERT's layers and tokenizer under
    # `electra.`, embedding_size = hidden_size (no embeddings_project), the GELU head over [CLS].
    bert_cfg = pn.read_json(os.path.join(pn.BERT, "config.json"))
    electra = {"model_type": "electra", "architectures": ["ElectraForSequenceClassification"], "embedding_size": bert_cfg["hidden_size"], **labels}
    run("ce-electra-tiny", pn.BERT, "electra.", False, electra, mf.BERT_STD, 2468, np.float32, head_kind="electra")


if __name__ == "__main__":
    main()
