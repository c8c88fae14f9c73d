#!/usr/bin/env python3
"""Random weights and ONNX exports of a Qwen3 / Gemma 3 text embedder, for the transformers.js comparison.

Given a folder holding config.json (model_type qwen3 or gemma3_text), writes into it:
  model.safetensors          random F32 weights (seeded), transformers names without a "model." prefix
  onnx/model.onnx            f32 graph, inputs input_ids + attention_mask, output last_hidden_state
  onnx/model_quantized.onnx  transformers.js dtype 'q8': MatMulInteger over int8 weights (training/onnx_export.py)
  onnx/model_q4.onnx         transformers.js dtype 'q4': MatMulNBits (4 bits, blocks of 32 along K, no zero
                             points, i.e. nibble n stands for (n - 8) * scale: m3web's own q4 scheme)
The graph is test/oracle/make_decoder_embedders.py's forward (written from transformers' definitions), traced
in float32 with float32 RoPE angles and a finite mask value; positions come from the attention mask inside
the graph, so left and right padding give the same states.

    /usr/bin/python3 bench/onnx_decoder.py DIR [--seed N]      # Debian python3-torch and python3-onnx
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "oracle"))
sys.path.insert(0, os.path.join(HERE, "..", "training"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import make_decoder_embedders as mde  # noqa: E402
import make_fixtures as mf  # noqa: E402
from onnx_export import OPSET, quantize_dynamic  # noqa: E402

Q4_BLOCK = 32


class LastHidden(torch.nn.Module):
    def __init__(self, weights, cfg, gemma):
        super().__init__()
        self.names = list(weights)
        for i, n in enumerate(self.names):
            self.register_buffer(f"w{i}", weights[n])
        self.cfg, self.gemma = cfg, gemma

    def forward(self, input_ids, attention_mask):
        W = {n: getattr(self, f"w{i}") for i, n in enumerate(self.names)}
        return mde.forward(W, self.cfg, input_ids, attention_mask, self.gemma, export=True)[-1]


def random_weights(cfg, gemma, seed):
    """Uniform draws with std 1/sqrt(fan-in) (norms near their identity): finite activations at any depth."""
    rs = np.random.RandomState(seed)
    out = {}
    for name, a in mde.make_weights({**cfg, "num_hidden_layers": 0}, seed, gemma) + layer_shapes(cfg, gemma):
        shape = a.shape
        std = 0.1 if len(shape) == 1 else 1.0 / np.sqrt(shape[1])
        centre = (0.0 if gemma else 1.0) if name.endswith("norm.weight") else 0.0
        out[name] = (centre + rs.uniform(-1, 1, shape) * std * np.sqrt(3)).astype(np.float32)
    return out


def layer_shapes(cfg, gemma):
    """make_weights' names and shapes for every layer, without drawing its normal values at full size."""
    one = mde.make_weights({**cfg, "num_hidden_layers": 1, "vocab_size": 1}, 0, gemma)
    return [(n.replace("layers.0.", f"layers.{l}."), np.empty(a.shape, np.float32))
            for l in range(cfg["num_hidden_layers"]) for n, a in one if n.startswith("layers.0.")]


def quantize_q4(src, dst):
    """Every MatMul by a constant [K, N] matrix becomes MatMulNBits over its transpose, 4 bits per weight."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, added, replaced = [], [], set()
    for node in graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weight).T  # [N, K]
        n, k = w.shape
        blocks = -(-k // Q4_BLOCK)
        padded = np.zeros((n, blocks * Q4_BLOCK), np.float32)
        padded[:, :k] = w
        groups = padded.reshape(n, blocks, Q4_BLOCK)
        scale = np.abs(groups).max(axis=2) / 7.0
        scale[scale == 0] = 1.0
        q = (np.clip(np.round(groups / scale[..., None]), -8, 7) + 8).astype(np.uint8)
        packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)  # low nibble first
        base = weight.name
        added += [numpy_helper.from_array(packed, f"{base}_q4"), numpy_helper.from_array(scale.reshape(-1).astype(np.float32), f"{base}_q4s")]
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], f"{base}_q4", f"{base}_q4s"], [node.output[0]],
                                      domain="com.microsoft", K=k, N=n, bits=4, block_size=Q4_BLOCK))
        replaced.add(weight.name)
    still_used = {i for nd in nodes for i in nd.input}
    kept = [t for t in graph.initializer if t.name not in replaced or t.name in still_used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with open(os.path.join(args.folder, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    gemma = cfg["model_type"] == "gemma3_text"
    weights = random_weights(cfg, gemma, args.seed)
    mf.write_safetensors(os.path.join(args.folder, "model.safetensors"), list(weights.items()), {"format": "pt"})
    onnx_dir = os.path.join(args.folder, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    path = os.path.join(onnx_dir, "model.onnx")
    module = LastHidden({n: torch.from_numpy(a) for n, a in weights.items()}, cfg, gemma).eval()
    ids = torch.tensor([[5, 100, 200, 6], [5, 300, 6, 0]])
    mask = (ids != 0).long()
    names = ["input_ids", "attention_mask"]
    with torch.no_grad():
        torch.onnx.export(module, (ids, mask), path, input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]},
                          opset_version=OPSET)
        np.save(os.path.join(onnx_dir, "check.npy"), module(ids, mask).numpy())
    quantize_dynamic(path, os.path.join(onnx_dir, "model_quantized.onnx"))
    quantize_q4(path, os.path.join(onnx_dir, "model_q4.onnx"))
    print("wrote", args.folder, file=sys.stderr)


if __name__ == "__main__":
    main()
