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
batch of another shape than the one traced, longer than a window (test/oracle/make_onnx.py's numpy evaluator).

    /usr/bin/python3 bench/onnx_modernbert.py DIR [--layers 8] [--hidden 768] [--heads 12] [--ffn 1152] [--seed 1]
"""

import argparse
import io
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "test", "oracle"))
sys.path.insert(0, os.path.join(REPO, "training"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

import make_fixtures as mf  # noqa: E402
import make_modernbert as mm  # noqa: E402
import make_onnx as mo  # noqa: E402
from onnx_export import OPSET, BufferedForward, quantize_dynamic  # noqa: E402

BUNDLED = os.path.join(REPO, "public", "models", "m3-mini")
VOCAB = 32032  # the bundled tokenizer's ids: 32,000 pieces and its 32 prompt tokens


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
    W64 = {n: torch.from_numpy(np.asarray(a, np.float64)) for n, a in weights}
    W32 = {n: t.float() for n, t in W64.items()}

    rng = np.random.RandomState(args.seed)
    ids = torch.from_numpy(rng.randint(5, VOCAB, size=(2, 160)).astype(np.int64))
    ids[:, 0], ids[0, -1] = 2, 3
    ids[1, 100], ids[1, 101:] = 3, 0
    mask = (ids != 0).long()
    model = BufferedForward(W32, lambda W, ids, mask: mm.forward(W, cfg, ids, mask, dtype=torch.float32)[1]).eval()
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids[:1, :7], mask[:1, :7]),
            buffer,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "last_hidden_state": {0: "batch", 1: "sequence"},
            },
            opset_version=OPSET,
        )
        want = mm.forward(W64, cfg, ids, mask)[1].numpy()
    graph = onnx.load_from_string(buffer.getvalue())
    got = mo.run_numpy(graph, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    real = mask.numpy().astype(bool)
    err = np.abs(got[real] - want[real]).max()
    assert err < 1e-3, f"the traced float32 graph is {err} off the float64 forward"

    if os.path.isdir(args.dir):
        shutil.rmtree(args.dir)
    os.makedirs(os.path.join(args.dir, "onnx"))
    mf.write_json(os.path.join(args.dir, "config.json"), cfg)
    shutil.copyfile(os.path.join(BUNDLED, "tokenizer.json"), os.path.join(args.dir, "tokenizer.json"))
    with open(os.path.join(BUNDLED, "manifest.json")) as f:
        mf.write_json(os.path.join(args.dir, "tokenizer_config.json"), json.load(f)["tokenizer"].get("config", {}))
    mf.write_safetensors(
        os.path.join(args.dir, "model.safetensors"), [(n, np.asarray(a, np.float32)) for n, a in weights], {"format": "pt"}
    )
    path = os.path.join(args.dir, "onnx", "model.onnx")
    onnx.save(graph, path)
    quantize_dynamic(path, os.path.join(args.dir, "onnx", "model_quantized.onnx"))
    print(f"{args.dir}: ModernBERT, {args.layers} x {args.hidden}; traced graph vs float64 forward {err:.1e}")


if __name__ == "__main__":
    main()
