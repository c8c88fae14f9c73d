"""Reads an m3web BERT pack (public/models/m3-mini) as Hugging Face BertModel tensors, dequantised
to f32: the Python twin of pack_to_hf.ts, for a machine with the repository and Python where Node
may be missing (the GPU machine the long runs go to). `train.py --init-hf` takes a pack folder too.

Only what BertModel holds is returned: the pack's projection and any prompt rows past `vocab` stay
behind, so a run starts from the model exactly as the pack's plain text sees it.
"""

import json
import os

import numpy as np
import torch

_LAYER = {"attnOut": "attention.output.dense", "ffnIn": "intermediate.dense", "ffnOut": "output.dense",
          "attnNorm": "attention.output.LayerNorm", "ffnNorm": "output.LayerNorm"}
_EMB = {"position": "embeddings.position_embeddings.weight", "tokenType": "embeddings.token_type_embeddings.weight",
        "embNorm.gamma": "embeddings.LayerNorm.weight", "embNorm.beta": "embeddings.LayerNorm.bias"}


def _tensors(folder, shard):
    with open(os.path.join(folder, shard["file"]), "rb") as f:
        raw = f.read()
    out = {}
    for t in shard["tensors"]:
        dtype = {"q8": np.int8, "f16": "<f2", "f32": "<f4"}[t["dtype"]]
        arr = np.frombuffer(raw, dtype=dtype, count=int(np.prod(t["shape"])), offset=t["offset"])
        out[t["name"]] = torch.from_numpy(arr.astype(np.float32)).reshape(t["shape"])
    return out


def _dequantised(tensors, name):
    """A q8 matrix times its per-row scales (m3web's quantizeQ8 stores round(w / scale))."""
    w = tensors[f"{name}.weight"]
    scales = tensors.get(f"{name}.scales")
    return w * scales[:, None] if scales is not None else w


def read_pack(folder, vocab=None):
    """{Hugging Face name: f32 tensor} of the pack in `folder`; `vocab` keeps the first rows of the
    word table only (the base vocabulary, without prompt rows a later run appended)."""
    with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest["config"].get("model_type") != "bert":
        raise ValueError(f"{folder} is not a BERT pack")
    hidden = manifest["config"]["hidden_size"]
    out = {}
    for shard in manifest["shards"]:
        t = _tensors(folder, shard)
        if shard["kind"] == "embeddings":
            out["embeddings.word_embeddings.weight"] = _dequantised(t, "word")[:vocab]
            out.update({hf: t[ours] for ours, hf in _EMB.items()})
        elif shard["kind"] == "layers":
            i = int(shard["tensors"][0]["name"].split(".")[1])
            pre = f"encoder.layer.{i}"
            qkv, bias = _dequantised(t, f"layer.{i}.qkv"), t[f"layer.{i}.qkv.bias"]
            for j, name in enumerate(("query", "key", "value")):
                out[f"{pre}.attention.self.{name}.weight"] = qkv[j * hidden: (j + 1) * hidden]
                out[f"{pre}.attention.self.{name}.bias"] = bias[j * hidden: (j + 1) * hidden]
            for ours, hf in _LAYER.items():
                if ours.endswith("Norm"):
                    out[f"{pre}.{hf}.weight"] = t[f"layer.{i}.{ours}.gamma"]
                    out[f"{pre}.{hf}.bias"] = t[f"layer.{i}.{ours}.beta"]
                else:
                    out[f"{pre}.{hf}.weight"] = _dequantised(t, f"layer.{i}.{ours}")
                    out[f"{pre}.{hf}.bias"] = t[f"layer.{i}.{ours}.bias"]
    return out
