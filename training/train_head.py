"""Trains the projection: one H x H matrix per exit, applied to prompted (query / passage)
embeddings after pooling, before truncation and normalisation.

The model and its prompt tokens stay frozen, so every pair is embedded once (at every exit, cached
in work/runs/RUN/head-pairs-s{seed}-n{n}.pt) and the matrices train on the cached vectors in
seconds: InfoNCE of queries against their passages, the other passages of the batch and one mined
hard negative each, summed over the Matryoshka widths. The same matrix maps queries and passages
(a matrix per side learned less on the monitor). Plain text (no prompt) never meets it, so
translation and STS search keep their vectors bit for bit.

  cd training && /usr/bin/python3 train_head.py --run run19 --pairs 7:5120 --epochs 20
writes work/runs/RUN/projection.pt ({"projection.{exit}.weight": [H, H]}), which export.py adds to
model.safetensors.
"""

import argparse
import os
import time

import torch
import torch.nn.functional as F

from model import load_checkpoint
from train import DIMS, WORK, Sampler, embed, load_corpus


@torch.no_grad()
def embed_pairs(model, corpus, prompts, seed, n, weights, exits):
    """n queries, their passages and one hard negative each (a batch's own passage where the query
    has none: `hasneg` marks the real ones), pooled at every exit: {q, p, n: [exits, n, H]}."""
    s = Sampler(corpus, seed)
    s.prefix = prompts
    out = {"q": [], "p": [], "n": [], "hasneg": []}
    t0 = time.time()
    while sum(len(h) for h in out["hasneg"]) < n:
        qs, ps, negs = s.retrieval(64, weights)
        out["hasneg"].append(torch.arange(64) < len(negs))
        negs = (negs + ps)[:64]
        for key, seqs in (("q", qs), ("p", ps), ("n", negs)):
            e = embed(model, seqs, exits)
            out[key].append(torch.stack([e[x] for x in exits]))
        print(f"seed {seed}: {sum(len(h) for h in out['hasneg'])} pairs, {time.time() - t0:.0f} s", flush=True)
    res = {k: torch.cat(v, 1) for k, v in out.items() if k != "hasneg"}
    res["hasneg"] = torch.cat(out["hasneg"])
    return res


def prompted_ids(prompts, seqs, kind):
    return [torch.cat([prompts[kind], s]) for s in seqs]


def monitor_r1(xquad, W):
    """xquad-dev R@1 (monitor languages, mean) per exit x {64, 256}, queries and passages projected."""
    res = {}
    for e in range(len(W)):
        for d in (64, 256):
            hits = []
            for q, p, ans in xquad.values():
                a = F.normalize((q[e] @ W[e].T)[:, :d], dim=-1)
                b = F.normalize((p[e] @ W[e].T)[:, :d], dim=-1)
                hits.append(((a @ b.T).argmax(1).cpu() == ans).float().mean().item())
            res[f"L{e + 1}d{d}"] = round(sum(hits) / len(hits), 4)
    return res


def fit(data, epochs, lr, scale, dims, batch=128):
    E, N, H = data["q"].shape
    device = data["q"].device
    W = torch.eye(H, device=device).repeat(E, 1, 1).requires_grad_(True)
    opt = torch.optim.Adam([W], lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(N).to(device)
        for i in range(0, N - batch + 1, batch):
            idx = perm[i: i + batch]
            neg = idx[data["hasneg"].to(device)[idx]]
            q = torch.einsum("enh,egh->eng", data["q"][:, idx], W)
            p = torch.einsum("enh,egh->eng", torch.cat([data["p"][:, idx], data["n"][:, neg]], 1), W)
            loss = 0
            for d in dims:
                logits = F.normalize(q[..., :d], dim=-1) @ F.normalize(p[..., :d], dim=-1).transpose(1, 2) * scale
                loss = loss + F.cross_entropy(logits.flatten(0, 1), torch.arange(batch, device=device).repeat(E))
            opt.zero_grad()
            (loss / len(dims)).backward()
            opt.step()
    return W.detach()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True,
                    help="a run that trained retrieval pairs: behind its prompt tokens, or behind the text prefixes")
    ap.add_argument("--pairs", default="7:5120", help="seed:count,... of pairs to embed (cached)")
    ap.add_argument("--ret-weights", default="flores-ict=0.57,help-ict=0.43")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    run_dir = os.path.join(WORK, "runs", args.run)
    corpus = load_corpus()
    model, ck = load_checkpoint(os.path.join(run_dir, "ckpt.pt"))
    model.to(args.device)
    cfg = ck["config"]
    kq, kp = ck.get("prompt_tokens", (0, 0))
    base = cfg["vocab_size"] - kq - kp
    prompts = {"query": torch.arange(base, base + kq, dtype=torch.int32),
               "passage": torch.arange(base + kq, base + kq + kp, dtype=torch.int32)} if kq and kp else corpus["ret_prefix"]
    exits = list(range(1, cfg["num_hidden_layers"] + 1))
    weights = {k: float(v) for k, v in (kv.split("=") for kv in args.ret_weights.split(","))}
    parts = []
    for spec in args.pairs.split(","):
        seed, n = (int(x) for x in spec.split(":"))
        path = os.path.join(run_dir, f"head-pairs-s{seed}-n{n}.pt")
        if not os.path.exists(path):
            data = embed_pairs(model, corpus, prompts, seed, n, weights, exits)
            torch.save(data, path + ".tmp")
            os.replace(path + ".tmp", path)
        parts.append(torch.load(path, map_location=args.device, weights_only=False))
    data = {k: torch.cat([p[k] for p in parts], 0 if k == "hasneg" else 1) for k in ("q", "p", "n", "hasneg")}
    with torch.no_grad():
        xquad = {}
        for lang, (q, p, ans) in corpus["monitor"]["xquad"].items():
            eq, ep = embed(model, prompted_ids(prompts, q, "query"), exits), embed(model, prompted_ids(prompts, p, "passage"), exits)
            xquad[lang] = (torch.stack([eq[e] for e in exits]), torch.stack([ep[e] for e in exits]), ans)
    H = cfg["hidden_size"]
    dims = [d for d in DIMS if d < H] + [H]
    print("monitor without:", monitor_r1(xquad, torch.eye(H, device=args.device).repeat(len(exits), 1, 1)), flush=True)
    t0 = time.time()
    W = fit(data, args.epochs, args.lr, args.scale, dims)
    print(f"fitted on {data['q'].shape[1]} pairs in {time.time() - t0:.0f} s", flush=True)
    print("monitor with:   ", monitor_r1(xquad, W), flush=True)
    torch.save({f"projection.{e}.weight": W[e - 1].cpu().clone() for e in exits}, os.path.join(run_dir, "projection.pt"))


if __name__ == "__main__":
    main()
