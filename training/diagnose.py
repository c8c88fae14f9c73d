"""Where a checkpoint's FLORES bitext accuracy goes: training sentences against dev sentences, and
how much of the dev shortfall is language offsets (hubness).

For a sample of languages, per exit and width: xx->eng and eng->xx accuracy over the 99 dev
sentences; xx->eng over the first 99 training sentences (by index_id); and xx->eng once each
language's embeddings are centred on their own mean (English on its own). An offset shared by all
of a language's sentences adds the same term to every candidate in eng->xx, but a different one to
each English candidate in xx->eng: a few English sentences then top most queries ("hubs").

  /usr/bin/python3 training/diagnose.py --run run4 --sample 60
"""

import argparse
import os
import random

import torch
import torch.nn.functional as F

from encode_corpus import ROOT, encode_groups, read_flores_tsv
from model import load_checkpoint
from prepare_data import SHARED
from train import WORK, embed

NAMED = ["rus_Cyrl", "jpn_Jpan", "deu_Latn", "cat_Latn"]


def load_flores(tokenizer, langs, split="dev"):
    """Token ids of each language's FLORES sentences (and English's), in index_id order."""
    paths = {lang: os.path.join(SHARED, "flores-sib200", lang, f"{split}.tsv") for lang in langs + ["eng_Latn"]}
    return encode_groups(tokenizer, {lang: read_flores_tsv(p) for lang, p in paths.items()}, 254)


def accuracy(x, y):
    return ((x @ y.T).argmax(1) == torch.arange(len(x))).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="run4")
    ap.add_argument("--sample", type=int, default=60, help="languages drawn at random (seed 0), plus NAMED")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "public", "models", "m3-mini", "tokenizer.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, ck = load_checkpoint(os.path.join(WORK, "runs", args.run, "ckpt.pt"))
    c = ck["config"]
    root = os.path.join(SHARED, "flores-sib200")
    langs = sorted(l for l in os.listdir(root) if os.path.exists(os.path.join(root, l, "dev.tsv")) and l != "eng_Latn")
    langs = sorted(set(random.Random(0).sample(langs, args.sample)) | set(NAMED))
    exits = [c["num_hidden_layers"] // 2, c["num_hidden_layers"]]
    with torch.no_grad():
        dev = {l: embed(model, s, exits) for l, s in load_flores(args.tokenizer, langs).items()}
        train = {l: embed(model, s[:99], exits) for l, s in load_flores(args.tokenizer, langs, "train").items()}
    print(f"{args.run}, step {ck['step']}: {len(langs)} languages, FLORES accuracy in %")
    print("layers  dims  dev xx->eng  dev eng->xx  dev centred xx->eng  train xx->eng")
    for e in exits:
        for d in (64, c["hidden_size"]):
            def norm(v, centre=False):
                v = v[e][:, :d]
                return F.normalize(v - v.mean(0) if centre else v, dim=-1)
            rows = [(accuracy(norm(dev[l]), norm(dev["eng_Latn"])), accuracy(norm(dev["eng_Latn"]), norm(dev[l])),
                     accuracy(norm(dev[l], True), norm(dev["eng_Latn"], True)),
                     accuracy(norm(train[l]), norm(train["eng_Latn"]))) for l in langs]
            means = [100 * sum(col) / len(col) for col in zip(*rows)]
            print(f"{e:6d}  {d:4d}  {means[0]:11.1f}  {means[1]:11.1f}  {means[2]:19.1f}  {means[3]:13.1f}")
    e, d = exits[-1], c["hidden_size"]
    eng = F.normalize(dev["eng_Latn"][e], dim=-1)
    for l in NAMED:
        x = F.normalize(dev[l][e], dim=-1)
        top = (x @ eng.T).argmax(1)
        hub = torch.bincount(top, minlength=len(eng)).max().item()
        centred = accuracy(F.normalize(dev[l][e] - dev[l][e].mean(0), dim=-1),
                           F.normalize(dev["eng_Latn"][e] - dev["eng_Latn"][e].mean(0), dim=-1))
        print(f"{l} L{e} d{d}: xx->eng {100 * accuracy(x, eng):.0f}%, centred {100 * centred:.0f}%, "
              f"eng->xx {100 * accuracy(eng, x):.0f}%; one English sentence tops {hub} of {len(x)} queries")


if __name__ == "__main__":
    main()
