#!/usr/bin/env python3
"""A random-weight ModernBERT at gte-modernbert-base / modernbert-embed-base's widths (768 wide, 12 heads, GeGLU FFN
1152, every third layer global from layer 0, windows of 128, RoPE 160000 / 10000) as a Hugging Face folder with its
ONNX exports, for the transformers.js comparison.

Writes into DIR (emptied first):
  config.json, model.safetensors  test/oracle/make_modernbert.py's config() at those widths (architectures
                                  ModernBertModel), F32 weights under its names, seeded
  tokenizer.json, tokenizer_config.json
                                  the bundled m3-mini's (public/models/m3-mini) and its manifest's tokenizer config
  onnx/model.onnx                 f32, inputs input_ids + attention_mask (dynamic batch / sequence), output
                                  last_hidden_state, opset 14: make_modernbert.forward in float32 traced by torch.onnx
                                  (transformers.js runs a model_type "modernbert" graph with those inputs)
  onnx/model_quantized.onnx       transformers.js dtype 'q8': training/onnx_export.py's quantize_dynamic

Before anything is written the traced graph's output is checked against the same forward in float64 on a right-padded
batch of another shape than the one traced, longer than a window (bench/traced_folder.py, with
test/oracle/make_onnx.py's numpy evaluator).

    /usr/bin/python3 bench/onnx_modernbert.py DIR [--layers 8] [--hidden 768] [--heads 12] [--ffn 1152] [--seed 1]
"""

import argparse
import os
import sys

import numpy as np
import torch
from traced_folder import REPO, VOCAB, write_traced_folder

sys.path.insert(0, os.path.join(REPO, "test", "oracle"))
import make_modernbert as mm  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=1152)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cfg = mm.config(
        VOCAB, architectures=["ModernBertModel"], hidden_size=args.hidden, num_attention_heads=args.heads,
        intermediate_size=args.ffn, num_hidden_layers=args.layers, local_attention=128, max_position_embeddings=8192,
        bos_token_id=2, cls_token_id=2, eos_token_id=3, sep_token_id=3, pad_token_id=0,
        _name_or_path="Alibaba-NLP/gte-modernbert-base",
    )  # fmt: skip
    # make_modernbert's standard deviations are for 64 columns; matrices scale by 1 / sqrt(fan-in) here.
    scale = (64 / args.hidden) ** 0.5
    saved = dict(mm.STD)
    mm.STD.update({k: v * scale for k, v in saved.items() if k != "emb"})
    weights = [(n, a) for n, a in mm.make_weights(cfg, args.seed) if n.startswith("model.")]
    mm.STD.update(saved)

    rng = np.random.RandomState(args.seed)
    ids = torch.from_numpy(rng.randint(5, VOCAB, size=(2, 160)).astype(np.int64))
    ids[:, 0], ids[0, -1] = 2, 3
    ids[1, 100], ids[1, 101:] = 3, 0
    mask = (ids != 0).long()

    def forward(W, ids, mask):  # positions and angles in the weights' dtype: float32 in the graph
        return mm.forward(W, cfg, ids, mask, dtype=next(iter(W.values())).dtype)[1]

    err = write_traced_folder(args.dir, cfg, weights, forward, ids, mask)
    print(f"{args.dir}: ModernBERT, {args.layers} x {args.hidden}; traced graph vs float64 forward {err:.1e}")


if __name__ == "__main__":
    main()
