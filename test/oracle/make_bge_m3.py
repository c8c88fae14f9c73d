#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's lexical weights (BGE-M3's sparse output).

Writes fixtures/bge-m3-tiny/ (see README.md next to this file): BGE-M3's two heads as it ships them, for
xlmr-tiny's encoder (make_fixtures.py: the tests put these files beside that folder's files, as BAAI/bge-m3
keeps them beside its XLM-R): the lexical-weights head `sparse_linear.pt` (torch.save of a Linear(hidden, 1)'s
state dict: `weight` [1, H] and `bias` [1], float32) and the multi-vector projection `colbert_linear.pt` (a
Linear(hidden, hidden)'s, as BGE-M3's colbert_dim -1 makes it); and expected.json with, for each of xlmr-tiny's
texts:

- `scores`: every token's head output before the ReLU, sparse_linear(last_hidden_state) (float64 forward);
- `indices` / `values`: the lexical weights as FlagEmbedding's M3Embedder makes them
  (FlagEmbedding/inference/embedder/encoder_only/m3.py, `_process_token_weights`): ReLU, the ids of the
  tokenizer's cls, eos, pad and unk tokens left out, weights <= 0 dropped, and per token id the largest
  weight over its occurrences; indices ascending;
- `pairs`: the lexical matching score (compute_lexical_matching_score: the sum over shared ids of the products)
  of text 0 with every text;
- `colbert`: [query i][document j], BGE-M3's multi-vector score of text i against text j (FlagEmbedding's
  `_colbert_embedding`: every state but the first, CLS, through colbert_linear, L2-normalised; `colbert_score`:
  for each query vector the largest dot product with the document's, summed and divided by the query's count).

Run from the repository root:  /usr/bin/python3 test/oracle/make_bge_m3.py   (~2 s; after make_fixtures.py)
Deterministic (numpy RandomState 2024): a rerun gives byte-identical files. Neither transformers nor
FlagEmbedding is used.
"""

import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "fixtures", "xlmr-tiny")
OUT = os.path.join(HERE, "fixtures", "bge-m3-tiny")
# <s>, </s>, <pad>, <unk> in xlmr-tiny's vocabulary: the tokens FlagEmbedding's M3 leaves out.
UNUSED = {0, 2, 1, 3}


def main():
    cfg = json.load(open(os.path.join(BASE, "config.json")))
    expected = json.load(open(os.path.join(BASE, "expected.json")))
    W = {k: torch.from_numpy(v.astype(np.float64)) for k, v in mf.read_safetensors(os.path.join(BASE, "model.safetensors")).items()}
    H = cfg["hidden_size"]
    rng = np.random.RandomState(2024)
    # A scale that leaves about half the tokens with a positive weight: the ReLU and the drop of zeros both matter.
    weight = (rng.standard_normal((1, H)) * 0.12).astype(np.float32)
    bias = np.array([0.05], dtype=np.float32)
    head = torch.nn.Linear(H, 1)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        head.bias.copy_(torch.from_numpy(bias))
    colbert = torch.nn.Linear(H, H)
    cw = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(np.float32)
    cb = (rng.standard_normal(H) * 0.1).astype(np.float32)
    with torch.no_grad():
        colbert.weight.copy_(torch.from_numpy(cw))
        colbert.bias.copy_(torch.from_numpy(cb))
    os.makedirs(OUT, exist_ok=True)
    torch.save(head.state_dict(), os.path.join(OUT, "sparse_linear.pt"))
    torch.save(colbert.state_dict(), os.path.join(OUT, "colbert_linear.pt"))

    w64 = torch.from_numpy(weight.astype(np.float64))
    b64 = torch.from_numpy(bias.astype(np.float64))
    cw64 = torch.from_numpy(cw.astype(np.float64))
    cb64 = torch.from_numpy(cb.astype(np.float64))
    texts = []
    multi = []
    for ids in expected["ids"]:
        inp = torch.tensor([ids])
        states = mf.forward(W, cfg, "roberta.", inp, torch.ones_like(inp), True)
        multi.append(torch.nn.functional.normalize(states[-1][0, 1:] @ cw64.T + cb64, dim=-1))
        scores = (states[-1][0] @ w64.T + b64)[:, 0]
        best = collections.defaultdict(float)
        for w, idx in zip(torch.relu(scores).tolist(), ids):
            if idx not in UNUSED and w > 0 and w > best[idx]:
                best[idx] = w
        indices = sorted(best)
        texts.append({"scores": scores.tolist(), "indices": indices, "values": [best[i] for i in indices]})
    colbert_scores = [[(q @ d.T).max(dim=1).values.sum().item() / q.shape[0] for d in multi] for q in multi]
    # What the rules change: keeping the CLS vector, or summing instead of averaging.
    with_cls = []
    for ids in expected["ids"][:4]:
        inp = torch.tensor([ids])
        h = mf.forward(W, cfg, "roberta.", inp, torch.ones_like(inp), True)[-1][0]
        with_cls.append(torch.nn.functional.normalize(h @ cw64.T + cb64, dim=-1))
    moved = max(
        abs((q @ d.T).max(dim=1).values.sum().item() / q.shape[0] - colbert_scores[i][j])
        for i, q in enumerate(with_cls)
        for j, d in enumerate(with_cls)
    )
    first = dict(zip(texts[0]["indices"], texts[0]["values"]))
    pairs = [sum(first[i] * v for i, v in zip(t["indices"], t["values"]) if i in first) for t in texts]
    repeated = sum(len(ids) - len(set(ids)) for ids in expected["ids"])
    kept = sum(len(t["indices"]) for t in texts)
    mf.write_json(
        os.path.join(OUT, "expected.json"),
        {
            "model": "xlmr-tiny + sparse_linear.pt",
            "texts": expected["texts"],
            "ids": expected["ids"],
            "exclude": sorted(UNUSED),
            "lexical": texts,
            "pairs": pairs,
            "colbert": colbert_scores,
            "note": f"{kept} weighted ids over {sum(map(len, expected['ids']))} tokens; {repeated} repeated token occurrences",
        },
    )
    print(f"bge-m3-tiny: {kept} weighted ids, {repeated} repeated occurrences, pairs {[round(p, 3) for p in pairs]}")
    flat = [x for row in colbert_scores for x in row]
    print(f"colbert scores {min(flat):.3f}..{max(flat):.3f}; keeping the CLS vector moves them by up to {moved:.3f}")


if __name__ == "__main__":
    main()
