"""Graded sentence pairs scored by a lexical teacher, for train.py's --lex-batch.

STS-B's human scores follow character n-gram overlap closely (the lexical baseline of `m3web eval`
reaches 0.79 Spearman on the English dev split; run4 reaches 0.66), while its 5,749 scored
training pairs are few. This pairs each English STS-B training sentence with its 8 nearest
neighbours by char n-gram TF-IDF cosine (n = 2..4 inside space-padded lower-cased words, as
src/eval/lexical.ts) and 4 random sentences, and keeps that cosine as a graded target. train.py
presents each pair in one or two of the group's 11 languages, so the grade carries over to
translations, which share no n-grams with English.

N-grams are hashed into 2^15 buckets so that the similarity matrix is one dense product; the
collisions change a few cosines slightly, which a teacher can afford.

Reads work/groups.jsonl, writes work/lex_pairs.pt: {"pairs": [P, 2] group indices, "score": [P]}.
"""

import json
import math
import os
import random
import unicodedata
import zlib
from collections import Counter

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
ENG = "eng_Latn"
BUCKETS = 1 << 15
NEIGHBOURS = 8
RANDOM = 4


def ngrams(text):
    counts = Counter()
    for word in unicodedata.normalize("NFC", text.lower()).split():
        chars = f" {word} "
        for n in range(2, 5):
            for i in range(len(chars) - n + 1):
                counts[zlib.crc32(chars[i:i + n].encode()) % BUCKETS] += 1
    return counts


def main():
    groups, english = [], []
    with open(os.path.join(WORK, "groups.jsonl"), encoding="utf-8") as f:
        for index, line in enumerate(f):
            g = json.loads(line)
            if g["src"] == "stsb" and ENG in g["texts"] and len(g["texts"]) > 1:
                groups.append(index)
                english.append(g["texts"][ENG])
    grams = [ngrams(t) for t in english]
    n = len(grams)
    df = torch.zeros(BUCKETS)
    for g in grams:
        df[list(g)] += 1
    idf = torch.log((1 + n) / (1 + df))
    x = torch.zeros(n, BUCKETS)
    for i, g in enumerate(grams):
        keys = list(g)
        x[i, keys] = torch.tensor([1 + math.log(g[k]) for k in keys]) * idf[keys]
    x = x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
    rng = random.Random(1)
    pairs, scores = [], []
    for start in range(0, n, 1024):
        sim = x[start:start + 1024] @ x.T
        for r in range(sim.shape[0]):
            i = start + r
            sim[r, i] = -1.0
            top = sim[r].topk(NEIGHBOURS).indices.tolist()
            for j in top + rng.sample(range(n), RANDOM):
                if j != i:
                    pairs.append((groups[i], groups[j]))
                    scores.append(float(sim[r, j]))
    out = {"pairs": torch.tensor(pairs), "score": torch.tensor(scores)}
    torch.save(out, os.path.join(WORK, "lex_pairs.pt"))
    s = out["score"]
    print(f"{n} sentences, {len(pairs)} pairs; score quartiles "
          f"{[round(v, 3) for v in s.quantile(torch.tensor([0.25, 0.5, 0.75])).tolist()]}", flush=True)


if __name__ == "__main__":
    main()
