"""Trains the 2D-Matryoshka encoder: one loss summed over every exit (layer count) and several widths.

Loss per step, for each exit in 1..L and each width d in DIMS:
  - symmetric InfoNCE with in-batch negatives over translation pairs (groups.jsonl), and
  - CoSENT over scored STS training pairs (same language), which orders similarities the way
    STS Spearman measures them.
A checkpoint is written every --ckpt-every steps (atomically); rerunning resumes from it.
"""

import argparse
import csv
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F

from model import Encoder

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))
CLS, SEP, PAD = 2, 3, 0
DIMS = [32, 64, 128, 256]
# Share of batch rows drawn from each source (sources without rows here are not sampled).
SOURCE_WEIGHTS = {"flores": 0.4, "stsb": 0.1, "udhr": 0.04, "cldr": 0.08, "lo-ui": 0.18, "lo-help": 0.2}
MONITOR_LANGS = ["deu_Latn", "fra_Latn", "spa_Latn", "rus_Cyrl", "zho_Hans", "jpn_Jpan", "arb_Arab",
                 "hin_Deva", "swh_Latn", "yor_Latn", "tur_Latn", "vie_Latn", "kor_Hang", "ell_Grek",
                 "heb_Hebr", "tha_Thai", "amh_Ethi", "quy_Latn", "ayr_Latn", "khm_Khmr", "tam_Taml",
                 "fin_Latn", "ind_Latn", "zul_Latn"]


class Sampler:
    def __init__(self, corpus, seed):
        self.c = corpus
        self.rng = random.Random(seed)
        self.by_src = {}
        src = corpus["group_src"].tolist()
        for g, s in enumerate(src):
            self.by_src.setdefault(corpus["sources"][s], []).append(g)
        names = [s for s in SOURCE_WEIGHTS if s in self.by_src]
        self.src_names, self.src_weights = names, [SOURCE_WEIGHTS[s] for s in names]
        self.off = corpus["off"].tolist()
        self.group_off = corpus["group_off"].tolist()
        self.group_eng = corpus["group_eng"].tolist()
        self.text_lang = corpus["text_lang"].tolist()
        self.tok = corpus["tok"]

    def ids(self, t):
        return self.tok[self.off[t]: self.off[t + 1]]

    def pair_in(self, g):
        lo, hi = self.group_off[g], self.group_off[g + 1]
        eng = self.group_eng[g]
        others = [t for t in range(lo, hi) if t != eng]
        a = self.rng.choice(others)
        if eng >= 0 and self.rng.random() < 0.6:
            return a, eng
        rest = [t for t in range(lo, hi) if t != a]
        return a, self.rng.choice(rest)

    def long_pair(self, used, max_tokens):
        """Several consecutive FLORES groups concatenated in two languages: long aligned texts."""
        pool = self.by_src["flores"]
        start = self.rng.randrange(len(pool))
        k = self.rng.randint(3, 10)
        groups = [pool[(start + i) % len(pool)] for i in range(k)]
        langs = [set(self.text_lang[t] for t in range(self.group_off[g], self.group_off[g + 1]))
                 for g in groups]
        common = sorted(set.intersection(*langs))
        la, lb = self.rng.sample(common, 2)
        a, b = [], []
        for g in groups:
            used.add(g)
            texts = {self.text_lang[t]: t for t in range(self.group_off[g], self.group_off[g + 1])}
            a.append(self.ids(texts[la]))
            b.append(self.ids(texts[lb]))
        return torch.cat(a)[:max_tokens], torch.cat(b)[:max_tokens]

    def batch(self, size, long_share, max_tokens, long_max_tokens):
        used, rows = set(), []
        while len(rows) < size:
            if self.rng.random() < long_share:
                rows.append(self.long_pair(used, long_max_tokens))
                continue
            src = self.rng.choices(self.src_names, self.src_weights)[0]
            g = self.rng.choice(self.by_src[src])
            if g in used or self.group_off[g + 1] - self.group_off[g] < 2:
                continue
            used.add(g)
            a, b = self.pair_in(g)
            rows.append((self.ids(a)[:max_tokens], self.ids(b)[:max_tokens]))
        return [r[0] for r in rows], [r[1] for r in rows]

    def sts(self, size):
        n = len(self.c["sts_a"])
        picks = self.rng.sample(range(n), size)
        return ([torch.tensor(self.c["sts_a"][i]) for i in picks],
                [torch.tensor(self.c["sts_b"][i]) for i in picks],
                self.c["sts_score"][picks])


