"""Tokenises the aligned corpus once and derives cross-lingual initial word embeddings.

Reads work/groups.jsonl, work/sts_train.jsonl and work/spm.model. Writes work/corpus.pt:
  tok, off           concatenated token ids (no [CLS]/[SEP]) and per-text offsets
  text_lang          language index per text (langs lists the names)
  group_off          texts of group g are text indices group_off[g] .. group_off[g+1]-1
  group_src, group_eng  source index per group; index of its English text or -1
  sts_*              the scored STS training pairs
  init_word          [vocab, hidden] initial word embeddings (see below)

The initial embeddings come from a token x group co-occurrence matrix: a group is one meaning
written in many languages, so tokens that translate each other share columns. A truncated SVD of
the tf-idf weighted matrix puts them near each other before any training step.
"""

import argparse
import json
import os

import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
MAX_TOKENS = 510
SOURCES = ["flores", "stsb", "udhr", "cldr", "lo-ui", "lo-help"]
ENG = "eng_Latn"


def encode(sp, texts):
    return [ids[:MAX_TOKENS] for ids in sp.encode(texts, num_threads=os.cpu_count())]


def cooccurrence_embeddings(tok, off, text_group, n_groups, vocab, hidden, seed):
    n_texts = len(off) - 1
    lengths = off[1:] - off[:-1]
    text_of_tok = torch.repeat_interleave(torch.arange(n_texts), lengths)
    rows = tok.long()
    cols = text_group[text_of_tok].long()
    m = torch.sparse_coo_tensor(torch.stack([rows, cols]), torch.ones(len(rows)),
                                (vocab, n_groups)).coalesce()
    idx, val = m.indices(), m.values()
    df = torch.bincount(idx[0], minlength=vocab).float()
    idf = torch.log(n_groups / df.clamp(min=1))
    val = torch.log1p(val) * idf[idx[0]]
    norms = torch.zeros(vocab).index_add_(0, idx[0], val * val).sqrt()
    val = val / norms[idx[0]].clamp(min=1e-6)
    m = torch.sparse_coo_tensor(idx, val, (vocab, n_groups)).coalesce()
    torch.manual_seed(seed)
    u, s, _ = torch.svd_lowrank(m, q=hidden + 16, niter=4)
    emb = u[:, :hidden] * s[:hidden].sqrt()
    # Match the 0.02-std random init's row norm so the embedding LayerNorm sees familiar scales.
    target = 0.02 * hidden ** 0.5
    emb = emb / emb.norm(dim=1, keepdim=True).clamp(min=1e-6) * target
    unseen = df == 0
    emb[unseen] = torch.randn(int(unseen.sum()), hidden) * 0.02
    return emb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=os.path.join(WORK, "spm.model"))
    langs, lang_index = [], {}
    texts, text_lang, group_off, group_src, group_eng = [], [], [0], [], []
    with open(os.path.join(WORK, "groups.jsonl"), encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            eng = -1
            for lang, text in sorted(g["texts"].items()):
                if lang not in lang_index:
                    lang_index[lang] = len(langs)
                    langs.append(lang)
                if lang == ENG:
                    eng = len(texts)
                texts.append(text)
                text_lang.append(lang_index[lang])
            group_off.append(len(texts))
            group_src.append(SOURCES.index(g["src"]))
            group_eng.append(eng)
    print(f"{len(texts)} texts in {len(group_src)} groups, {len(langs)} languages", flush=True)
    ids = encode(sp, texts)
    lengths = torch.tensor([len(x) for x in ids])
    off = torch.zeros(len(ids) + 1, dtype=torch.long)
    off[1:] = torch.cumsum(lengths, 0)
    tok = torch.tensor([t for x in ids for t in x], dtype=torch.int32)
    group_off_t = torch.tensor(group_off)
    text_group = torch.repeat_interleave(torch.arange(len(group_src)), group_off_t[1:] - group_off_t[:-1])
    print(f"{len(tok)} tokens, mean {lengths.float().mean():.1f} per text", flush=True)

    sts = [json.loads(line) for line in open(os.path.join(WORK, "sts_train.jsonl"), encoding="utf-8")]
    sts_a, sts_b = encode(sp, [p["a"] for p in sts]), encode(sp, [p["b"] for p in sts])

    init = cooccurrence_embeddings(tok, off, text_group, len(group_src), sp.vocab_size(), args.hidden,
                                   args.seed)
    torch.save({
        "tok": tok, "off": off, "text_lang": torch.tensor(text_lang, dtype=torch.int32),
        "langs": langs, "group_off": group_off_t, "group_src": torch.tensor(group_src, dtype=torch.int8),
        "group_eng": torch.tensor(group_eng), "sources": SOURCES,
        "sts_a": sts_a, "sts_b": sts_b, "sts_score": torch.tensor([p["score"] for p in sts]),
        "sts_lang": [p["lang"] for p in sts], "init_word": init, "vocab": sp.vocab_size(),
    }, os.path.join(WORK, "corpus.pt"))
    print("wrote", os.path.join(WORK, "corpus.pt"))


if __name__ == "__main__":
    main()
