#!/usr/bin/env python3
"""A random-weight MPNet as a Hugging Face folder with its ONNX exports, for the transformers.js comparison.

Writes into DIR (emptied first):
  config.json, model.safetensors  model_type "mpnet" (all-mpnet-base-v2's fields), F32 weights under MPNetModel's
                                  names (pooler.dense included, as the published checkpoints hold it), seeded
  tokenizer.json, tokenizer_config.json
                                  the bundled m3-mini's (public/models/m3-mini), as bench/hf-folder.ts writes them,
                                  with the ids of [PAD] and [UNK] swapped (below)
  onnx/model.onnx                 f32, inputs input_ids + attention_mask (dynamic batch / sequence), output
                                  last_hidden_state, opset 14: torch.onnx.export of test/oracle/make_onnx.py's
                                  MPNetModel, as Optimum exports MPNet for transformers.js
  onnx/model_quantized.onnx       transformers.js dtype 'q8': training/onnx_export.py's quantize_dynamic

The graph computes what transformers' MPNetModel does: positions cumsum(ids != 1) * (ids != 1) + 1 (padding_idx 1,
hard-coded in modeling_mpnet.py), and the relative bias of bucket(j - i) (32 buckets, max distance 128) in every
layer. Every MPNet tokenizer has <pad> = 1, so real tokens get positions 2, 3, ... (m3web's index + 2). m3-mini's
has [PAD] = 0 and [UNK] = 1, and [UNK] does occur in the bench texts (4 of the 128 tokens of each long text: 鉄, 雑,
春, 樱), where transformers' positions would skip it: the long text's pooled vector moves to cosine 0.998 from the
index + 2 one. So this folder's tokenizer swaps the two ids ([UNK] = 0, [PAD] = 1: MPNet's layout) and config.json
says pad_token_id 1; the text is split exactly as bert-12x384's tokenizer splits it, and no text can hold id 1.
Before anything is written the f32 graph, evaluated in numpy (make_onnx.run_numpy), must match the torch module for
one text and a right-padded batch.

    /usr/bin/python3 bench/onnx_mpnet.py DIR [--layers 12] [--hidden 384] [--heads 12] [--ffn 1536] [--seed 1]
"""

import argparse
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
from onnx_export import OPSET, quantize_dynamic  # noqa: E402

BUNDLED = os.path.join(REPO, "public", "models", "m3-mini")
# The bundled tokenizer's ids: 32000 pieces and 32 prompt tokens above them ([Q00].. [P15], 32000-32031), so 32032
# rows, as m3-mini's own vocab_size: m3web refuses a tokenizer with ids past vocab_size.
VOCAB, PIECES = 32032, 32000
PAD, UNK = 1, 0  # m3-mini's [PAD] = 0 and [UNK] = 1, swapped: MPNet's position ids skip id 1 (its <pad>)
CLS, SEP = 2, 3

# Standard deviations, as test/support/random.ts randomBert draws the bert-12x384 bench model: linear weights
# 1 / sqrt(fan-in) with biases 0.1, LayerNorm weights 1 + 0.1 N and biases 0.1 N, word rows 0.5, position rows 0.2.
# The relative bias table: 1 per bucket and head, the order of the content logits at these scales. With it each
# of the mistakes pooled() can make (positions off by one, bucket(i - j), no bias) puts the pooled vector of a
# 128-token text at cosine 0.995-0.998 from the right one (printed at every export; with 0.5, dropping the bias
# gave 0.9994), so the bench's cosine column would show it even against the q8 threshold 0.999.
WORD, POSITION, BIAS, REL = 0.5, 0.2, 0.1, 1.0


def config(layers, hidden, heads, ffn):
    assert hidden % heads == 0
    return {
        "architectures": ["MPNetModel"],
        "model_type": "mpnet",
        "vocab_size": VOCAB,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 514,
        "relative_attention_num_buckets": 32,
        "layer_norm_eps": 1e-5,
        "initializer_range": 0.02,
        "pad_token_id": PAD,
        "bos_token_id": CLS,
        "eos_token_id": SEP,
        "torch_dtype": "float32",
    }


