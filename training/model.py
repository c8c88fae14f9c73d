"""A BERT encoder with Hugging Face `BertModel` parameter names and semantics (post-norm, exact
GELU, absolute positions), so the exported weights run unchanged in m3web and transformers.js."""

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from read_pack import read_pack


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn, dropout):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.ffn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias):
        b, t, h = x.shape
        d = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attn_norm(x + self.drop(self.attn_out(ctx)))
        return self.ffn_norm(x + self.drop(self.ffn_out(F.gelu(self.ffn_in(x)))))


class Encoder(nn.Module):
    def __init__(self, vocab, hidden=256, layers=6, heads=4, ffn=1024, max_pos=512, dropout=0.05):
        super().__init__()
        self.config = dict(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=ffn,
                           max_position_embeddings=max_pos)
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(Layer(hidden, heads, ffn, dropout) for _ in range(layers))
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)

    def forward(self, ids, mask, exits):
        """Mean-pooled embeddings after each layer count in `exits` (1-based), as {layers: [B, H]}."""
        t = ids.shape[1]
        x = self.word(ids) + self.pos.weight[:t] + self.token_type.weight[0]
        x = self.drop(self.emb_norm(x))
        bias = (1.0 - mask[:, None, None, :].float()) * -1e4
        m = mask[..., None].float()
        out = {}
        for i, layer in enumerate(self.layers[: max(exits)]):
            x = layer(x, bias)
            if i + 1 in exits:
                out[i + 1] = (x * m).sum(1) / m.sum(1)
        return out

    def hf_params(self):
        """(Hugging Face BertModel name, parameter) pairs."""
        yield "embeddings.word_embeddings.weight", self.word.weight
        yield "embeddings.position_embeddings.weight", self.pos.weight
        yield "embeddings.token_type_embeddings.weight", self.token_type.weight
        yield "embeddings.LayerNorm.weight", self.emb_norm.weight
        yield "embeddings.LayerNorm.bias", self.emb_norm.bias
        names = {"query": "attention.self.query", "key": "attention.self.key",
                 "value": "attention.self.value", "attn_out": "attention.output.dense",
                 "attn_norm": "attention.output.LayerNorm", "ffn_in": "intermediate.dense",
                 "ffn_out": "output.dense", "ffn_norm": "output.LayerNorm"}
        for i, layer in enumerate(self.layers):
            for ours, theirs in names.items():
                mod = getattr(layer, ours)
                yield f"encoder.layer.{i}.{theirs}.weight", mod.weight
                yield f"encoder.layer.{i}.{theirs}.bias", mod.bias

    def hf_state_dict(self):
        """Parameters under Hugging Face BertModel names."""
        return {name: p.detach().contiguous() for name, p in self.hf_params()}

    def load_hf_state_dict(self, tensors):
        """Copies tensors named as in a Hugging Face BertModel checkpoint into this model."""
        with torch.no_grad():
            for name, p in self.hf_params():
                if name not in tensors:
                    raise KeyError(f"checkpoint has no tensor {name}")
                p.copy_(tensors[name].reshape(p.shape))


def read_safetensors(path):
    """{name: tensor} of an f32 safetensors file."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {t['dtype']}, only F32 is read")
        lo, hi = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[lo:hi], dtype="<f4").copy()).reshape(t["shape"])
    return out


def read_init(folder, vocab):
    """{Hugging Face name: f32 tensor} of a Hugging Face BERT folder or of an m3web pack folder
    (read_pack.py), the word table cut to the first `vocab` rows."""
    if os.path.exists(os.path.join(folder, "manifest.json")):
        return read_pack(folder, vocab)
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    weights["embeddings.word_embeddings.weight"] = weights["embeddings.word_embeddings.weight"][:vocab]
    return weights


def load_checkpoint(path):
    """The Encoder of a train.py checkpoint, in eval mode, and the checkpoint itself."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    enc = Encoder(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                  cfg["intermediate_size"], cfg["max_position_embeddings"], dropout=0.0)
    enc.load_state_dict(ck["model"])
    enc.eval()
    return enc, ck
