"""Trains the 2D-Matryoshka encoder: one loss summed over every exit (layer count) and several widths.

Loss per step, for each exit in 1..L and each width d in DIMS:
  - symmetric InfoNCE with in-batch negatives over translation pairs (groups.jsonl);
  - InfoNCE over query -> passage pairs (retrieval.jsonl), each query against every passage of the
    batch plus mined hard negatives (passages that share its words but are about something else).
    A matrix of its own: FLORES sentences are both translation pairs and parts of passages, and in
    one matrix a sentence would be pushed away from the passage that contains it;
  - CoSENT over scored STS training pairs (same language), which orders similarities the way
    STS Spearman measures them.
--init-hf starts from a Hugging Face BERT folder (training/pack_to_hf.ts writes one from a pack).
--distill W holds the translation and STS texts' embeddings (every exit x width) to those of the
--teacher model (default: the --init-hf one) while the retrieval pairs train: a new task must
not cost the old ones.
--prompt-tokens Q,P trains only Q + P new word embeddings, Q put before every query and P before
every passage (the pack's prefixes): text without a prefix keeps its embedding bit for bit.
A checkpoint is written every --ckpt-every steps (atomically); rerunning resumes from it (from a
slim.py checkpoint too, with a fresh optimiser). --device cuda where a GPU is; --minutes and
--stop-after fit a run to a machine lent for a fixed time (training/device_run.sh).
"""

import argparse
import csv
import io
import json
import lzma
import math
import os
import random
import time

import torch
import torch.nn.functional as F

from encode_corpus import COMPACT, cooccurrence_embeddings
from model import Encoder, read_init

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
CLS, SEP, PAD = 2, 3, 0
DIMS = [32, 64, 128, 256]
# Share of batch rows drawn from each source (sources without rows here are not sampled).
SOURCE_WEIGHTS = {"flores": 0.4, "stsb": 0.1, "udhr": 0.04, "cldr": 0.08, "lo-ui": 0.18, "lo-help": 0.2}


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
        self.ret_by_src = {}
        for i, src in enumerate(corpus["ret_src"].tolist() if "ret_src" in corpus else []):
            self.ret_by_src.setdefault(corpus["ret_sources"][src], []).append(i)
        empty = torch.zeros(0, dtype=torch.int32)
        self.prefix = corpus.get("ret_prefix", {"query": empty, "passage": empty})

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

    def retrieval(self, size, weights):
        """Queries, their passages, and one mined hard negative per query (when it has one)."""
        c = self.c
        by_src = self.ret_by_src
        names = [s for s in weights if s in by_src and weights[s] > 0]
        q_off, p_off = c["ret_q_off"], c["ret_p_off"]
        qs, ps, negs, used = [], [], [], set()
        while len(qs) < size:
            i = self.rng.choice(by_src[self.rng.choices(names, [weights[s] for s in names])[0]])
            if i in used:
                continue
            used.add(i)
            qs.append(torch.cat([self.prefix["query"], c["ret_q"][q_off[i]: q_off[i + 1]]]))
            ps.append(torch.cat([self.prefix["passage"], c["ret_p"][p_off[i]: p_off[i + 1]]]))
            cands = [n for n in c["ret_neg"][i].tolist() if n >= 0 and n not in used]
            if cands:
                n = self.rng.choice(cands)
                used.add(n)
                negs.append(torch.cat([self.prefix["passage"], c["ret_p"][p_off[n]: p_off[n + 1]]]))
        return qs, ps, negs

    def sts(self, size):
        n = len(self.c["sts_a"])
        picks = self.rng.sample(range(n), size)
        return ([self.c["sts_a"][i] for i in picks],
                [self.c["sts_b"][i] for i in picks],
                self.c["sts_score"][picks])


