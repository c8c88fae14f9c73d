"""ONNX exports of a BERT encoder in the layout transformers.js loads (onnx/ beside config.json).

  onnx/model.onnx            f32, BertModel's signature, output last_hidden_state
  onnx/model_quantized.onnx  what transformers.js calls dtype 'q8': weights int8, activations
                             quantised at run time (DynamicQuantizeLinear + MatMulInteger), the
                             graph onnxruntime's quantize_dynamic writes (that tool is on PyPI,
                             not in Debian, so the rewrite is done here with python3-onnx)

As a script it exports a Hugging Face BERT folder (config.json + model.safetensors):

  /usr/bin/python3 training/onnx_export.py DIR      # Debian python3-torch and python3-onnx
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

from model import Encoder

OPSET = 14


class LastHidden(torch.nn.Module):
    """BertModel's forward signature and first output, for ONNX consumers."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, input_ids, attention_mask, token_type_ids):
        e = self.enc
        t = input_ids.shape[1]
        x = e.word(input_ids) + e.pos.weight[:t] + e.token_type(token_type_ids)
        x = e.emb_norm(x)
        bias = (1.0 - attention_mask[:, None, None, :].float()) * -1e4
        for layer in e.layers:
            x = layer(x, bias)
        return x


class BufferedForward(torch.nn.Module):
    """fn(W, *inputs) over the tensors W held as buffers, so that torch.onnx stores them as
    initializers (quantize_dynamic rewrites MatMuls by initializers; constants traced from plain
    tensors would be nodes): an oracle's forward, written over a dict of weights, as an ONNX graph."""

    def __init__(self, W, fn):
        super().__init__()
        self.names = list(W)
        for i, n in enumerate(self.names):
            self.register_buffer(f"w{i}", W[n])
        self.fn = fn

    def forward(self, *inputs):
        return self.fn({n: getattr(self, f"w{i}") for i, n in enumerate(self.names)}, *inputs)


def export_onnx(enc, onnx_dir):
    """Writes model.onnx, model_quantized.onnx and check.npy (the f32 output for a fixed input)."""
    os.makedirs(onnx_dir, exist_ok=True)
    enc.eval()
    ids = torch.tensor([[2, 100, 200, 3], [2, 300, 3, 0]])
    mask = (ids != 0).long()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path = os.path.join(onnx_dir, "model.onnx")
    torch.onnx.export(LastHidden(enc), (ids, mask, torch.zeros_like(ids)), path,
                      input_names=names, output_names=["last_hidden_state"],
                      dynamic_axes={n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]},
                      opset_version=OPSET)
    with torch.no_grad():
        ref = LastHidden(enc)(ids, mask, torch.zeros_like(ids)).numpy()
    np.save(os.path.join(onnx_dir, "check.npy"), ref)
    quantize_dynamic(path, os.path.join(onnx_dir, "model_quantized.onnx"))


def quantize_dynamic(src, dst):
    """Rewrites every MatMul by a constant matrix as int8 weights (symmetric, one scale per output
    column) times activations quantised per call, and the word table Gather as an int8 table
    (one scale) dequantised after the lookup."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, added, replaced = [], [], set()
    # One int8 copy per weight, however many MatMuls take it (DeBERTa projects tokens and relative rows alike).
    quantized = {}

    def const(name, array):
        added.append(numpy_helper.from_array(array, name))
        return name

    for node in graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        if weight is not None and len(weight.dims) == 2:
            base = weight.name
            if base not in quantized:
                w = numpy_helper.to_array(weight)
                scale = np.abs(w).max(axis=0) / 127.0
                scale[scale == 0] = 1.0
                quantized[base] = (
                    const(f"{base}_q", np.clip(np.round(w / scale), -127, 127).astype(np.int8)),
                    const(f"{base}_zp", np.zeros(w.shape[1], np.int8)),
                    const(f"{base}_scale", scale.astype(np.float32)),
                )
            wq, wz, ws = quantized[base]
            out = node.output[0]
            nodes += [
                helper.make_node("DynamicQuantizeLinear", [node.input[0]], [f"{out}_xq", f"{out}_xs", f"{out}_xz"]),
                helper.make_node("MatMulInteger", [f"{out}_xq", wq, f"{out}_xz", wz], [f"{out}_i32"]),
                helper.make_node("Cast", [f"{out}_i32"], [f"{out}_f"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [f"{out}_xs", ws], [f"{out}_s"]),
                helper.make_node("Mul", [f"{out}_f", f"{out}_s"], [out]),
            ]
            replaced.add(weight.name)
        elif table is not None and len(table.dims) == 2 and table.dims[0] > 1024:
            w = numpy_helper.to_array(table)
            scale = float(np.abs(w).max()) / 127.0 or 1.0
            base = table.name
            tq = const(f"{base}_q", np.clip(np.round(w / scale), -127, 127).astype(np.int8))
            out = node.output[0]
            nodes += [
                helper.make_node("Gather", [tq, node.input[1]], [f"{out}_q"], axis=0),
                helper.make_node("DequantizeLinear", [f"{out}_q", const(f"{base}_scale", np.float32(scale)),
                                                      const(f"{base}_zp", np.int8(0))], [out]),
            ]
            replaced.add(table.name)
        else:
            nodes.append(node)
    still_used = {i for n in nodes for i in n.input}
    kept = [t for t in graph.initializer if t.name not in replaced or t.name in still_used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "F16": np.float16}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}; expected F32 or F16")
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32))
    return out


def encoder_from_hf(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "bert":
        raise ValueError(f"{folder}: model_type {cfg.get('model_type')!r}; this exporter writes BERT graphs")
    enc = Encoder(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                  cfg["intermediate_size"], cfg["max_position_embeddings"], dropout=0.0)
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    prefix = next(n[: -len("embeddings.word_embeddings.weight")] for n in tensors
                  if n.endswith("embeddings.word_embeddings.weight"))
    enc.load_hf_state_dict({n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)})
    return enc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="Hugging Face BERT folder; writes FOLDER/onnx/")
    args = ap.parse_args()
    torch.manual_seed(0)
    export_onnx(encoder_from_hf(args.folder), os.path.join(args.folder, "onnx"))
    print("wrote", os.path.join(args.folder, "onnx"), file=sys.stderr)


if __name__ == "__main__":
    main()
