"""Slim checkpoints: a run small enough to come back from a machine lent for a fixed time (files of
at most 16 MiB), and back into a checkpoint that export.py reads.

  slim.py pack --run RUN --out DIR      DIR/RUN-word.pt: the word table as q8 rows (what the pack
                                        stores anyway; --exact: f16, for a run that resumes);
                                        DIR/RUN-rest.pt: every other weight in f16, the projection,
                                        the random states, args.json and the log
  slim.py unpack --run RUN --from DIR   work/runs/RUN/ckpt.pt (no optimiser state), projection.pt,
                                        args.json and log.jsonl again; what a --freeze-layers run
                                        kept is read from its --init-hf folder, bit for bit; train.py
                                        resumes from it with a fresh optimiser
"""

import argparse
import json
import os

import torch

from model import Encoder, read_init
from train import HERE, WORK

WORD = "word.weight"


def pack(run, out, exact=False):
    run_dir = os.path.join(WORK, "runs", run)
    ck = torch.load(os.path.join(run_dir, "ckpt.pt"), map_location="cpu", weights_only=False)
    state = ck["model"]
    word = state[WORD].float()
    scales = (word.abs().amax(1) / 127).clamp(min=1e-12)
    projection = os.path.join(run_dir, "projection.pt")
    with open(os.path.join(run_dir, "args.json")) as f:
        args = json.load(f)
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        log = f.read()
    os.makedirs(out, exist_ok=True)
    torch.save({"f16": word.half()} if exact else {"q": torch.round(word / scales[:, None]).to(torch.int8), "scales": scales},
               os.path.join(out, f"{run}-word.pt"))
    torch.save({"model": {k: v.half() for k, v in state.items() if k != WORD},
                "projection": torch.load(projection, weights_only=False) if os.path.exists(projection) else None,
                **{k: ck[k] for k in ("step", "elapsed", "config", "prompt_tokens", "rng", "torch_rng")},
                "args": args, "log": log}, os.path.join(out, f"{run}-rest.pt"))


def with_frozen_restored(state, cfg, args):
    """What a --freeze-layers run kept as loaded, read again from its --init-hf folder: the slim
    file's f16 would change those bits, and they must stay the loaded model's exactly."""
    enc = Encoder(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                  cfg["intermediate_size"], cfg["max_position_embeddings"], dropout=0.0)
    enc.load_state_dict(state)
    init = read_init(os.path.join(HERE, args["init_hf"]), cfg["vocab_size"])
    frozen = ("embeddings.",) + tuple(f"encoder.layer.{i}." for i in range(args["freeze_layers"]))
    with torch.no_grad():
        for name, p in enc.hf_params():
            if name.startswith(frozen):
                p.copy_(init[name])
    return enc.state_dict()


def unpack(run, src):
    rest = torch.load(os.path.join(src, f"{run}-rest.pt"), weights_only=False)
    word = torch.load(os.path.join(src, f"{run}-word.pt"), weights_only=False)
    run_dir = os.path.join(WORK, "runs", run)
    os.makedirs(run_dir, exist_ok=True)
    model = {k: v.float() for k, v in rest["model"].items()}
    model[WORD] = word["f16"].float() if "f16" in word else word["q"].float() * word["scales"][:, None]
    if rest["args"].get("freeze_layers"):
        model = with_frozen_restored(model, rest["config"], rest["args"])
    keep = ("step", "elapsed", "config", "prompt_tokens", "rng", "torch_rng")
    torch.save({"model": model, **{k: rest[k] for k in keep if k in rest}},
               os.path.join(run_dir, "ckpt.pt"))
    if rest["projection"] is not None:
        torch.save(rest["projection"], os.path.join(run_dir, "projection.pt"))
    with open(os.path.join(run_dir, "args.json"), "w") as f:
        json.dump(rest["args"], f, indent=1)
    with open(os.path.join(run_dir, "log.jsonl"), "w") as f:
        f.write(rest["log"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verb", choices=["pack", "unpack"])
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", help="pack: the folder to write")
    ap.add_argument("--from", dest="src", help="unpack: the folder pack wrote")
    ap.add_argument("--exact", action="store_true",
                    help="pack: the word table in f16 (16.4 MB) instead of q8, for a run that will resume")
    a = ap.parse_args()
    if a.verb == "pack":
        pack(a.run, a.out, a.exact)
    else:
        unpack(a.run, a.src)


if __name__ == "__main__":
    main()