def load_corpus():
    """work/corpus.pt, or work/corpus.pt.xz (encode_corpus.py --xz: token ids as int16, compressed,
    the form carried to a machine lent for a run)."""
    path = os.path.join(WORK, "corpus.pt")
    if os.path.exists(path):
        return torch.load(path, weights_only=False)
    with lzma.open(path + ".xz") as f:
        corpus = torch.load(io.BytesIO(f.read()), weights_only=False)
    for key in COMPACT:
        corpus[key] = corpus[key].int()
    return corpus


def to_device(t, device):
    """A copy from pageable memory blocks the CPU until the GPU has caught up; from pinned memory
    it queues behind the kernels already launched, and the CPU goes on launching."""
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t


def embed(model, seqs, exits, chunk_tokens=12000):
    """Embeds token sequences in length-sorted chunks (little padding); returns {exit: [N, H]}."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    device = model.word.weight.device
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
        # Built on the CPU and sent whole: one copy per chunk instead of one per row.
        pooled = model(to_device(ids, device), to_device(mask, device), exits)
        for e in exits:
            chunks[e].append(pooled[e])
        i = j
    # One gather back to input order: per-row indexing would cost a full-size gradient per row.
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    inverse = to_device(inverse, device)
    return {e: torch.cat(chunks[e])[inverse] for e in exits}


# The losses take every exit at once ([exits, rows, width]) and return the sum over exits: one
# batched kernel per step of the loss instead of one per exit (a GPU step is launch-bound).


def info_nce(a, b, scale):
    """Row i of `a` belongs with row i of `b`; rows of `b` past a's are extra negatives."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.transpose(1, 2) * scale
    e, n = a.shape[:2]
    target = torch.arange(n, device=a.device).repeat(e)
    forward = F.cross_entropy(logits.flatten(0, 1), target, reduction="sum")
    backward = F.cross_entropy(logits[:, :, :n].transpose(1, 2).flatten(0, 1), target, reduction="sum")
    return (forward + backward) / (2 * n)