def random_weights(cfg, seed):
    """{MPNetModel parameter name: float32 array}, in the module's own order."""
    rs = np.random.RandomState(seed)
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    out = {}

    def normal(name, shape, std, centre=0.0):
        out[name] = (centre + rs.standard_normal(shape) * std).astype(np.float32)

    def linear(name, rows, cols):
        normal(f"{name}.weight", (rows, cols), 1.0 / np.sqrt(cols))
        normal(f"{name}.bias", (rows,), BIAS)

    def norm(name):
        normal(f"{name}.weight", (H,), 0.1, 1.0)
        normal(f"{name}.bias", (H,), 0.1)

    normal("embeddings.word_embeddings.weight", (cfg["vocab_size"], H), WORD)
    normal("embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], H), POSITION)
    norm("embeddings.LayerNorm")
    for l in range(L):
        at = f"encoder.layer.{l}"
        for p in ("q", "k", "v", "o"):
            linear(f"{at}.attention.attn.{p}", H, H)
        norm(f"{at}.attention.LayerNorm")
        linear(f"{at}.intermediate.dense", I, H)
        linear(f"{at}.output.dense", H, I)
        norm(f"{at}.output.LayerNorm")
    normal("encoder.relative_attention_bias.weight", (cfg["relative_attention_num_buckets"], cfg["num_attention_heads"]),
           REL)
    linear("pooler.dense", H, H)
    return out


def mpnet_tokenizer(tokenizer):
    """The bundled tokenizer.json with [PAD] and [UNK] trading ids (0 <-> 1), everything else as it is."""
    swap = {0: 1, 1: 0}
    model = tokenizer["model"]
    assert model["type"] == "Unigram" and model["unk_id"] == 1, model["type"]
    assert [v[0] for v in model["vocab"][:2]] == ["[PAD]", "[UNK]"]
    model["vocab"][0], model["vocab"][1] = model["vocab"][1], model["vocab"][0]
    model["unk_id"] = UNK
    for t in tokenizer["added_tokens"]:
        t["id"] = swap.get(t["id"], t["id"])
    assert {t["content"]: t["id"] for t in tokenizer["added_tokens"] if t["id"] < 2} == {"[UNK]": UNK, "[PAD]": PAD}
    for special in tokenizer["post_processor"]["special_tokens"].values():
        special["ids"] = [swap.get(i, i) for i in special["ids"]]
    assert tokenizer["padding"] is None and tokenizer["truncation"] is None
    return tokenizer


def text_ids(n, rs):
    """[CLS] + n - 2 random ids from the base vocabulary, none of them a special ([UNK] included) + [SEP]."""
    return [CLS, *rs.randint(5, PIECES, n - 2).tolist(), SEP]


def padded(rows):
    S = max(map(len, rows))
    ids = np.full((len(rows), S), PAD, dtype=np.int64)
    mask = np.zeros_like(ids)
    for k, x in enumerate(rows):
        ids[k, : len(x)] = x
        mask[k, : len(x)] = 1
    return ids, mask


def check_graph(proto, model, rows):
    """The f32 graph in numpy against the torch module, for each text alone and for the texts right-padded."""
    worst = 0.0
    with torch.no_grad():
        for ids, mask in [padded([x]) for x in rows] + [padded(rows)]:
            got = mo.run_numpy(proto, {"input_ids": ids, "attention_mask": mask})
            want = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
            for k in range(len(ids)):
                n = int(mask[k].sum())
                worst = max(worst, float(np.abs(got[k, :n] - want[k, :n]).max()))
    assert worst < 1e-4, ("ONNX graph (numpy) vs torch module", worst)
    return worst


def pooled(model, ids, **change):
    """Mean-pooled, normalised vector of one text, with a deliberate mistake when asked (the bench's cosine column
    must see each): positions from index + 1 or + 3, the bucket of i - j instead of j - i, no relative bias."""
    enc = model.encoder
    with torch.no_grad():
        t = torch.tensor([ids])
        emb = model.embeddings
        pos = torch.arange(len(ids))[None, :] + 2 + change.get("shift", 0)
        x = emb.LayerNorm(emb.word_embeddings(t) + emb.position_embeddings(pos))
        S = len(ids)
        rel = torch.arange(S)[None, :] - torch.arange(S)[:, None]  # j - i
        if change.get("flip"):
            rel = -rel
        bias = enc.relative_attention_bias(enc.relative_position_bucket(rel)).permute(2, 0, 1).unsqueeze(0)
        if change.get("no_bias"):
            bias = torch.zeros_like(bias)
        mask = torch.zeros((1, 1, 1, S))
        for layer in enc.layer:
            x = layer(x, mask, bias)
        v = x[0].mean(0)
        return (v / v.norm()).numpy().astype(np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=1536)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = config(args.layers, args.hidden, args.heads, args.ffn)
    weights = random_weights(cfg, args.seed)
    model = mo.MPNetModel(cfg)
    model.load_state_dict({n: torch.from_numpy(a) for n, a in weights.items()}, strict=True)
    model.eval()

    rs = np.random.RandomState(args.seed + 1)
    rows = [text_ids(40, rs), text_ids(23, rs)]
    # The same positions as m3web's index + 2 for texts without id 1.
    ids, _ = padded(rows[:1])
    assert mo.create_position_ids_from_input_ids(torch.from_numpy(ids), 1).tolist()[0] == list(range(2, 42))

    proto = mo.export(model, rows, PAD)
    assert [i.name for i in proto.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in proto.graph.output] == ["last_hidden_state"]
    assert [(o.domain or "ai.onnx", o.version) for o in proto.opset_import] == [("ai.onnx", OPSET)]
    mo.check_weights("mpnet", proto, {n: torch.from_numpy(a) for n, a in weights.items()})
    worst = check_graph(proto, model, rows)
    print(f"onnx/model.onnx in numpy vs the torch module (40 and 23 tokens, alone and right-padded): max abs diff "
          f"{worst:.2e}", file=sys.stderr)

    long = text_ids(128, rs)
    ref = pooled(model, long)
    with torch.no_grad():
        t = torch.tensor([long])
        v = model(t, torch.ones_like(t))[0].mean(0)
        assert float(np.dot(ref, (v / v.norm()).numpy())) > 0.999999, "pooled() differs from the module's forward"
    cos = lambda **change: float(np.dot(ref, pooled(model, long, **change)))  # noqa: E731
    print("128-token text, cosine of the pooled vector against a forward with: positions from index + 1 "
          f"{cos(shift=-1):.4f}, from index + 3 {cos(shift=1):.4f}; bucket(i - j) {cos(flip=True):.4f}; "
          f"no relative bias {cos(no_bias=True):.4f}", file=sys.stderr)

    folder = args.folder
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(os.path.join(folder, "onnx"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=1) + "\n")
    mf.write_safetensors(os.path.join(folder, "model.safetensors"), list(weights.items()), {"format": "pt"})
    with open(os.path.join(BUNDLED, "manifest.json")) as f:
        tok_config = json.load(f)["tokenizer"].get("config", {})
    with open(os.path.join(BUNDLED, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer = mpnet_tokenizer(json.load(f))
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        f.write(json.dumps(tok_config, indent=1) + "\n")
    path = os.path.join(folder, "onnx", "model.onnx")
    onnx.save(proto, path)
    quantize_dynamic(path, os.path.join(folder, "onnx", "model_quantized.onnx"))
    print("wrote", folder, file=sys.stderr)


if __name__ == "__main__":
    main()
