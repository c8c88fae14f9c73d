#!/usr/bin/env python3
"""A random DeBERTa-v3 reranker at mixedbread-ai/mxbai-rerank-xsmall-v1's shape (12 x 384, 6 heads, ffn 1536,
256 position buckets over 512 positions; its config's fields) in the two forms `npm run bench -- rerank-deberta`
compares: a Hugging Face DebertaV2ForSequenceClassification folder (safetensors, f32) for m3web, and its ONNX
exports for transformers.js (onnx/model.onnx with inputs input_ids, attention_mask and the one output `logits`;
onnx/model_quantized.onnx from training/onnx_export.py's quantize_dynamic). The graph is
test/oracle/make_deberta.py's forward in float32 (transformers' modeling_deberta_v2.py written out), traced by
torch.onnx at opset 14; its logits for one pair are stored in onnx/check.json. The vocabulary and tokenizer are
SRC_FOLDER's (the bench's BERT folder: the bundled tokenizer, [CLS] A [SEP] B [SEP]).

Usage: /usr/bin/python3 bench/onnx_deberta.py SRC_FOLDER DST_FOLDER   (Debian's python3-torch, python3-onnx)
"""

import io
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "oracle"))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
import make_deberta as md  # noqa: E402
import make_fixtures as mf  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx_export  # noqa: E402
import torch  # noqa: E402

SEED = 11


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        vocab = json.load(f)["vocab_size"]
    cfg = md.deberta_config(vocab, True)
    cfg.update(
        hidden_size=384,
        intermediate_size=1536,
        num_attention_heads=6,
        num_hidden_layers=12,
        pooler_hidden_size=384,
        position_buckets=256,
        max_relative_positions=-1,
    )
    # make_deberta's forward reads max_relative_positions as given; the published -1 means max_position_embeddings.
    run_cfg = {**cfg, "max_relative_positions": cfg["max_position_embeddings"]}
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(os.path.join(dst, "onnx"))
    mf.write_json(os.path.join(dst, "config.json"), cfg)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
    weights = md.make_weights(run_cfg, "deberta.", SEED, True, std_scale=(48 / 384) ** 0.5)
    # Logits of a few units, not saturated sigmoids, so the runtimes' score differences show.
    weights = [(n, a * 0.2 if n == "classifier.weight" else a) for n, a in weights]
    mf.write_safetensors(os.path.join(dst, "model.safetensors"), [(n, a.astype(np.float32)) for n, a in weights], {"format": "pt"})
    W = {n: torch.from_numpy(a) for n, a in mf.read_safetensors(os.path.join(dst, "model.safetensors")).items()}
    model = onnx_export.BufferedForward(W, lambda W, ids, mask: md.logits(W, run_cfg, ids, mask)[:, None]).eval()
    example = torch.tensor([[2, 100, 200, 3, 300, 400, 3]])
    mask = torch.ones_like(example)
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example, mask),
            buffer,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
            opset_version=14,
        )
        logit = model(example, mask)[0, 0].item()
    path = os.path.join(dst, "onnx", "model.onnx")
    onnx.save(onnx.load_from_string(buffer.getvalue()), path)
    onnx_export.quantize_dynamic(path, os.path.join(dst, "onnx", "model_quantized.onnx"))
    mf.write_json(os.path.join(dst, "onnx", "check.json"), {"ids": example[0].tolist(), "logit": logit})
    print(f"{dst}: DebertaV2ForSequenceClassification, 12 x 384; onnx/model.onnx {os.path.getsize(path):,} bytes")


if __name__ == "__main__":
    main()
