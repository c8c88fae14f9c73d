"""What bench/onnx_jina.py and bench/onnx_modernbert.py share: an oracle's forward over seeded weights, traced by
torch.onnx in float32, checked in numpy against the same forward in float64, and written as a Hugging Face folder
with the bundled tokenizer and both ONNX exports transformers.js reads (f32 and its q8). Not run by itself."""

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
import make_onnx as mo  # noqa: E402
from onnx_export import OPSET, BufferedForward, quantize_dynamic  # noqa: E402

BUNDLED = os.path.join(REPO, "public", "models", "m3-mini")
VOCAB = 32032  # the bundled tokenizer's ids: 32,000 pieces and its 32 prompt tokens


def write_traced_folder(folder, cfg, weights, forward, ids, mask):
    """weights: [(name, array)], written as F32 safetensors; forward(W, ids, mask): the last hidden state [B, S, H]
    over W (name -> tensor, all of one dtype, which the forward computes in). The float32 forward is traced at
    ids[:1, :7]; the graph, evaluated in numpy on the whole right-padded (ids, mask), must match the float64 forward
    on the real tokens. Then folder (emptied first) gets config.json (cfg), model.safetensors, the bundled tokenizer
    and its manifest's tokenizer config, onnx/model.onnx and onnx/model_quantized.onnx. Returns the largest
    difference."""
    W64 = {n: torch.from_numpy(np.asarray(a, np.float64)) for n, a in weights}
    W32 = {n: t.float() for n, t in W64.items()}
    model = BufferedForward(W32, forward).eval()
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
        want = forward(W64, ids, mask).numpy()
    graph = onnx.load_from_string(buffer.getvalue())
    got = mo.run_numpy(graph, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    real = mask.numpy().astype(bool)
    err = np.abs(got[real] - want[real]).max()
    assert err < 1e-3, f"the traced float32 graph is {err} off the float64 forward"

    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(os.path.join(folder, "onnx"))
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    shutil.copyfile(os.path.join(BUNDLED, "tokenizer.json"), os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(BUNDLED, "manifest.json")) as f:
        mf.write_json(os.path.join(folder, "tokenizer_config.json"), json.load(f)["tokenizer"].get("config", {}))
    mf.write_safetensors(
        os.path.join(folder, "model.safetensors"), [(n, np.asarray(a, np.float32)) for n, a in weights], {"format": "pt"}
    )
    path = os.path.join(folder, "onnx", "model.onnx")
    onnx.save(graph, path)
    quantize_dynamic(path, os.path.join(folder, "onnx", "model_quantized.onnx"))
    return err
