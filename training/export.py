"""Exports a training checkpoint as a Hugging Face folder and an ONNX model.

  OUT/config.json, model.safetensors, tokenizer.json, tokenizer_config.json
    (model.safetensors also holds projection.{exit}.weight where train_head.py wrote the run's
    projection.pt: m3web convert puts them in the pack; other loaders ignore them)
  OUT/modules.json, 1_Pooling/config.json   (sentence-transformers layout: mean pooling)
  OUT/config_sentence_transformers.json      (query / passage prompts: the prompt tokens of a
                                             --prompt-tokens run, or the text prefixes of a run that
                                             trained the whole model on retrieval pairs)
  OUT/onnx/model.onnx, model_quantized.onnx  (transformers.js layout, see onnx_export.py)
"""

import argparse
import json
import os
import shutil
import struct

import torch

from encode_corpus import PREFIXES
from model import load_checkpoint
from onnx_export import export_onnx

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        arr = tensors[name].float().numpy().astype("<f4")
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def run_tokenizer_dir(run):
    """A run started from a Hugging Face folder (--init-hf) keeps that folder's tokenizer;
    a run from scratch has the one train_tokenizer.py wrote."""
    with open(os.path.join(WORK, "runs", run, "args.json")) as f:
        init_hf = json.load(f).get("init_hf")
    # train.py runs from training/, so a relative --init-hf is relative to it.
    return os.path.join(HERE, init_hf) if init_hf else os.path.join(WORK, "hf")


def trained_retrieval(run):
    with open(os.path.join(WORK, "runs", run, "args.json")) as f:
        return json.load(f).get("ret_batch", 0) > 0


def add_prompt_tokens(tokenizer, vocab_size, counts):
    """Names the last embedding rows (train.py --prompt-tokens Q,P) as added tokens `[Q00]`.. and
    `[P00]`.., and returns the prompts that put them before queries and passages."""
    kq, kp = counts
    if not kq + kp:
        return None
    names = {"query": [f"[Q{i:02d}]" for i in range(kq)], "passage": [f"[P{i:02d}]" for i in range(kp)]}
    first = vocab_size - kq - kp
    for i, content in enumerate(names["query"] + names["passage"]):
        tokenizer["added_tokens"].append({"id": first + i, "content": content, "single_word": False, "lstrip": False,
                                          "rstrip": False, "normalized": False, "special": True})
    return {kind: "".join(tokens) for kind, tokens in names.items() if tokens}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="run1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="m3-mini")
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--tokenizer-dir", help="where tokenizer.json and tokenizer_config.json come from "
                    "(default: the run's --init-hf folder, or work/hf for a run from scratch)")
    args = ap.parse_args()
    enc, ck = load_checkpoint(os.path.join(WORK, "runs", args.run, "ckpt.pt"))
    cfg = ck["config"]
    os.makedirs(args.out, exist_ok=True)
    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
              "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
              "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
              "initializer_range": 0.02, "position_embedding_type": "absolute",
              "torch_dtype": "float32", "_name_or_path": args.name, **cfg}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    tensors = enc.hf_state_dict()
    projection = os.path.join(WORK, "runs", args.run, "projection.pt")
    if os.path.exists(projection):
        tensors.update(torch.load(projection))
    write_safetensors(os.path.join(args.out, "model.safetensors"), tensors, {"format": "pt", "step": str(ck["step"])})
    tokenizer_dir = args.tokenizer_dir or run_tokenizer_dir(args.run)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(args.out, name))
    with open(os.path.join(tokenizer_dir, "tokenizer.json")) as f:
        tokenizer = json.load(f)
    prompts = add_prompt_tokens(tokenizer, cfg["vocab_size"], ck.get("prompt_tokens", (0, 0)))
    if prompts:
        # Rewritten only with prompt tokens: otherwise the shipped tokenizer's bytes (and SHA) stay.
        with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
            json.dump(tokenizer, f, ensure_ascii=False)
    elif trained_retrieval(args.run):
        # The whole model learned queries and passages behind the plain-text prefixes.
        prompts = PREFIXES
    if prompts:
        with open(os.path.join(args.out, "config_sentence_transformers.json"), "w") as f:
            json.dump({"prompts": prompts, "default_prompt_name": None}, f, indent=1)
    with open(os.path.join(args.out, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}],
                  f, indent=1)
    os.makedirs(os.path.join(args.out, "1_Pooling"), exist_ok=True)
    with open(os.path.join(args.out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": cfg["hidden_size"], "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False}, f, indent=1)
    if not args.no_onnx:
        export_onnx(enc, os.path.join(args.out, "onnx"))
    print("exported step", ck["step"], "to", args.out)


if __name__ == "__main__":
    main()
