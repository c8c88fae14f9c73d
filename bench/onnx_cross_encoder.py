#!/usr/bin/env python3
"""Turns the benchmark's random BERT folder (bench/hf-folder.ts: BertModel names, f32) into a cross-encoder in
the two forms `npm run bench -- rerank` compares: a Hugging Face BertForSequenceClassification folder (one label;
a seeded pooler and classifier added, encoder under `bert.`) for m3web, and its ONNX exports for transformers.js
(onnx/model.onnx with the one output `logits`, as Optimum's text-classification export and
Xenova/ms-marco-MiniLM-L-6-v2 have it, and onnx/model_quantized.onnx from training/onnx_export.py's
quantize_dynamic). The module is test/oracle/make_onnx.py's BertForSequenceClassification (transformers'
attribute tree); its logits for one pair are stored in onnx/check.json.

Usage: /usr/bin/python3 bench/onnx_cross_encoder.py SRC_FOLDER DST_FOLDER   (Debian's python3-torch, python3-onnx)
"""

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "oracle"))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
import make_fixtures as mf  # noqa: E402
import make_onnx  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx_export  # noqa: E402
import torch  # noqa: E402

SEED = 7


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    H = cfg["hidden_size"]
    cfg.update(
        architectures=["BertForSequenceClassification"],
        num_labels=1,
        id2label={"0": "LABEL_0"},
        label2id={"LABEL_0": 0},
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    rs = np.random.RandomState(SEED)
    weights = [("bert." + n, a) for n, a in mf.read_safetensors(os.path.join(src, "model.safetensors")).items()]
    weights += [
        ("bert.pooler.dense.weight", rs.standard_normal((H, H)) * 0.05),
        ("bert.pooler.dense.bias", rs.standard_normal(H) * 0.05),
        ("classifier.weight", rs.standard_normal((1, H)) * 0.5),
        ("classifier.bias", rs.standard_normal(1) * 0.1),
    ]
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(os.path.join(dst, "onnx"))
    mf.write_json(os.path.join(dst, "config.json"), cfg)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
    mf.write_safetensors(os.path.join(dst, "model.safetensors"), [(n, a.astype(np.float32)) for n, a in weights], {"format": "pt"})

    model, _, _, _ = make_onnx.load_model(make_onnx.BertForSequenceClassification, dst, "")
    example = [[2, 100, 200, 3, 300, 400, 3], [2, 500, 3, 600, 3]]
    proto = make_onnx.export(model, example, cfg["pad_token_id"], "logits")
    path = os.path.join(dst, "onnx", "model.onnx")
    onnx.save(proto, path)
    onnx_export.quantize_dynamic(path, os.path.join(dst, "onnx", "model_quantized.onnx"))
    ids = torch.tensor([example[0]])
    with torch.no_grad():
        logit = model(ids, torch.ones_like(ids), torch.tensor([[0, 0, 0, 0, 1, 1, 1]]))[0, 0].item()
    mf.write_json(os.path.join(dst, "onnx", "check.json"), {"ids": example[0], "token_type_ids": [0, 0, 0, 0, 1, 1, 1], "logit": logit})
    print(f"{dst}: BertForSequenceClassification, {cfg['num_hidden_layers']} x {H}; onnx/model.onnx "
          f"{os.path.getsize(path):,} bytes, model_quantized.onnx {os.path.getsize(os.path.join(dst, 'onnx', 'model_quantized.onnx')):,} bytes")


if __name__ == "__main__":
    main()
