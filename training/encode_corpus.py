"""Tokenises the training data once and derives cross-lingual initial word embeddings.

Reads work/groups.jsonl, work/sts_train.jsonl, work/retrieval.jsonl (if present) and a
tokenizer.json (work/hf/ from train_tokenizer.py by default, or a shipped pack's: the ids come from
m3web's own tokenizer through training/tokenize.ts, so training and inference agree). Writes
work/corpus.pt:
  tok, off           concatenated token ids (no [CLS]/[SEP]) and per-text offsets
  text_lang          language index per text (langs lists the names)
  group_off          texts of group g are text indices group_off[g] .. group_off[g+1]-1
  group_src, group_eng  source index per group; index of its English text or -1
  sts_*              the scored STS training pairs
  ret_*              query -> passage pairs (prepare_retrieval.py) with mined hard negatives
  monitor            token ids of the dev texts train.py reports progress on (never trained on)
  init_word          [vocab, hidden] initial word embeddings (see below; absent with --no-init)

The initial embeddings come from a token x group co-occurrence matrix: a group is one meaning
written in many languages, so tokens that translate each other share columns. A truncated SVD of
the tf-idf weighted matrix puts them near each other before any training step.
"""

import argparse
import csv
import io
import json
import lzma
import os
import random
import subprocess
import tempfile
from collections import defaultdict

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
MAX_TOKENS = 510
SOURCES = ["flores", "stsb", "udhr", "cldr", "lo-ui", "lo-help"]
RET_SOURCES = ["flores-ict", "help-ict", "help-title", "ui-help"]
# Flat token arrays that the compact corpus (--xz) stores as int16; train.py widens them again.
COMPACT = ("tok", "ret_q", "ret_p")
HARD_NEGATIVES = 4
# Retrieval pairs train with these before query and passage (the pack's `prefixes`, applied by
# `kind`): translation and STS pairs have none, so the symmetric space is left to them.
PREFIXES = {"query": "query: ", "passage": "passage: "}
ENG = "eng_Latn"
MONITOR_FLORES = ["deu_Latn", "fra_Latn", "spa_Latn", "rus_Cyrl", "zho_Hans", "jpn_Jpan", "arb_Arab",
                  "hin_Deva", "swh_Latn", "yor_Latn", "tur_Latn", "vie_Latn", "kor_Hang", "ell_Grek",
                  "heb_Hebr", "tha_Thai", "amh_Ethi", "quy_Latn", "ayr_Latn", "khm_Khmr", "tam_Taml",
                  "fin_Latn", "ind_Latn", "zul_Latn"]
MONITOR_XQUAD = ["en", "de", "zh", "ar"]


