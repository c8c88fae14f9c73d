#!/usr/bin/env python3
"""Independent oracle for `m3web distill` (src/distill/): a static embedder distilled from bert-tiny.

Writes fixtures/distill-bert-tiny/expected.safetensors: `table` F32 [2062, 32], the table m3web distill must
produce from fixtures/bert-tiny at its 4 layers, mean pooling, 32 principal axes and SIF 1e-4; and
expected.json (the settings, the eigenvalues, the smallest relative gap between the kept ones).

Run from the repository root:  /usr/bin/python3 test/oracle/make_distill.py   (~2 s; after make_fixtures.py).

The recipe is model2vec's distill (MinishLab/model2vec: distill/distillation.py, distill/inference.py), written
here by hand in float64 with torch and numpy; model2vec, transformers and sklearn are not used:
  - every token id t of the tokenizer (0 .. 2061, specials included) as [CLS] t [SEP], through the teacher
    (make_fixtures.forward: bert-tiny's float64 BERT forward), mean-pooled over the three tokens
    (_encode_mean_with_model: the attention mask covers the specials)
  - PCA (apply_pca: sklearn's PCA centres the rows and projects them on the covariance's leading
    eigenvectors), here from numpy.linalg.eigh of the covariance (rows - mean)^T (rows - mean) / n; axes by
    falling eigenvalue, each axis's sign fixed so its largest-magnitude entry is positive (sklearn flips signs
    otherwise: cosines between rows do not change)
  - weights (compute_weights): p_i = (1 / (i + 2)) / sum_j (1 / (j + 2)) by Zipf's law on the token id,
    w_i = a / (a + p_i), a = 1e-4; rows multiplied by w after the PCA
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BERT = os.path.join(HERE, "fixtures", "bert-tiny")
OUT = os.path.join(HERE, "fixtures", "distill-bert-tiny")
DIMS = 32
SIF = 1e-4


def main():
    with open(os.path.join(BERT, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(BERT, "tokenizer.json")) as f:
        vocab = json.load(f)["model"]["vocab"]
    W = {k: torch.from_numpy(v.astype(np.float64)) for k, v in mf.read_safetensors(os.path.join(BERT, "model.safetensors")).items()}
    V = len(vocab)
    ids = torch.tensor([[vocab["[CLS]"], t, vocab["[SEP]"]] for t in range(V)], dtype=torch.long)
    states = mf.forward(W, cfg, "bert.", ids, torch.ones_like(ids), False)
    rows = states[-1].mean(dim=1).numpy()

    x = rows - rows.mean(axis=0)
    values, vectors = np.linalg.eigh(x.T @ x / V)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    for j in range(vectors.shape[1]):
        if vectors[np.argmax(np.abs(vectors[:, j])), j] < 0:
            vectors[:, j] *= -1
    # Axes closer than this (relative to the largest) swap or mix under float32 rounding of the teacher: the
    # sign-fixed axes, and the cut between kept and dropped ones, must be well defined.
    gaps = np.abs(np.diff(values[: DIMS + 1])) / values[0]
    assert gaps.min() > 1e-5, f"eigenvalues too close to fix the axes: {gaps.min()}"
    table = x @ vectors[:, :DIMS]
    inv = 1 / np.arange(2, V + 2)
    p = inv / inv.sum()
    table *= (SIF / (SIF + p))[:, None]

    os.makedirs(OUT, exist_ok=True)
    mf.write_safetensors(os.path.join(OUT, "expected.safetensors"), [("table", table.astype(np.float32))])
    mf.write_json(
        os.path.join(OUT, "expected.json"),
        {
            "teacher": "bert-tiny",
            "layers": cfg["num_hidden_layers"],
            "pooling": "mean",
            "dims": DIMS,
            "sif": SIF,
            "rows": V,
            "eigenvalues": [float(v) for v in values],
            "min_relative_gap": float(gaps.min()),
            "cut_relative_gap": float(gaps[-1]),
        },
    )
    print(f"wrote {OUT}: table {table.shape}, smallest relative eigenvalue gap {gaps.min():.2e}")


if __name__ == "__main__":
    main()