def cosent(a, b, score, scale=20.0):
    cos = (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(-1) * scale
    diff = cos[:, None, :] - cos[:, :, None]
    score = score.to(cos.device)
    # Penalise every pair (i, j) with score_i > score_j whose cosines are in the wrong order. A mask
    # rather than boolean indexing: indexing waits for the GPU to learn the result's size.
    diff = diff.masked_fill(~(score[:, None] > score[None, :]), -math.inf).flatten(1)
    return torch.logsumexp(torch.cat([diff.new_zeros(len(diff), 1), diff], 1), 1).sum()


def held(student, teacher, dims):
    """1 - cosine to the teacher's embedding of the same text, summed over exits x widths."""
    return sum((1 - F.cosine_similarity(student[..., :d], teacher[..., :d], dim=-1)).mean(1).sum() for d in dims)


def stacked(model, seqs, exits):
    """embed() as one [exits, rows, hidden] tensor."""
    pooled = embed(model, seqs, exits)
    return torch.stack([pooled[e] for e in exits])


def spearman(x, y):
    rank = lambda v: v.cpu().argsort().argsort().float()
    return torch.corrcoef(torch.stack([rank(x), rank(y)]))[0, 1].item()


@torch.no_grad()
def monitor(model, sets, exits, prefix, xquad_only=False):
    """Progress on dev texts (corpus["monitor"]): FLORES xx->eng, English STS, xquad-dev R@1
    (questions and paragraphs behind the retrieval prefixes, as the pack will apply them)."""
    model.eval()
    dev, sts_dev = sets["flores"], sets["sts"]
    eng = embed(model, dev["eng_Latn"], exits)
    sa, sb = embed(model, sts_dev[0], exits), embed(model, sts_dev[1], exits)
    with_prefix = lambda kind, seqs: [torch.cat([prefix[kind], s]) for s in seqs]
    xq = {lang: (embed(model, with_prefix("query", q), exits), embed(model, with_prefix("passage", p), exits), ans)
          for lang, (q, p, ans) in sets["xquad"].items()}
    scores = {}
    for e in exits:
        for d in (64, 256):
            hits = []
            for q, p, ans in xq.values():
                x, y = F.normalize(q[e][:, :d], dim=-1), F.normalize(p[e][:, :d], dim=-1)
                hits.append(((x @ y.T).argmax(1).cpu() == ans).float().mean().item())
            scores[f"xq-L{e}d{d}"] = round(sum(hits) / len(hits), 4)
            if xquad_only:
                continue
            cos = (F.normalize(sa[e][:, :d], dim=-1) * F.normalize(sb[e][:, :d], dim=-1)).sum(-1)
            scores[f"sts-L{e}d{d}"] = round(spearman(cos, sts_dev[2]), 4)
            accs = []
            for lang, seqs in dev.items():
                if lang == "eng_Latn":
                    continue
                x = F.normalize(embed(model, seqs, [e])[e][:, :d], dim=-1)
                y = F.normalize(eng[e][:, :d], dim=-1)
                accs.append(((x @ y.T).argmax(1).cpu() == torch.arange(len(x))).float().mean().item())
            scores[f"L{e}d{d}"] = round(sum(accs) / len(accs), 4)
    model.train()
    return scores


def with_prompt_rows(word, text_prefix, kq, kp):
    """The word table with kq + kp rows appended: query prompts start as the `query: ` prefix's
    token embeddings (cycled), passage prompts as `passage: `'s, each with a little noise."""
    rows = [word[text_prefix[kind].long()].repeat(n, 1)[:n] for kind, n in (("query", kq), ("passage", kp))]
    rows = torch.cat(rows)
    return torch.cat([word, rows + 0.1 * rows.std() * torch.randn_like(rows)])


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
    ap.add_argument("--init-hf", help="start from this Hugging Face BERT folder's weights")
    ap.add_argument("--ret-batch", type=int, default=0, help="query -> passage pairs per step")
    ap.add_argument("--ret-weight", type=float, default=1.0)
    ap.add_argument("--ret-weights", default="flores-ict=0.4,help-ict=0.3,help-title=0.3",
                    help="share of retrieval rows per source (0 leaves a source out: the ablation)")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="weight of holding translation / STS embeddings to the --teacher model's")
    ap.add_argument("--teacher", help="the model --distill holds to (a Hugging Face BERT or pack folder; "
                                      "default: --init-hf); with it a run from scratch can learn the "
                                      "bundled model's translation space while retrieval trains")
    ap.add_argument("--freeze-word", action="store_true",
                    help="keep the word embedding table as loaded (the tokens' cross-lingual alignment)")
    ap.add_argument("--freeze-layers", type=int, default=0,
                    help="keep the embeddings and the first N layers as loaded: exits 1..N keep the "
                         "loaded model's embeddings, and everything trained lands in the deeper layers")
    ap.add_argument("--prompt-tokens", default="0,0",
                    help="Q,P: train only Q query and P passage prompt embeddings (new token ids); nothing else moves")
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--monitor-every", type=int, default=250, help="0: no dev figures (quick checks)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--minutes", type=float, default=0,
                    help="end within this many minutes: after 30 steps --steps shrinks to what fits "
                         "(the learning-rate schedule follows), for a machine lent for a fixed time")
    ap.add_argument("--stop-after", type=float, default=0,
                    help="stop after this many minutes with a checkpoint, the schedule (--steps) unchanged: "
                         "one lease of a run longer than a lease")
    args = ap.parse_args()
    if args.minutes and args.stop_after:
        ap.error("--minutes fits the whole run into the time, --stop-after cuts it: one or the other")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    started = time.time()
    run_dir = os.path.join(WORK, "runs", args.run)
    os.makedirs(run_dir, exist_ok=True)
    ckpt_path = os.path.join(run_dir, "ckpt.pt")

    corpus = load_corpus()
    torch.manual_seed(args.seed)
    base_vocab = corpus["vocab"]
    kq, kp = (int(x) for x in args.prompt_tokens.split(","))
    k = kq + kp
    if k and (not args.init_hf or args.distill or not args.ret_batch):
        ap.error("--prompt-tokens needs --init-hf and --ret-batch, and makes --distill pointless")
    model = Encoder(base_vocab + k, hidden=args.hidden, layers=args.layers, heads=args.hidden // 64,
                    ffn=args.hidden * 4, dropout=args.dropout)
    teacher = None
    weights = read_init(args.init_hf, base_vocab) if args.init_hf else None
    if args.distill:
        if not (args.teacher or weights):
            ap.error("--distill needs --teacher or --init-hf (the model to hold to)")
        teacher = Encoder(base_vocab, hidden=args.hidden, layers=args.layers, heads=args.hidden // 64,
                          ffn=args.hidden * 4, dropout=0.0)
        teacher.load_hf_state_dict(read_init(args.teacher, base_vocab) if args.teacher else weights)
        teacher.eval().requires_grad_(False)
    if weights:
        if k:
            weights["embeddings.word_embeddings.weight"] = with_prompt_rows(
                weights["embeddings.word_embeddings.weight"], corpus["ret_prefix"], kq, kp)
        model.load_hf_state_dict(weights)
    elif not args.no_init:
        init = corpus.get("init_word")
        if init is None:
            # The compact corpus leaves the SVD init out (16 MB): it is recomputed from the tokens.
            sizes = corpus["group_off"][1:] - corpus["group_off"][:-1]
            text_group = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
            init = cooccurrence_embeddings(corpus["tok"], corpus["off"], text_group, len(sizes), base_vocab,
                                           args.hidden, args.seed)
        model.word.weight.data.copy_(init[:, : args.hidden])
    model.to(device)
    if teacher is not None:
        teacher.to(device)
    if args.freeze_word:
        model.word.weight.requires_grad_(False)
    if args.freeze_layers:
        if not args.init_hf:
            ap.error("--freeze-layers needs --init-hf (the weights to keep)")
        for part in (model.word, model.pos, model.token_type, model.emb_norm, *model.layers[: args.freeze_layers]):
            part.requires_grad_(False)
    if k:
        model.requires_grad_(False)
        model.word.weight.requires_grad_(True)
        # Zero gradients (and no weight decay) leave AdamW's update of the old rows exactly zero.
        keep = torch.zeros(base_vocab + k, 1, device=device)
        keep[base_vocab:] = 1
        model.word.weight.register_hook(lambda g: g * keep)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if p.dim() > 1 and not k]
    no_decay = [p for n, p in trained if p.dim() <= 1 or k]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    sampler = Sampler(corpus, args.seed)
    if k:
        sampler.prefix = {"query": torch.arange(base_vocab, base_vocab + kq, dtype=torch.int32),
                          "passage": torch.arange(base_vocab + kq, base_vocab + k, dtype=torch.int32)}
    step, elapsed, rewarm_from = 0, 0.0, None
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        step, elapsed = ck["step"], ck["elapsed"]
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        else:
            # A slim checkpoint (slim.py) has no Adam moments: fresh ones take full-size steps at
            # once, so the learning rate ramps up again as at the start.
            rewarm_from = step
        if "rng" in ck:
            sampler.rng.setstate(ck["rng"])
            torch.set_rng_state(ck["torch_rng"])
        print(f"resumed at step {step} ({elapsed / 3600:.2f} h){'' if 'opt' in ck else ', optimiser afresh'}", flush=True)
    def write_args():
        with open(os.path.join(run_dir, "args.json"), "w") as f:
            json.dump(vars(args), f, indent=1)

    write_args()

    ret_weights = {k: float(v) for k, v in (kv.split("=") for kv in args.ret_weights.split(","))}
    exits = list(range(1, args.layers + 1))
    dims = [d for d in DIMS if d < args.hidden] + [args.hidden]
    log = open(os.path.join(run_dir, "log.jsonl"), "a")
    if step == 0 and args.monitor_every:
        log.write(json.dumps({"step": 0, "dev": monitor(model, corpus["monitor"], [1, args.layers // 2, args.layers], sampler.prefix, bool(k))}) + "\n")
        log.flush()
    model.train()
    first = step
    while step < args.steps:
        t0 = time.time()
        lr = lr_at(step, args)
        if rewarm_from is not None:
            lr *= min(1.0, (step - rewarm_from + 1) / args.warmup)
        for group in opt.param_groups:
            group["lr"] = lr
        nce = sts = torch.zeros((), device=device)
        if not k:
            a, b = sampler.batch(args.batch, args.long_share, args.max_tokens, args.long_max_tokens)
            ea, eb = stacked(model, a, exits), stacked(model, b, exits)
            sa, sb, score = sampler.sts(args.sts_batch)
            esa, esb = stacked(model, sa, exits), stacked(model, sb, exits)
            nce = sum(info_nce(ea[..., :d], eb[..., :d], args.scale) for d in dims)
            sts = sum(cosent(esa[..., :d], esb[..., :d], score) for d in dims)
        ret = torch.zeros((), device=device)
        if args.ret_batch:
            qs, ps, negs = sampler.retrieval(args.ret_batch, ret_weights)
            eq, ep = stacked(model, qs, exits), stacked(model, ps + negs, exits)
            ret = sum(info_nce(eq[..., :d], ep[..., :d], args.scale) for d in dims)
        dist = torch.zeros((), device=device)
        if teacher is not None:
            with torch.no_grad():
                ta, tb, tsa, tsb = (stacked(teacher, x, exits) for x in (a, b, sa, sb))
            dist = sum(held(s_, t_, dims) for s_, t_ in ((ea, ta), (eb, tb), (esa, tsa), (esb, tsb))) / 4
        n = len(exits) * len(dims)
        loss = (nce + args.sts_weight * sts + args.ret_weight * ret + args.distill * dist) / n
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in trained], 1.0)
        opt.step()
        step += 1
        elapsed += time.time() - t0
        if args.minutes and step == first + 10:
            t10 = time.time()
        if args.minutes and step == first + 30:
            per_step = (time.time() - t10) / 20
            left = args.minutes * 60 - (time.time() - started)
            # A tenth held back for the monitor passes and the last checkpoint.
            args.steps = min(args.steps, step + int(0.9 * left / per_step))
            print(f"{per_step:.3f} s a step: {args.steps} steps fit in {args.minutes} min", flush=True)
            write_args()
        rec = {"step": step, "loss": round(loss.item(), 4), "nce": round(nce.item() / n, 4),
               "sts": round(sts.item() / n, 4), "ret": round(ret.item() / n, 4), "dist": round(dist.item() / n, 5), "lr": lr, "sec": round(time.time() - t0, 2)}
        if args.monitor_every and (step % args.monitor_every == 0 or step == args.steps):
            rec["dev"] = monitor(model, corpus["monitor"], [1, args.layers // 2, args.layers], sampler.prefix, bool(k))
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if step % 10 == 0 or "dev" in rec:
            print(json.dumps(rec), flush=True)
        stop = args.stop_after and time.time() - started > args.stop_after * 60
        if step % args.ckpt_every == 0 or step == args.steps or stop:
            tmp = ckpt_path + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "elapsed": elapsed, "rng": sampler.rng.getstate(),
                        "torch_rng": torch.get_rng_state(), "config": model.config,
                        "prompt_tokens": [kq, kp]}, tmp)
            os.replace(tmp, ckpt_path)
        if stop:
            print(f"stopped at step {step} of {args.steps} after {args.stop_after} min", flush=True)
            break
    print(f"done: {step} steps, {elapsed / 3600:.2f} h of training", flush=True)


if __name__ == "__main__":
    main()
