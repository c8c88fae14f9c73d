#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's cross-encoders of the other architectures (rerankers whose encoder
m3web already runs as an embedder), beside make_cross_encoder.py's BERT and XLM-R ones.

Writes, see README.md next to this file:
  - fixtures/ce-gte-tiny/: shaped like Alibaba-NLP/gte-multilingual-reranker-base (new-impl's
    NewForSequenceClassification: the encoder under `new.`, NewPooler over the first token, dense + tanh,
    then `classifier`), with two token types and bert-tiny's tokenizer, whose pair template gives the second
    segment type 1, as a GTE on an English BERT vocabulary (gte-base-en-v1.5's) would;
  - fixtures/ce-modernbert-tiny/: shaped like Alibaba-NLP/gte-reranker-modernbert-base
    (ModernBertForSequenceClassification: final_norm, classifier_pooling "mean" over the pair's tokens,
    ModernBertPredictionHead norm(gelu(dense(x))) with no dense bias, then `classifier`), modernbert-tiny's
    tokenizer;
  - fixtures/ce-jina-flash-tiny/: shaped like jinaai/jina-reranker-v2-base-multilingual (its config.json has no
    model_type, only auto_map's XLMRobertaFlashConfig; xlm-roberta-flash-implementation's module names:
    `roberta.` embeddings with absolute RoBERTa positions, emb_ln, encoder.layers.{l}.{mixer.Wqkv,
    mixer.out_proj, norm1, mlp.fc1, mlp.fc2, norm2}; RoBERTa's classification head), xlmr-tiny's tokenizer;
  - fixtures/ce-distilbert-tiny/: DistilBertForSequenceClassification (the first token through pre_classifier,
    ReLU, then `classifier`; no token types: the tokenizer's pair types are no model input), bert-tiny's
    tokenizer;
  - fixtures/ce-jinabert-tiny/: shaped like jinaai/jina-reranker-v1-turbo-en (JinaBertForSequenceClassification,
    a BertForSequenceClassification over JinaBertModel: ALiBi instead of positions, the GeGLU feed-forward, two
    token types; BertPooler's dense + tanh over the first token, then `classifier`), bert-tiny's tokenizer.

Run from the repository root:  /usr/bin/python3 test/oracle/make_cross_encoder_heads.py   (~5 s; after
make_fixtures.py, make_gte.py, make_modernbert.py, make_distilbert.py and make_jina.py, whose tokenizers and
forwards it reuses)

The encoders are the float64 forwards those scripts already check (make_gte.forward, make_modernbert.forward,
make_distilbert.forward, make_jina.forward, make_cross_encoder.encoder); the heads are written here from the classes named above:
transformers' modeling_modernbert.py (ModernBertForSequenceClassification, ModernBertPredictionHead) and
modeling_distilbert.py (DistilBertForSequenceClassification), new-impl's modeling.py (NewPooler,
NewForSequenceClassification), and jinaai's modeling_xlm_roberta.py (XLMRobertaClassificationHead, embedding.py's
create_position_ids_from_input_ids with padding_idx pad_token_id, block.py's post-norm Block). Each fixture
records the deliberate mistakes its logits must be told apart from.
"""

import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402

import make_cross_encoder as ce  # noqa: E402
import make_distilbert as mdb  # noqa: E402
import make_gte as mg  # noqa: E402
import make_jina as mj  # noqa: E402
import make_modernbert as mm  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

LABELS = {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
MODERN = os.path.join(mf.OUT, "modernbert-tiny")
# ModernBERT's texts: the first seven of modernbert-tiny (its eighth is ~120 tokens alone).
MODERN_PAIRS = [(0, 1), (1, 0), (0, 0), (2, 3), (4, 5), (5, 4), (6, 2), (3, 6), (1, 4), (5, 5)]


def pairs_of(ids, pairs, types_from_b):
    """[first, *a, sep, *b, sep] from single-text ids framed [first, ..., sep] (BERT's and ModernBERT's templates),
    token type 1 from b on where types_from_b."""
    seqs, types = [], []
    for q, d in pairs:
        a, b = ids[q][1:-1], ids[d][1:-1]
        first, sep = ids[q][0], ids[q][-1]
        seqs.append([first, *a, sep, *b, sep])
        types.append([0] * (len(a) + 2) + [int(types_from_b)] * (len(b) + 1))
    return seqs, types


@contextlib.contextmanager
def typed_embeddings(types):
    """new-impl's NewEmbeddings with token_type_ids given: word_embeddings[ids] + token_type_embeddings[types]
    before the LayerNorm (make_gte.forward's pn.embeddings adds row 0 to every token)."""
    plain = pn.embeddings

    def embeddings(W, ids, prefix, ln_name, eps, no_type=False):
        x = W[prefix + "embeddings.word_embeddings.weight"][ids]
        x = x + W[prefix + "embeddings.token_type_embeddings.weight"][torch.zeros_like(ids) if no_type else types]
        return pn.layer_norm(x, W, ln_name, eps)

    pn.embeddings = embeddings
    try:
        yield
    finally:
        pn.embeddings = plain


def hidden_then_logit(W, x, hidden, out, act, norm=None, eps=None):
    """The head from the pooled state x [B, H]: out(norm(act(hidden(x)))) -> [B]."""
    h = act(pn.linear(W, x, hidden))
    if norm:
        h = mm.layer_norm(h, W, norm, eps)
    return pn.linear(W, h, out)[:, 0]


def mean_of(x, mask):
    return (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def classifier_weights(seed, H, hidden, out):
    """The hidden layer `hidden` (None: the checkpoint already has it) and the one-row classifier `out`."""
    rs = np.random.RandomState(seed)
    w = [(hidden + ".weight", rs.standard_normal((H, H)) * 0.2), (hidden + ".bias", rs.standard_normal(H) * 0.1)] if hidden else []
    return w + [(out + ".weight", rs.standard_normal((1, H)) * ce.CLASSIFIER_STD), (out + ".bias", rs.standard_normal(1) * 0.1)]


# --------------------------------------------------------------------------------------------------
# One function per architecture: (logits(W, ids, types, mask, mistake) -> [B]), the mistakes it must tell apart
# --------------------------------------------------------------------------------------------------


def gte_logits(cfg):
    def logits(W, ids, types, mask, mistake=None):
        tt = torch.zeros_like(types) if mistake == "types" else types
        with typed_embeddings(tt):
            x = mg.forward(W, cfg, "new.", ids, mask)[-1]
        first = mean_of(x, mask) if mistake == "mean" else x[:, 0]
        act = (lambda t: t) if mistake == "no tanh" else torch.tanh  # noqa: E731
        return hidden_then_logit(W, first, "new.pooler.dense", "classifier", act)

    return logits, {"second segment as token type 0": "types", "mean instead of the first token": "mean", "no tanh": "no tanh"}


def jinabert_logits(cfg):
    def logits(W, ids, types, mask, mistake=None):
        tt = torch.zeros_like(types) if mistake == "types" else types
        with typed_embeddings(tt):
            x = mj.forward(W, cfg, "bert.", ids, mask, alibi=mistake != "no alibi")[-1]
        return hidden_then_logit(W, x[:, 0], "bert.pooler.dense", "classifier", torch.tanh)

    return logits, {"second segment as token type 0": "types", "no ALiBi": "no alibi"}


def modernbert_logits(cfg):
    eps = cfg["norm_eps"]

    def logits(W, ids, types, mask, mistake=None):
        states, final = mm.forward(W, cfg, ids, mask)
        x = states[-1] if mistake == "no final norm" else final
        pooled = x[:, 0] if mistake == "cls" else mean_of(x, mask)
        norm = None if mistake == "no head norm" else "head.norm"
        return hidden_then_logit(W, pooled, "head.dense", "classifier", mm.gelu, norm, eps)

    mistakes = {"first token instead of the mean": "cls", "no head norm": "no head norm", "no final_norm": "no final norm"}
    return logits, mistakes


def flash_logits(cfg):
    """Computed on the weights renamed back to transformers' XLM-R names (Wqkv split into query, key, value):
    the flash implementation's math is XLM-R's."""

    def logits(W, ids, types, mask, mistake=None):
        hf = flash_to_hf(W, cfg["num_hidden_layers"], cfg["hidden_size"])
        x = ce.encoder(hf, cfg, "roberta.", ids, types, mask, True, positions_from_zero=mistake == "positions")
        return hidden_then_logit(W, x[:, 0], "classifier.dense", "classifier.out_proj", torch.tanh)

    return logits, {"positions from 0 (no padding_idx + 1)": "positions"}


def distilbert_logits(cfg):
    def logits(W, ids, types, mask, mistake=None):
        x = mdb.forward(W, cfg, "distilbert.", ids, mask)[-1][:, 0]
        act = torch.tanh if mistake == "tanh" else torch.relu
        return hidden_then_logit(W, x, "pre_classifier", "classifier", act)

    return logits, {"tanh instead of ReLU": "tanh"}


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------

FLASH_LAYER = {
    "attention.output.dense": "mixer.out_proj",
    "attention.output.LayerNorm": "norm1",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "output.LayerNorm": "norm2",
}


def hf_to_flash(weights, L):
    """xlm-roberta-flash-implementation's state dict from transformers' XLM-R one: q, k, v stacked into Wqkv."""
    w = dict(weights)
    out = []
    for n, a in weights:
        if n.startswith("roberta.embeddings.LayerNorm"):
            out.append((n.replace("embeddings.LayerNorm", "emb_ln"), a))
        elif n.startswith("roberta.encoder.layer."):
            l, rest = n[len("roberta.encoder.layer.") :].split(".", 1)
            part, kind = rest.rsplit(".", 1)
            if part == "attention.self.query":
                qkv = np.concatenate([w[f"roberta.encoder.layer.{l}.attention.self.{m}.{kind}"] for m in ("query", "key", "value")])
                out.append((f"roberta.encoder.layers.{l}.mixer.Wqkv.{kind}", qkv))
            elif part in FLASH_LAYER:
                out.append((f"roberta.encoder.layers.{l}.{FLASH_LAYER[part]}.{kind}", a))
        else:
            out.append((n, a))
    assert sum(1 for n, _ in out if ".layers." in n) == L * 12
    return out


def flash_to_hf(W, L, H):
    back = {v: k for k, v in FLASH_LAYER.items()}
    hf = {}
    for n, t in W.items():
        if n.startswith("roberta.emb_ln"):
            hf[n.replace("emb_ln", "embeddings.LayerNorm")] = t
        elif n.startswith("roberta.encoder.layers."):
            l, rest = n[len("roberta.encoder.layers.") :].split(".", 1)
            part, kind = rest.rsplit(".", 1)
            p = f"roberta.encoder.layer.{l}."
            if part == "mixer.Wqkv":
                for i, m in enumerate(("query", "key", "value")):
                    hf[f"{p}attention.self.{m}.{kind}"] = t[i * H : (i + 1) * H]
            else:
                hf[p + back[part] + "." + kind] = t
        else:
            hf[n] = t
    return hf


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def run(name, cfg, source, weights, seqs, types, pad, make_logits, dtype, max_tokens):
    texts = pn.read_json(os.path.join(source, "expected.json"))["texts"]
    folder = pn.new_folder(name, cfg, source)
    W = pn.store_weights(folder, weights, dtype)
    assert max(map(len, seqs)) <= max_tokens, (name, max(map(len, seqs)))
    inp, mask = pn.padded_batch(seqs, pad)
    tt, _ = pn.padded_batch(types, 0)
    logits, mistakes = make_logits(cfg)
    with torch.no_grad():
        got = logits(W, inp, tt, mask)
        for i, (s, t) in enumerate(zip(seqs, types)):
            alone = logits(W, torch.tensor([s]), torch.tensor([t]), torch.ones((1, len(s)), dtype=torch.long))
            assert abs(alone.item() - got[i].item()) < 1e-9, (name, "alone", i)
        moved = {}
        for label, m in mistakes.items():
            moved[label] = (logits(W, inp, tt, mask, m) - got).abs().max().item()
            assert moved[label] > 0.1, (name, label, moved[label])
        head = ("classifier", "new.pooler", "bert.pooler", "head.", "pre_classifier")
        q8 = {n: (t if n.startswith(head) else q) for (n, t), q in zip(W.items(), pn.q8_rows(W).values())}
        q8_moved = (logits(q8, inp, tt, mask) - got).abs().max().item()
    spread = got.std().item()
    assert spread > 0.3, (name, "logit spread", spread)
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {
            "model": name,
            "pairs": [[texts[q], texts[d]] for q, d in PAIRS_BY_NAME[name]],
            "ids": seqs,
            "token_type_ids": types,
            "logits": [float(v) for v in got],
            "scores": [float(v) for v in torch.sigmoid(got)],
            "note": (
                "logits: the classifier's output for each pair (query, document) read as the tokenizer's pair template "
                "over the two texts' ids; scores: sigmoid of the logit (no activation_fn named, what "
                "sentence-transformers' CrossEncoder.predict returns). Computed in float64 from the stored weights "
                "(one right-padded batch, checked against each pair alone)."
            ),
        },
    )
    figures = ", ".join(f"{k} {v:.3f}" for k, v in moved.items())
    print(f"{name}: {len(seqs)} pairs, lengths {[len(s) for s in seqs]}; logit spread {spread:.3f}; max |logit change| {figures}; q8 weights {q8_moved:.3f}")


PAIRS_BY_NAME = {}


def main():
    texts, ids, vocab = pn.bert_texts()
    pairs = [p for p in ce.PAIRS if len(ids[p[0]]) + len(ids[p[1]]) <= 110]
    # GTE on a BERT vocabulary: two token types, the second segment type 1.
    cfg = mg.config(vocab, architectures=["NewForSequenceClassification"], type_vocab_size=2, pad_token_id=0, max_position_embeddings=160, **LABELS)
    w = mg.make_weights(cfg, "new.", 2718, False) + classifier_weights(2719, cfg["hidden_size"], "new.pooler.dense", "classifier")
    seqs, types = pairs_of(ids, pairs, True)
    PAIRS_BY_NAME["ce-gte-tiny"] = pairs
    run("ce-gte-tiny", cfg, pn.BERT, w, seqs, types, 0, gte_logits, np.float32, 160)

    # DistilBERT: the tokenizer's pair types stay out of the model.
    cfg = mdb.config(vocab, architectures=["DistilBertForSequenceClassification"], **LABELS)
    w = mdb.make_weights(cfg, "distilbert.", 3141, mdb.STD, False) + classifier_weights(3142, cfg["dim"], "pre_classifier", "classifier")
    seqs, types = pairs_of(ids, pairs, True)
    PAIRS_BY_NAME["ce-distilbert-tiny"] = pairs
    run("ce-distilbert-tiny", cfg, pn.BERT, w, seqs, types, 0, distilbert_logits, np.float32, 160)

    # JinaBERT (jina-reranker-v1): ALiBi, GeGLU, two token types, BERT's pooler and classifier.
    auto_map = {
        "AutoConfig": "jinaai/jina-bert-implementation--configuration_bert.JinaBertConfig",
        "AutoModel": "jinaai/jina-bert-implementation--modeling_bert.JinaBertModel",
        "AutoModelForSequenceClassification": "jinaai/jina-bert-implementation--modeling_bert.JinaBertForSequenceClassification",
    }
    cfg = mj.config(vocab, architectures=["JinaBertForSequenceClassification"], auto_map=auto_map, emb_pooler=None, **LABELS)
    w = mj.make_weights(cfg, "bert.", 4242, mj.STD, True, False) + classifier_weights(4243, cfg["hidden_size"], None, "classifier")
    seqs, types = pairs_of(ids, pairs, True)
    PAIRS_BY_NAME["ce-jinabert-tiny"] = pairs
    run("ce-jinabert-tiny", cfg, pn.BERT, w, seqs, types, 0, jinabert_logits, np.float32, 160)

    # ModernBERT: mean pooling, head norm without bias, dense without bias.
    _, mids, mvocab = pn.source_texts(MODERN)
    cfg = mm.config(mvocab, architectures=["ModernBertForSequenceClassification"], **LABELS)
    # make_weights draws the masked-LM head's head.dense (no bias) and head.norm: the same module here.
    w = [(n, a) for n, a in mm.make_weights(cfg, 1414) if n != "decoder.bias"]
    w += classifier_weights(1415, cfg["hidden_size"], None, "classifier")
    seqs, types = pairs_of(mids, MODERN_PAIRS, True)
    PAIRS_BY_NAME["ce-modernbert-tiny"] = MODERN_PAIRS
    run("ce-modernbert-tiny", cfg, MODERN, w, seqs, types, cfg["pad_token_id"], modernbert_logits, np.float32, 160)

    # jina-reranker-v2: XLM-R under flash-attention's names, its config without model_type.
    xtexts, xids, xvocab = pn.source_texts(pn.XLMR)
    src = pn.read_json(os.path.join(pn.XLMR, "config.json"))
    cfg = {
        "_name_or_path": "jina-reranker-v2-base-multilingual",
        "architectures": ["XLMRobertaForSequenceClassification"],
        "attention_probs_dropout_prob": 0.1,
        "auto_map": {
            "AutoConfig": "configuration_xlm_roberta.XLMRobertaFlashConfig",
            "AutoModel": "modeling_xlm_roberta.XLMRobertaModel",
            "AutoModelForSequenceClassification": "modeling_xlm_roberta.XLMRobertaForSequenceClassification",
        },
        "bos_token_id": 0,
        "classifier_dropout": None,
        "emb_pooler": None,
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": src["hidden_size"],
        "num_labels": 1,
        **LABELS,
        "initializer_range": 0.02,
        "intermediate_size": src["intermediate_size"],
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": src["max_position_embeddings"],
        "num_attention_heads": src["num_attention_heads"],
        "num_hidden_layers": src["num_hidden_layers"],
        "output_past": True,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "torch_dtype": "bfloat16",
        "transformers_version": "4.40.0",
        "type_vocab_size": 1,
        "use_cache": False,
        "use_flash_attn": True,
        "vocab_size": xvocab,
    }
    hf = ce.make_weights({**src, **cfg}, "roberta.", 5772, mf.XLMR_STD, True)
    w = hf_to_flash(hf, cfg["num_hidden_layers"])
    xpairs = [p for p in ce.PAIRS if len(xids[p[0]]) + len(xids[p[1]]) <= 120]
    seqs, types = ce.pair_ids(xids, True)
    keep = [i for i, p in enumerate(ce.PAIRS) if p in xpairs]
    PAIRS_BY_NAME["ce-jina-flash-tiny"] = xpairs
    run("ce-jina-flash-tiny", cfg, pn.XLMR, w, [seqs[i] for i in keep], [types[i] for i in keep], 1, flash_logits, np.float16, 128)


if __name__ == "__main__":
    main()
