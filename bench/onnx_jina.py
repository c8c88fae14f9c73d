#!/usr/bin/env python3
"""A random-weight JinaBERT v2 at jinaai/jina-embeddings-v2-small-en's shape (4 layers x 512, 8 heads, GeGLU FFN
2048, ALiBi) as a Hugging Face folder with its ONNX exports, for the transformers.js comparison.

Writes into DIR (emptied first):
  config.json, model.safetensors  jina-embeddings-v2-small-en's config fields (test/oracle/make_jina.py's config()),
                                  F32 weights under JinaBertModel's names, seeded
  tokenizer.json, tokenizer_config.json
                                  the bundled m3-mini's (public/models/m3-mini) and its manifest's tokenizer
                                  config: 32,032 ids, [CLS] A [SEP]
  onnx/model.onnx                 f32, inputs input_ids + attention_mask (dynamic batch / sequence), output
                                  last_hidden_state, opset 14: test/oracle/make_jina.py's forward in float32 traced
                                  by torch.onnx (transformers.js runs any model_type "bert" graph it is given)
  onnx/model_quantized.onnx       transformers.js dtype 'q8': training/onnx_export.py's quantize_dynamic

Before anything is written the traced graph's output is checked against the same forward in float64 on a
right-padded batch of another shape than the one traced (bench/traced_folder.py, with test/oracle/make_onnx.py's
numpy evaluator).

    /usr/bin/python3 bench/onnx_jina.py DIR [--layers 4] [--hidden 512] [--heads 8] [--ffn 2048] [--seed 1]
"""

import argparse
import os
import sys

import numpy as np
import torch
from traced_folder import REPO, VOCAB, write_traced_folder

sys.path.insert(0, os.path.join(REPO, "test", "oracle"))
import make_jina as mj  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--ffn", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cfg = mj.config(
        VOCAB, hidden_size=args.hidden, num_attention_heads=args.heads, intermediate_size=args.ffn,
        num_hidden_layers=args.layers, _name_or_path="jinaai/jina-embeddings-v2-small-en",
    )  # fmt: skip
    # The fixture's standard deviations are for 64 columns; linear weights scale by 1 / sqrt(fan-in) here.
    scale = (64 / args.hidden) ** 0.5
    std = {k: v if k in ("emb", "type") else v * scale for k, v in mj.STD.items()}
    weights = mj.make_weights(cfg, "", args.seed, std, pooler=True, mlm_head=False)

    rng = np.random.RandomState(args.seed)
    ids = torch.from_numpy(rng.randint(5, VOCAB, size=(2, 40)).astype(np.int64))
    ids[:, 0], ids[0, -1] = 2, 3
    ids[1, 25], ids[1, 26:] = 3, 0
    mask = (ids != 0).long()
    err = write_traced_folder(args.dir, cfg, weights, lambda W, ids, mask: mj.forward(W, cfg, "", ids, mask)[-1], ids, mask)
    print(f"{args.dir}: JinaBERT v2, {args.layers} x {args.hidden}; traced graph vs float64 forward {err:.1e}")


if __name__ == "__main__":
    main()
