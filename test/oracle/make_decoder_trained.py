#!/usr/bin/env python3
"""Trained-like Qwen3-Embedding and EmbeddingGemma fixtures for the quantization bounds.

Random weights amplify quantization error layer by layer (q4 measures 0.85-0.93 on qwen3-tiny and
gemma3-tiny), so the q4 >= 0.99 bound is checked, as for BERT, on trained weights. This script trains
two small models of each family's architecture (the forward of make_decoder_embedders.py, in float32)
for a few hundred steps on FLORES-200 *train* sentences in five languages, then writes them as
fixtures/qwen3-trained/ and fixtures/gemma3-trained/ with the same float64 oracle, self-checks and
mistake checks as the random fixtures.

Objective (what the families are trained for): the sentence-transformers output of a sentence and of
its translation, InfoNCE over the batch (temperature 0.05), plus the token objective of each family
from the tied embedding table: next-token prediction for causal Qwen3, masked tokens (15%, replaced
by <pad>) for bidirectional Gemma.

Run from the repository root, after make_modernbert.py (it reuses modernbert-tiny's tokenizer):
    python3 test/oracle/make_decoder_trained.py          # ~6 min on one core
One thread and fixed seeds: a rerun on the same machine writes the same files.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_decoder_embedders as mde  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import make_fixtures as mf  # noqa: E402
import make_modernbert as mm  # noqa: E402

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

LANGS = ["eng_Latn", "deu_Latn", "fra_Latn", "rus_Cyrl", "ell_Grek"]  # the tokenizer's languages
MAX_TOKENS = 48
PAIRS = 16
STEPS = 400
LR = 3e-3
WARMUP = 20
TEMPERATURE = 0.05
MASK_RATE = 0.15


def qwen3_config(vocab_size):
    return {**mde.qwen3_config(vocab_size), "hidden_size": 128, "head_dim": 48, "intermediate_size": 256, "num_hidden_layers": 4,
            "max_window_layers": 4}


def gemma3_config(vocab_size):
    return {**mde.gemma3_config(vocab_size), "hidden_size": 128, "head_dim": 64, "intermediate_size": 256,
            "query_pre_attn_scalar": 64}


def tokenizer():
    with open(os.path.join(mde.SOURCE, "tokenizer.json"), encoding="utf-8") as f:
        model = json.load(f)["model"]
    return mm.GemmaBpe(model["vocab"], [tuple(m) for m in model["merges"]])


def aligned_train_sentences(tok):
    """{index_id: [ids per language]} for FLORES train sentences present in every language."""
    per_lang = [dict(mf.read_flores(lang, "train")) for lang in LANGS]
    shared = sorted(set.intersection(*(set(d) for d in per_lang)))
    return [[tok.encode(d[i])[:MAX_TOKENS] for d in per_lang] for i in shared]


def init_weights(cfg, gemma, seed):
    """A standard small-model start (normal 0.02 scaled, norms at their identity), as trainable float32."""
    rs = np.random.RandomState(seed)
    out = {}
    for name, a in mde.make_weights(cfg, seed, gemma):
        if name.endswith("norm.weight"):
            a = np.zeros_like(a) if gemma else np.ones_like(a)
        else:
            a = rs.standard_normal(a.shape) * (0.02 if name == "embed_tokens.weight" else 1.0 / np.sqrt(a.shape[1]))
        out[name] = torch.tensor(a, dtype=torch.float32, requires_grad=True)
    if gemma:
        out["embed_tokens.weight"].data *= 0.5 / 0.02 / np.sqrt(cfg["hidden_size"])
    dense = [torch.tensor(w, dtype=torch.float32, requires_grad=True) for w in mde.random_dense(mde.dense_shapes(cfg, gemma), seed + 1)]
    return out, dense


def embed(W, dense, cfg, gemma, seqs, pad):
    inp, mask = mde.batch(seqs, pad, left=not gemma)
    states = mde.forward(W, cfg, inp, mask, gemma)
    pooled = mde.pool(states[-1], mask, "mean" if gemma else "last")
    for w in dense:
        pooled = pooled @ w.T
    return torch.nn.functional.normalize(pooled, dim=-1)


def token_loss(W, cfg, gemma, seqs, pad, rs):
    """Next-token (causal) or masked-token (bidirectional) cross-entropy through the tied table."""
    inp, mask = mde.batch(seqs, pad)
    target = inp.clone()
    if gemma:
        hide = torch.from_numpy(rs.random_sample(inp.shape) < MASK_RATE) & mask.bool()
        inp = inp.masked_fill(hide, pad)
        keep = hide
    else:
        target = torch.roll(target, -1, dims=1)
        keep = mask.bool() & torch.roll(mask, -1, dims=1).bool()
        keep[:, -1] = False
    last = mde.forward(W, cfg, inp, mask, gemma)[-1]
    logits = last[keep] @ W["embed_tokens.weight"].T
    return torch.nn.functional.cross_entropy(logits, target[keep])


def train(name, cfg, gemma, seed, groups):
    torch.manual_seed(seed)
    rs = np.random.RandomState(seed)
    W, dense = init_weights(cfg, gemma, seed)
    params = list(W.values()) + dense
    opt = torch.optim.Adam(params, lr=LR)
    pad = cfg.get("pad_token_id") or 0
    t0 = time.time()
    for step in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = LR * min(1.0, (step + 1) / WARMUP) * (0.1 + 0.9 * (1 - step / STEPS))
        picks = rs.choice(len(groups), PAIRS, replace=False)
        la, lb = rs.choice(len(LANGS), 2, replace=False)
        src = [groups[i][la] for i in picks]
        tgt = [groups[i][lb] for i in picks]
        sim = embed(W, dense, cfg, gemma, src, pad) @ embed(W, dense, cfg, gemma, tgt, pad).T / TEMPERATURE
        labels = torch.arange(PAIRS)
        nce = (torch.nn.functional.cross_entropy(sim, labels) + torch.nn.functional.cross_entropy(sim.T, labels)) / 2
        tok = token_loss(W, cfg, gemma, src, pad, rs)
        loss = nce + tok
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0 or step == STEPS - 1:
            print(f"{name} step {step}: contrastive {nce.item():.3f}, tokens {tok.item():.3f} ({time.time() - t0:.0f} s)", flush=True)
    weights = [(n, W[n].detach().numpy().astype(np.float64)) for n, _ in mde.make_weights(cfg, seed, gemma)]
    return weights, [w.detach().numpy().astype(np.float64) for w in dense], nce.item(), tok.item()


def main():
    torch.set_num_threads(1)
    with open(os.path.join(mde.SOURCE, "expected.json"), encoding="utf-8") as f:
        source = json.load(f)
    with open(os.path.join(mde.SOURCE, "config.json"), encoding="utf-8") as f:
        vocab = json.load(f)["vocab_size"]
    groups = aligned_train_sentences(tokenizer())
    for name, cfg, gemma, seed in (("qwen3-trained", qwen3_config(vocab), False, 2468), ("gemma3-trained", gemma3_config(vocab), True, 1357)):
        weights, dense, nce, tok = train(name, cfg, gemma, seed, groups)
        note = (f" Weights trained here ({STEPS} steps on {len(groups)} FLORES train sentence groups in {', '.join(LANGS)}: "
                f"translation InfoNCE + {'masked' if gemma else 'next'}-token loss; final {nce:.3f} / {tok:.3f}), "
                "for the quantization bounds that random weights are too sensitive for.")
        mde.make_model(name, cfg, gemma, seed, source, weights=weights, dense=dense, note=note)


if __name__ == "__main__":
    main()