def embed(model, seqs, exits, chunk_tokens=12000):
    """Embeds token sequences in length-sorted chunks (little padding); returns {exit: [N, H]}."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    chunks = {e: [] for e in exits}
    i = 0
    while i < len(order):
        j = i + 1
        while j < len(order) and (j - i + 1) * (len(seqs[order[j]]) + 2) <= chunk_tokens:
            j += 1
        idx = order[i:j]
        t = len(seqs[idx[-1]]) + 2
        ids = torch.full((len(idx), t), PAD, dtype=torch.long)
        mask = torch.zeros((len(idx), t), dtype=torch.bool)
        for r, k in enumerate(idx):
            s = seqs[k]
            ids[r, 0], ids[r, 1: len(s) + 1], ids[r, len(s) + 1] = CLS, s, SEP
            mask[r, : len(s) + 2] = True
        pooled = model(ids, mask, exits)
        for e in exits:
            chunks[e].append(pooled[e])
        i = j
    # One gather back to input order: per-row indexing would cost a full-size gradient per row.
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return {e: torch.cat(chunks[e])[inverse] for e in exits}


def info_nce(a, b, scale):
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.T * scale
    target = torch.arange(len(a))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def cosent(a, b, score, scale=20.0):
    cos = (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(-1) * scale
    diff = cos[None, :] - cos[:, None]
    # Penalise every pair (i, j) with score_i > score_j whose cosines are in the wrong order.
    diff = diff[score[:, None] > score[None, :]]
    return torch.logsumexp(torch.cat([torch.zeros(1), diff]), 0)


def load_sts_dev(sp):
    """English STS-B dev pairs, read for the monitor only (never trained on)."""
    path = os.path.join(HERE, "dev-data", "stsb-dev", "stsb-en-dev.csv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    a = [torch.tensor(x[:254]) for x in sp.encode([r[0] for r in rows])]
    b = [torch.tensor(x[:254]) for x in sp.encode([r[1] for r in rows])]
    return a, b, torch.tensor([float(r[2]) for r in rows])


def spearman(x, y):
    rank = lambda v: v.argsort().argsort().float()
    return torch.corrcoef(torch.stack([rank(x), rank(y)]))[0, 1].item()


def load_dev(sp, langs, split="dev"):
    dev = {}
    for lang in langs + ["eng_Latn"]:
        path = os.path.join(SHARED, "flores-sib200", lang, f"{split}.tsv")
        with open(path, encoding="utf-8") as f:
            rows = sorted(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), key=lambda r: r["index_id"])
        dev[lang] = [torch.tensor(x[:254]) for x in sp.encode([r["text"] for r in rows])]
    return dev


@torch.no_grad()
def monitor(model, dev, sts_dev, exits):
    model.eval()
    eng = embed(model, dev["eng_Latn"], exits)
    sa, sb = embed(model, sts_dev[0], exits), embed(model, sts_dev[1], exits)
    scores = {}
    for e in exits:
        for d in (64, 256):
            cos = (F.normalize(sa[e][:, :d], dim=-1) * F.normalize(sb[e][:, :d], dim=-1)).sum(-1)
            scores[f"sts-L{e}d{d}"] = round(spearman(cos, sts_dev[2]), 4)
            accs = []
            for lang, seqs in dev.items():
                if lang == "eng_Latn":
                    continue
                x = F.normalize(embed(model, seqs, [e])[e][:, :d], dim=-1)
                y = F.normalize(eng[e][:, :d], dim=-1)
                accs.append(((x @ y.T).argmax(1) == torch.arange(len(x))).float().mean().item())
            scores[f"L{e}d{d}"] = round(sum(accs) / len(accs), 4)
    model.train()
    return scores


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="run1")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--sts-batch", type=int, default=32)
    ap.add_argument("--long-share", type=float, default=0.03)
    ap.add_argument("--max-tokens", type=int, default=126)
    ap.add_argument("--long-max-tokens", type=int, default=320)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--sts-weight", type=float, default=0.3)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--no-init", action="store_true", help="random word embeddings instead of the SVD init")
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--monitor-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run_dir = os.path.join(WORK, "runs", args.run)
    os.makedirs(run_dir, exist_ok=True)
    ckpt_path = os.path.join(run_dir, "ckpt.pt")

    corpus = torch.load(os.path.join(WORK, "corpus.pt"))
    torch.manual_seed(args.seed)
    model = Encoder(corpus["vocab"], hidden=args.hidden, layers=args.layers, heads=args.hidden // 64,
                    ffn=args.hidden * 4, dropout=args.dropout)
    if not args.no_init:
        model.word.weight.data.copy_(corpus["init_word"][:, : args.hidden])
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    sampler = Sampler(corpus, args.seed)
    step, elapsed = 0, 0.0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
        sampler.rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed at step {step} ({elapsed / 3600:.2f} h)", flush=True)
    with open(os.path.join(run_dir, "args.json"), "w") as f:
        json.dump(vars(args), f, indent=1)

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(WORK, "spm.model"))
    dev = load_dev(sp, MONITOR_LANGS)
    sts_dev = load_sts_dev(sp)
    exits = list(range(1, args.layers + 1))
    dims = [d for d in DIMS if d < args.hidden] + [args.hidden]
    log = open(os.path.join(run_dir, "log.jsonl"), "a")
    model.train()
    while step < args.steps:
        t0 = time.time()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args)
        a, b = sampler.batch(args.batch, args.long_share, args.max_tokens, args.long_max_tokens)
        ea, eb = embed(model, a, exits), embed(model, b, exits)
        sa, sb, score = sampler.sts(args.sts_batch)
        esa, esb = embed(model, sa, exits), embed(model, sb, exits)
        nce = sum(info_nce(ea[e][:, :d], eb[e][:, :d], args.scale) for e in exits for d in dims)
        sts = sum(cosent(esa[e][:, :d], esb[e][:, :d], score) for e in exits for d in dims)
        n = len(exits) * len(dims)
        loss = (nce + args.sts_weight * sts) / n
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        elapsed += time.time() - t0
        rec = {"step": step, "loss": round(loss.item(), 4), "nce": round(nce.item() / n, 4),
               "sts": round(sts.item() / n, 4), "lr": lr_at(step - 1, args), "sec": round(time.time() - t0, 2)}
        if step % args.monitor_every == 0 or step == args.steps:
            rec["dev"] = monitor(model, dev, sts_dev, [1, args.layers // 2, args.layers])
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if step % 10 == 0 or "dev" in rec:
            print(json.dumps(rec), flush=True)
        if step % args.ckpt_every == 0 or step == args.steps:
            tmp = ckpt_path + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "elapsed": elapsed, "rng": sampler.rng.getstate(),
                        "torch_rng": torch.get_rng_state(), "config": model.config}, tmp)
            os.replace(tmp, ckpt_path)
    print(f"done: {step} steps, {elapsed / 3600:.2f} h of training", flush=True)


if __name__ == "__main__":
    main()
