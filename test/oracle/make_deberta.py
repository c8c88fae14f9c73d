#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's DeBERTa-v3 encoders and rerankers (mxbai-rerank-v1, mDeBERTa-v3).

Writes fixtures/deberta-tiny/ (DebertaV2Model: hidden states of bert-tiny's texts at every layer) and
fixtures/ce-deberta-tiny/ (DebertaV2ForSequenceClassification, one label, shaped like
mixedbread-ai/mxbai-rerank-xsmall-v1: its `deberta.` encoder, the ContextPooler and classifier; logits of
make_cross_encoder.py's pairs), see README.md next to this file. Both reuse bert-tiny's tokenizer (its
[CLS] A [SEP] B [SEP] template is DeBERTa-v3's; DeBERTa-v3 reads no token types) and verified ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_deberta.py   (~10 s; after make_fixtures.py)

The forward is written by hand in float64 from transformers' models/deberta_v2/modeling_deberta_v2.py
(DebertaV2Embeddings without positions or token types, DebertaV2Encoder.get_rel_embedding / get_rel_pos,
make_log_bucket_position and build_relative_position computed in torch's float32 as there,
DisentangledSelfAttention with share_att_key: scores q.k, c2p = q . key_proj(rel)[clamp(rel_pos + span)] and
p2c = (k . query_proj(rel)[clamp(-rel_pos + span)]) gathered per key and transposed, all over
sqrt(head_dim * 3); XSoftmax; BERT's post-norm output blocks and GELU; ContextPooler: dense and GELU over the
first token). transformers is not used. Route 2 computes every score with explicit loops from the definition
(c2p from bucket(i - j), p2c from -bucket(j - i)), not from the gathers.
The config shrinks position_buckets to 16 and max_relative_positions to 64, so the fixture's texts (up to
158 tokens) reach the logarithmic buckets and the clamp at 2 * span - 1.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_cross_encoder as ce  # noqa: E402
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def deberta_config(vocab_size, classifier):
    cfg = {
        "architectures": ["DebertaV2ForSequenceClassification" if classifier else "DebertaV2Model"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 48,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "layer_norm_eps": 1e-07,
        "max_position_embeddings": 512,
        "max_relative_positions": 64,
        "model_type": "deberta-v2",
        "norm_rel_ebd": "layer_norm",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "pad_token_id": 0,
        "pooler_dropout": 0,
        "pooler_hidden_act": "gelu",
        "pooler_hidden_size": 48,
        "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": False,
        "position_buckets": 16,
        "relative_attention": True,
        "share_att_key": True,
        "torch_dtype": "float32",
        "transformers_version": "4.41.2",
        "type_vocab_size": 0,
        "vocab_size": vocab_size,
    }
    if classifier:
        cfg["id2label"] = {"0": "LABEL_0"}
        cfg["label2id"] = {"LABEL_0": 0}
    return cfg


def make_weights(cfg, prefix, seed, classifier, std_scale=1.0):
    """std_scale multiplies the projections' spread (bench/onnx_deberta.py widens the model and narrows them)."""
    rs = np.random.RandomState(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    w = []

    def normal(name, shape, std):
        w.append((name, rs.standard_normal(shape) * std * (std_scale if len(shape) == 2 and "embeddings" not in name else 1.0)))

    def ln(name):
        w.append((name + ".weight", 1.0 + 0.1 * rs.standard_normal(H)))
        w.append((name + ".bias", 0.1 * rs.standard_normal(H)))

    normal(prefix + "embeddings.word_embeddings.weight", (V, H), 0.5)
    ln(prefix + "embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        for n in ("query_proj", "key_proj"):
            normal(p + f"attention.self.{n}.weight", (H, H), 0.25)
            normal(p + f"attention.self.{n}.bias", (H,), 0.1)
        normal(p + "attention.self.value_proj.weight", (H, H), 0.12)
        normal(p + "attention.self.value_proj.bias", (H,), 0.1)
        normal(p + "attention.output.dense.weight", (H, H), 0.12)
        normal(p + "attention.output.dense.bias", (H,), 0.1)
        ln(p + "attention.output.LayerNorm")
        normal(p + "intermediate.dense.weight", (I, H), 0.2)
        normal(p + "intermediate.dense.bias", (I,), 0.1)
        normal(p + "output.dense.weight", (H, I), 0.1)
        normal(p + "output.dense.bias", (H,), 0.1)
        ln(p + "output.LayerNorm")
    normal(prefix + "encoder.rel_embeddings.weight", (2 * cfg["position_buckets"], H), 1.0)
    ln(prefix + "encoder.LayerNorm")
    if classifier:
        normal("pooler.dense.weight", (H, H), 0.3)
        normal("pooler.dense.bias", (H,), 0.1)
        normal("classifier.weight", (1, H), 0.5)
        normal("classifier.bias", (1,), 0.1)
    return w


# --------------------------------------------------------------------------------------------------
# Forward (float64)
# --------------------------------------------------------------------------------------------------


def log_bucket(relative_pos, bucket_size, max_position):
    """make_log_bucket_position, as transformers computes it (float32 logarithms and ceil)."""
    sign = torch.sign(relative_pos)
    mid = bucket_size // 2
    abs_pos = torch.where((relative_pos < mid) & (relative_pos > -mid), torch.tensor(mid - 1).type_as(relative_pos), torch.abs(relative_pos))
    log_pos = torch.ceil(torch.log(abs_pos / mid) / torch.log(torch.tensor((max_position - 1) / mid)) * (mid - 1)) + mid
    return torch.where(abs_pos <= mid, relative_pos.type_as(log_pos), log_pos * sign).to(torch.long)


def relative_position(S, cfg, mistake):
    ids = torch.arange(S)
    rel = ids[:, None] - ids[None, :]
    return rel if mistake == "no_log_buckets" else log_bucket(rel, cfg["position_buckets"], cfg["max_relative_positions"])


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def forward(W, cfg, prefix, ids, mask, mistake=None, naive=False):
    """hidden_states: the embeddings' output and each layer's, [B, S, H]."""
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d, span = H // nh, cfg["position_buckets"]
    B, S = ids.shape
    g = lambda n: W[prefix + n]  # noqa: E731
    lin = lambda t, n: t @ g(n + ".weight").T + g(n + ".bias")  # noqa: E731
    ln = lambda t, n: mf.layer_norm(t, g(n + ".weight"), g(n + ".bias"), eps)  # noqa: E731
    x = ln(g("embeddings.word_embeddings.weight")[ids], "embeddings.LayerNorm") * mask[..., None]
    rel_emb = g("encoder.rel_embeddings.weight")
    if mistake != "no_rel_norm":
        rel_emb = ln(rel_emb, "encoder.LayerNorm")
    rel_pos = relative_position(S, cfg, mistake)
    factor = 1 if mistake == "scale_sqrt_d" else 3
    scale = math.sqrt(d * factor)
    allowed = (mask[:, None, :, None] * mask[:, None, None, :]).bool()
    states = [x]
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        heads = lambda t: t.view(t.shape[0], -1, nh, d).transpose(1, 2)  # noqa: E731
        q, k, v = (heads(lin(x, p + f"attention.self.{n}")) for n in ("query_proj", "key_proj", "value_proj"))
        pos_q = heads(lin(rel_emb[None], p + "attention.self.query_proj"))[0]  # [nh, 2 span, d]
        pos_k = heads(lin(rel_emb[None], p + "attention.self.key_proj"))[0]
        if naive:
            scores = naive_scores(q, k, pos_q, pos_k, S, cfg, scale, mistake)
        else:
            scores = q @ k.transpose(-1, -2) / scale
            if mistake != "no_c2p":
                c2p = q @ pos_k.transpose(-1, -2)  # [B, nh, S, 2 span]
                c2p_pos = torch.clamp(rel_pos + span, 0, 2 * span - 1)
                scores = scores + torch.gather(c2p, -1, c2p_pos.expand(B, nh, S, S)) / scale
            if mistake != "no_p2c":
                p2c = k @ pos_q.transpose(-1, -2)  # [B, nh, S (keys), 2 span]
                r_pos = rel_pos if mistake != "p2c_sign" else -rel_pos
                p2c_pos = torch.clamp(-r_pos + span, 0, 2 * span - 1)
                scores = scores + torch.gather(p2c, -1, p2c_pos.expand(B, nh, S, S)).transpose(-1, -2) / scale
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, -1).masked_fill(~allowed, 0.0)
        ctx = (probs @ v).transpose(1, 2).reshape(B, S, H)
        a = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        x = ln(lin(gelu(lin(a, p + "intermediate.dense")), p + "output.dense") + a, p + "output.LayerNorm")
        states.append(x)
    return states


def naive_scores(q, k, pos_q, pos_k, S, cfg, scale, mistake):
    """Route 2: each score from the definition, one query and key at a time."""
    B, nh, _, d = q.shape
    span = cfg["position_buckets"]
    dists = torch.arange(-(S - 1), S)
    buckets = dists if mistake == "no_log_buckets" else log_bucket(dists, cfg["position_buckets"], cfg["max_relative_positions"])
    b = lambda dist: int(buckets[dist + S - 1])  # noqa: E731
    out = torch.zeros(B, nh, S, S, dtype=q.dtype)
    for bi in range(B):
        for h in range(nh):
            for i in range(S):
                for j in range(S):
                    s = torch.dot(q[bi, h, i], k[bi, h, j])
                    s = s + torch.dot(q[bi, h, i], pos_k[h, min(2 * span - 1, max(0, b(i - j) + span))])
                    s = s + torch.dot(k[bi, h, j], pos_q[h, min(2 * span - 1, max(0, -b(j - i) + span))])
                    out[bi, h, i, j] = s / scale
    return out


def logits(W, cfg, ids, mask, mistake=None):
    x = forward(W, cfg, "deberta.", ids, mask, mistake)[-1][:, 0]
    if mistake == "tanh_pooler":
        pooled = torch.tanh(x @ W["pooler.dense.weight"].T + W["pooler.dense.bias"])
    else:
        pooled = gelu(x @ W["pooler.dense.weight"].T + W["pooler.dense.bias"])
    return (pooled @ W["classifier.weight"].T + W["classifier.bias"])[:, 0]


MISTAKES = {
    "no c2p": dict(mistake="no_c2p"),
    "no p2c": dict(mistake="no_p2c"),
    "p2c from bucket(i - j) unnegated": dict(mistake="p2c_sign"),
    "scale sqrt(d) instead of sqrt(3 d)": dict(mistake="scale_sqrt_d"),
    "relative embeddings not normed": dict(mistake="no_rel_norm"),
    "distances clamped, not log-bucketed": dict(mistake="no_log_buckets"),
}


def buckets_256():
    """Every distance's bucket at mxbai-rerank-v1's and mDeBERTa-v3's settings, as torch computes it."""
    return [int(v) for v in log_bucket(torch.arange(-600, 601), 256, 512)]


def make_encoder(texts, ids, vocab):
    cfg = deberta_config(vocab, False)
    folder = pn.new_folder("deberta-tiny", cfg, pn.BERT)
    W = pn.store_weights(folder, make_weights(cfg, "", 1357, False), np.float32)
    forward_route = lambda W, ids_, mask, **kw: forward(W, cfg, "", ids_, mask, **kw)  # noqa: E731

    def naive_route(W, inp, mask):
        # Explicit loops cost O(S^2 d) Python steps: the two shortest texts of the batch are checked this way.
        short = sorted(range(len(ids)), key=lambda i: len(ids[i]))[:2]
        states = forward(W, cfg, "", inp, mask)
        sinp, smask = pn.padded_batch([ids[i] for i in short], 0)
        fast = forward(W, cfg, "", sinp, smask)
        slow = forward(W, cfg, "", sinp, smask, naive=True)
        assert max((a - b).abs().max().item() for a, b in zip(fast, slow)) < 1e-9, "route 2 (explicit scores)"
        return states

    pn.run_fixture(
        "deberta-tiny",
        folder,
        texts,
        ids,
        0,
        forward_route,
        naive_route,
        W,
        mistakes=MISTAKES,
        head="DebertaV2Model",
        note="hidden.{i}.{l}: l=0 the embeddings' LayerNorm output, l>=1 each layer's output. buckets: torch's "
        "make_log_bucket_position of every distance -600..600 at the published models' position_buckets 256 and "
        "max_relative_positions 512. ",
        extra_json={"buckets": {"position_buckets": 256, "max_relative_positions": 512, "from": -600, "values": buckets_256()}},
    )


def make_classifier(texts, ids, vocab):
    cfg = deberta_config(vocab, True)
    folder = pn.new_folder("ce-deberta-tiny", cfg, pn.BERT)
    W = pn.store_weights(folder, make_weights(cfg, "deberta.", 2468, True), np.float32)
    seqs, types = ce.pair_ids(ids, False)
    inp, mask = pn.padded_batch(seqs, 0)
    with torch.no_grad():
        got = logits(W, cfg, inp, mask)
        for i, s in enumerate(seqs):
            alone = logits(W, cfg, torch.tensor([s]), torch.ones((1, len(s)), dtype=torch.long))
            assert abs(alone.item() - got[i].item()) < 1e-9, ("alone", i)
        moved = {}
        for label, kw in {**MISTAKES, "tanh in the pooler": dict(mistake="tanh_pooler")}.items():
            moved[label] = (logits(W, cfg, inp, mask, **kw) - got).abs().max().item()
            assert moved[label] > 0.1, (label, moved[label])
        q8 = {n: (t if n.startswith(("classifier", "pooler")) else q) for (n, t), q in zip(W.items(), pn.q8_rows(W).values())}
        q8_moved = (logits(q8, cfg, inp, mask) - got).abs().max().item()
    spread = got.std().item()
    assert spread > 0.3, ("logit spread", spread)
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {
            "model": "ce-deberta-tiny",
            "pairs": [[texts[q], texts[d]] for q, d in ce.PAIRS],
            "ids": seqs,
            "token_type_ids": types,
            "logits": [float(v) for v in got],
            "scores": [float(v) for v in torch.sigmoid(got)],
            "q8_moved": q8_moved,
            "note": (
                "logits: the classifier's output for each pair (query, document) read as the tokenizer's pair template "
                "over the two texts' ids (DeBERTa-v3 reads no token types); scores: sigmoid(logit), what "
                "sentence-transformers' CrossEncoder returns for one label. Computed in float64 from the stored weights "
                "(one right-padded batch, checked against each pair alone). q8_moved: how far per-row q8 rounding of "
                "the encoder's matrices alone moves the logits."
            ),
        },
    )
    figures = ", ".join(f"{k} {v:.2f}" for k, v in moved.items())
    print(
        f"ce-deberta-tiny: {len(seqs)} pairs, lengths {[len(s) for s in seqs]}; logit spread {spread:.3f}; "
        f"max |logit change| {figures}; q8 weights {q8_moved:.3f}"
    )


def main():
    texts, ids, vocab = pn.bert_texts()
    make_encoder(texts, ids, vocab)
    make_classifier(texts, ids, vocab)


if __name__ == "__main__":
    main()