def encode(tokenizer, texts, max_tokens=MAX_TOKENS):
    """Token ids (no specials) per text, from training/tokenize.ts."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.bin")
        with open(src, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps(t, ensure_ascii=False) + "\n")
        subprocess.run(["npx", "tsx", os.path.join(HERE, "tokenize.ts"), tokenizer, src, out, str(max_tokens)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        data = torch.from_numpy(__import__("numpy").fromfile(out, dtype="<i4"))
    n = int(data[0])
    lengths = data[1: n + 1].tolist()
    flat, at, ids = data[n + 1:], 0, []
    for k in lengths:
        ids.append(flat[at: at + k].clone())
        at += k
    return ids


def encode_groups(tokenizer, groups, max_tokens=MAX_TOKENS):
    """encode() over {key: texts} in one tokenizer run (each run starts Node): {key: ids}."""
    flat = [t for texts in groups.values() for t in texts]
    ids, out, at = encode(tokenizer, flat, max_tokens), {}, 0
    for key, texts in groups.items():
        out[key], at = ids[at: at + len(texts)], at + len(texts)
    return out


def read_flores_tsv(path):
    """The sentences of a FLORES tsv (index_id, category, text) in index_id order."""
    with open(path, encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), key=lambda r: r["index_id"])
    return [r["text"] for r in rows]


def pack(ids):
    """Concatenated ids and offsets."""
    off = torch.zeros(len(ids) + 1, dtype=torch.long)
    off[1:] = torch.cumsum(torch.tensor([len(x) for x in ids]), 0)
    return torch.cat(ids).to(torch.int32), off


def tfidf(ids, vocab, idf=None):
    rows = torch.repeat_interleave(torch.arange(len(ids)), torch.tensor([len(x) for x in ids]))
    cols = torch.cat(ids).long()
    m = torch.sparse_coo_tensor(torch.stack([rows, cols]), torch.ones(len(rows)), (len(ids), vocab)).coalesce()
    if idf is None:
        df = torch.bincount(m.indices()[1], minlength=vocab).float()
        idf = torch.log((1 + len(ids)) / (1 + df))
    idx, val = m.indices(), torch.log1p(m.values()) * idf[m.indices()[1]]
    norms = torch.zeros(len(ids)).index_add_(0, idx[0], val * val).sqrt().clamp(min=1e-6)
    return torch.sparse_coo_tensor(idx, val / norms[idx[0]], (len(ids), vocab)).coalesce(), idf


def mine_negatives(q_ids, p_ids, pools, keys, vocab):
    """Per pair, the passages of its pool (same passage language) most similar to the query by
    token tf-idf that are about something else: shares words, is not the answer."""
    neg = torch.full((len(q_ids), HARD_NEGATIVES), -1, dtype=torch.long)
    by_pool = defaultdict(list)
    for i, pool in enumerate(pools):
        by_pool[pool].append(i)
    for members in by_pool.values():
        if len(members) < 2:
            continue
        p, idf = tfidf([p_ids[i] for i in members], vocab)
        q, _ = tfidf([q_ids[i] for i in members], vocab, idf)
        pt = p.to_dense().T if len(members) <= 4000 else p.t()
        member_keys = [keys[i] for i in members]
        for lo in range(0, len(members), 1024):
            hi = min(len(members), lo + 1024)
            sims = torch.sparse.mm(q.index_select(0, torch.arange(lo, hi)), pt)
            sims = sims.to_dense() if sims.is_sparse else sims
            top = sims.topk(min(len(members), HARD_NEGATIVES * 3), dim=1).indices.tolist()
            for r, cands in enumerate(top):
                own = member_keys[lo + r]
                picked = [members[c] for c in cands if member_keys[c] != own][:HARD_NEGATIVES]
                neg[members[lo + r], : len(picked)] = torch.tensor(picked)
    return neg


def retrieval(tokenizer, max_pairs, vocab, seed):
    path = os.path.join(WORK, "retrieval.jsonl")
    if not os.path.exists(path):
        return {}
    rng = random.Random(seed)
    by_src = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            by_src[p["src"]].append(p)
    pairs = [p for src in RET_SOURCES for p in rng.sample(by_src[src], min(max_pairs, len(by_src[src])))]
    q_ids = encode(tokenizer, [p["q"] for p in pairs], 126)
    p_ids = encode(tokenizer, [p["p"] for p in pairs], 254)
    keep = [i for i in range(len(pairs)) if len(q_ids[i]) and len(p_ids[i])]
    pairs, q_ids, p_ids = [pairs[i] for i in keep], [q_ids[i] for i in keep], [p_ids[i] for i in keep]
    neg = mine_negatives(q_ids, p_ids, [p["src"].split("-")[0] + ":" + p["pl"] for p in pairs],
                         [p["key"] for p in pairs], vocab)
    q_tok, q_off = pack(q_ids)
    p_tok, p_off = pack(p_ids)
    print(f"{len(pairs)} retrieval pairs, {int((neg >= 0).sum())} hard negatives", flush=True)
    # Prefix ids are joined to the texts' ids at training time: a prefix ending in a space
    # tokenises the same alone as in front of a text.
    prefix_ids = encode(tokenizer, list(PREFIXES.values()))
    return {
        "ret_prefix": {kind: ids.to(torch.int32) for kind, ids in zip(PREFIXES, prefix_ids)},"ret_q": q_tok, "ret_q_off": q_off, "ret_p": p_tok, "ret_p_off": p_off, "ret_neg": neg,
            "ret_src": torch.tensor([RET_SOURCES.index(p["src"]) for p in pairs], dtype=torch.int8),
            "ret_sources": RET_SOURCES}


def monitor_sets(tokenizer):
    """Dev texts for train.py's progress report: FLORES dev (24 languages and English), English
    STS dev, and xquad-dev question -> paragraph in a few languages."""
    dev = os.path.join(HERE, "dev-data")
    texts = {lang: read_flores_tsv(os.path.join(dev, "flores-dev", f"{lang}.tsv")) for lang in MONITOR_FLORES + [ENG]}
    out = {"flores": encode_groups(tokenizer, texts, 254), "xquad": {}}
    with open(os.path.join(dev, "stsb-dev", "stsb-en-dev.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    out["sts"] = (encode(tokenizer, [r[0] for r in rows], 254), encode(tokenizer, [r[1] for r in rows], 254),
                  torch.tensor([float(r[2]) for r in rows]))
    for lang in MONITOR_XQUAD:
        with open(os.path.join(dev, "xquad-dev", f"xquad.{lang}.json"), encoding="utf-8") as f:
            data = json.load(f)["data"]
        contexts, questions, answer = [], [], []
        for article in data:
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    questions.append(qa["question"])
                    answer.append(len(contexts))
                contexts.append(para["context"].strip())
        out["xquad"][lang] = (encode(tokenizer, questions, 126), encode(tokenizer, contexts, 254),
                              torch.tensor(answer))
    return out


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
    ap.add_argument("--tokenizer", default=os.path.join(WORK, "hf", "tokenizer.json"))
    ap.add_argument("--max-groups", type=int, default=0,
                    help="at most this many groups per source (0: all); a run that continues trained "
                         "weights needs far fewer than one that starts from scratch")
    ap.add_argument("--max-pairs", type=int, default=40000, help="retrieval pairs per source")
    ap.add_argument("--no-init", action="store_true", help="skip the SVD word-embedding init")
    ap.add_argument("--xz", action="store_true",
                    help="also write corpus.pt.xz: token ids as int16, compressed, without the SVD init "
                         "(train.py recomputes it), small enough to carry to a machine lent for a run")
    args = ap.parse_args()
    args.tokenizer = os.path.abspath(args.tokenizer)
    with open(args.tokenizer, encoding="utf-8") as f:
        vocab = len(json.load(f)["model"]["vocab"])
    rng = random.Random(args.seed)
    with open(os.path.join(WORK, "groups.jsonl"), encoding="utf-8") as f:
        groups = [json.loads(line) for line in f]
    if args.max_groups:
        by_src = defaultdict(list)
        for g in groups:
            by_src[g["src"]].append(g)
        groups = [g for src in SOURCES for g in rng.sample(by_src[src], min(args.max_groups, len(by_src[src])))]
    langs, lang_index = [], {}
    texts, text_lang, group_off, group_src, group_eng = [], [], [0], [], []
    for g in groups:
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
    tok, off = pack(encode(args.tokenizer, texts))
    lengths = off[1:] - off[:-1]
    group_off_t = torch.tensor(group_off)
    text_group = torch.repeat_interleave(torch.arange(len(group_src)), group_off_t[1:] - group_off_t[:-1])
    print(f"{len(tok)} tokens, mean {lengths.float().mean():.1f} per text", flush=True)

    sts = [json.loads(line) for line in open(os.path.join(WORK, "sts_train.jsonl"), encoding="utf-8")]
    sts_a, sts_b = encode(args.tokenizer, [p["a"] for p in sts]), encode(args.tokenizer, [p["b"] for p in sts])

    corpus = {
        "tok": tok, "off": off, "text_lang": torch.tensor(text_lang, dtype=torch.int32),
        "langs": langs, "group_off": group_off_t, "group_src": torch.tensor(group_src, dtype=torch.int8),
        "group_eng": torch.tensor(group_eng), "sources": SOURCES,
        "sts_a": sts_a, "sts_b": sts_b, "sts_score": torch.tensor([p["score"] for p in sts]),
        "sts_lang": [p["lang"] for p in sts], "vocab": vocab,
        "monitor": monitor_sets(args.tokenizer),
        **retrieval(args.tokenizer, args.max_pairs, vocab, args.seed),
    }
    if not args.no_init:
        corpus["init_word"] = cooccurrence_embeddings(tok, off, text_group, len(group_src), vocab, args.hidden,
                                                      args.seed)
    torch.save(corpus, os.path.join(WORK, "corpus.pt"))
    print("wrote", os.path.join(WORK, "corpus.pt"))
    if args.xz:
        write_compact(corpus, os.path.join(WORK, "corpus.pt.xz"))


def write_compact(corpus, path):
    if corpus["vocab"] > 32768:
        raise ValueError("token ids do not fit int16")
    compact = {k: v for k, v in corpus.items() if k != "init_word"}
    for key in COMPACT:
        compact[key] = compact[key].to(torch.int16)
    buf = io.BytesIO()
    torch.save(compact, buf)
    with lzma.open(path, "wb", preset=6) as f:
        f.write(buf.getbuffer())
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
