"""FLORES dev xx->eng R@1 (train.py's 24 monitor languages) of a --prompt-tokens checkpoint,
with the texts plain and behind its prompts (query -> passage, passage -> passage, query -> query):
what prompt tokens cost sentence-to-sentence search.

  /usr/bin/python3 training/prompt_bitext.py run15
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import load_checkpoint
from train import embed, load_corpus, WORK

run = sys.argv[1]
torch.set_num_threads(1)
enc, ck = load_checkpoint(os.path.join(WORK, "runs", run, "ckpt.pt"))
kq, kp = ck["prompt_tokens"]
V = ck["config"]["vocab_size"] - kq - kp
corpus = load_corpus()
dev = corpus["monitor"]["flores"]
qp = torch.arange(V, V + kq, dtype=torch.int32)
pp = torch.arange(V + kq, V + kq + kp, dtype=torch.int32)
pre = lambda p, seqs: [torch.cat([p, s]) for s in seqs]
exits = [1, 3, 6]
with torch.no_grad():
    for name, (pa, pb) in {"plain": (None, None), "q->p": (qp, pp), "p->p": (pp, pp), "q->q": (qp, qp)}.items():
        eng = embed(enc, dev["eng_Latn"] if pb is None else pre(pb, dev["eng_Latn"]), exits)
        # Each language once, at every exit: the cells below only slice these.
        xx = [embed(enc, seqs if pa is None else pre(pa, seqs), exits) for lang, seqs in dev.items() if lang != "eng_Latn"]
        res = {}
        for e in exits:
            for d in (64, 256):
                accs = []
                for by_exit in xx:
                    x = by_exit[e][:, :d]
                    accs.append(((F.normalize(x, dim=-1) @ F.normalize(eng[e][:, :d], dim=-1).T).argmax(1) == torch.arange(len(x))).float().mean().item())
                res[f"L{e}d{d}"] = round(sum(accs) / len(accs), 3)
        print(name, res, flush=True)
