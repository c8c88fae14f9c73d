#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's ModernBERT parity tests.

Writes fixtures/modernbert-tiny/ and fixtures/modernbert-bias-tiny/ (see README.md next to this file):
a Gemma-2-style byte-fallback BPE tokenizer trained here on FLORES dev text, random ModernBERT weights
in Hugging Face layout, and the expected hidden states and pooled vectors at every exit, in both exit
conventions (intermediate exits raw, or with the final norm).

Run from the repository root:  python3 test/oracle/make_modernbert.py [--no-node]

The forward below is written from the published Hugging Face definition (transformers
models/modernbert/modeling_modernbert.py and configuration_modernbert.py); transformers is not used.
Conventions it follows, all read from that source:
  - embeddings: tok_embeddings -> LayerNorm (bias iff norm_bias) -> dropout; no position embeddings
  - layer l is global iff l % global_attn_every_n_layers == 0 (or layer_types[l] == "full_attention");
    local layers see keys with |i - j| <= local_attention // 2, and never padding
  - global layers rotate with global_rope_theta (rope_parameters.full_attention.rope_theta), local
    layers with local_rope_theta (rope_parameters.sliding_attention.rope_theta); positions are
    0..len-1 within each right-padded row; rotate_half (non-interleaved) over the whole head
  - layer 0's attn_norm is Identity; every other layer: h += Wo(attn(LN(h))); h += mlp(LN(h))
  - mlp: Wi -> chunk(2) = (input, gate) -> act(input) * gate -> Wo (hidden_activation: exact erf GELU, or SiLU)
  - hidden_states[k] (k < L) is the raw residual stream; last_hidden_state = final_norm(h_L)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import math  # noqa: E402
import shutil  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

OUT = mf.OUT
SPACE = "\u2581"
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]  # Gemma's ids 0..4
BYTES = [f"<0x{b:02X}>" for b in range(256)]

# --------------------------------------------------------------------------------------------------
# Gemma-2-style BPE: spaces become U+2581, no pre-tokenizer (the whole text is one BPE word), merges
# by rank (leftmost first on ties), byte fallback for symbols outside the vocabulary, <bos> $A <eos>.
# --------------------------------------------------------------------------------------------------


def train_bpe(texts, min_char, n_merges):
    words = Counter()
    for t in texts:
        for i, w in enumerate(t.replace(" ", SPACE).split(SPACE)):
            if w or i > 0:
                words[(SPACE if i > 0 else "") + w] += 1
    chars = Counter()
    for w, n in words.items():
        for ch in w:
            chars[ch] += n
    alphabet = sorted(ch for ch, n in chars.items() if n >= min_char)
    known = set(alphabet)
    # Words as symbol tuples; characters outside the alphabet split the word (they fall back to bytes).
    seqs = Counter()
    for w, n in words.items():
        part = []
        for ch in w:
            if ch in known:
                part.append(ch)
            elif part:
                seqs[tuple(part)] += n
                part = []
        if part:
            seqs[tuple(part)] += n
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for s, n in seqs.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = Counter()
        for s, n in seqs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            merged[tuple(out)] += n
        seqs = merged
    vocab = {}
    for t in SPECIALS + BYTES + alphabet + [a + b for a, b in merges]:
        vocab.setdefault(t, len(vocab))
    return vocab, merges


class GemmaBpe:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}

    def tokens(self, text, specials=True):
        syms = list(text.replace(" ", SPACE))
        while len(syms) > 1:
            best = None
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            syms[i : i + 2] = [syms[i] + syms[i + 1]]
        out = []
        for s in syms:
            out.extend([s] if s in self.vocab else [f"<0x{b:02X}>" for b in s.encode("utf-8")])
        return ["<bos>", *out, "<eos>"] if specials else out

    def encode(self, text):
        return [self.vocab[t] for t in self.tokens(text)]


def tokenizer_json(vocab, merges):
    added = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        for i, t in enumerate(SPECIALS)
    ]
    special = lambda t: {"SpecialToken": {"id": t, "type_id": 0}}  # noqa: E731
    seq = lambda s, i: {"Sequence": {"id": s, "type_id": i}}  # noqa: E731
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("<bos>"), seq("A", 0), special("<eos>")],
            "pair": [special("<bos>"), seq("A", 0), special("<eos>"), seq("B", 1), special("<eos>")],
            "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in ("<bos>", "<eos>")},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[a, b] for a, b in merges],
        },
    }


# --------------------------------------------------------------------------------------------------
# ModernBERT forward (float64)
# --------------------------------------------------------------------------------------------------

STD = {"emb": 0.5, "qk": 0.15, "v": 0.15, "o": 0.12, "wi": 0.2, "wo": 0.1}


def make_weights(cfg, seed):
    rs = np.random.RandomState(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    w = []

    def normal(name, shape, std):
        w.append((name, rs.standard_normal(shape) * std))

    def ln(name):
        w.append((name + ".weight", 1.0 + 0.1 * rs.standard_normal((H,))))
        if cfg["norm_bias"]:
            w.append((name + ".bias", 0.1 * rs.standard_normal((H,))))

    def lin(name, o, i, std, bias):
        normal(name + ".weight", (o, i), std)
        if bias:
            normal(name + ".bias", (o,), 0.1)

    ab, mb = cfg["attention_bias"], cfg["mlp_bias"]
    normal("model.embeddings.tok_embeddings.weight", (V, H), STD["emb"])
    ln("model.embeddings.norm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        if l > 0:
            ln(p + "attn_norm")
        qkv = rs.standard_normal((3 * H, H))
        qkv[: 2 * H] *= STD["qk"]
        qkv[2 * H :] *= STD["v"]
        w.append((p + "attn.Wqkv.weight", qkv))
        if ab:
            normal(p + "attn.Wqkv.bias", (3 * H,), 0.1)
        lin(p + "attn.Wo", H, H, STD["o"], ab)
        ln(p + "mlp_norm")
        lin(p + "mlp.Wi", 2 * I, H, STD["wi"], mb)
        lin(p + "mlp.Wo", H, I, STD["wo"], mb)
    ln("model.final_norm")
    # The masked-LM head a ModernBertForMaskedLM checkpoint carries; the runtime must ignore it.
    lin("head.dense", H, H, 0.2, False)
    ln("head.norm")
    normal("decoder.bias", (V,), 0.1)
    return w


def layer_norm(x, W, name, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"]
    return y + W[name + ".bias"] if name + ".bias" in W else y


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def layer_is_global(cfg, l):
    if "layer_types" in cfg:
        return cfg["layer_types"][l] == "full_attention"
    return l % cfg["global_attn_every_n_layers"] == 0


def thetas(cfg):
    if "rope_parameters" in cfg:
        rp = cfg["rope_parameters"]
        return rp["full_attention"]["rope_theta"], rp["sliding_attention"]["rope_theta"]
    return cfg["global_rope_theta"], cfg["local_rope_theta"]


def forward(W, cfg, ids, mask, swap_thetas=False, all_global=False, dtype=torch.float64):
    """Raw residual stream after the embeddings and after each layer ([B, S, H] each) and final_norm(h_L). dtype: of
    the positions, angles and mask fill (float32 where bench/onnx_modernbert.py traces it over float32 weights)."""
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["norm_eps"]
    d = H // nh
    B, S = ids.shape
    half = cfg["local_attention"] // 2
    g_theta, l_theta = thetas(cfg)
    act = torch.nn.functional.silu if cfg.get("hidden_activation") in ("silu", "swish") else gelu
    if swap_thetas:
        g_theta, l_theta = l_theta, g_theta

    def lin(t, name):
        y = t @ W[name + ".weight"].T
        return y + W[name + ".bias"] if name + ".bias" in W else y

    x = layer_norm(W["model.embeddings.tok_embeddings.weight"][ids], W, "model.embeddings.norm", eps)
    states = [x]
    pos = torch.arange(S, dtype=dtype)
    keys = mask.bool()[:, None, None, :]  # [B, 1, 1, S]
    dist = (pos[:, None] - pos[None, :]).abs()
    neg = torch.finfo(dtype).min
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        glob = all_global or layer_is_global(cfg, l)
        theta = g_theta if glob else l_theta
        inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=dtype) / d))
        ang = torch.cat([pos[:, None] * inv[None, :]] * 2, dim=-1)  # [S, d]
        cos, sin = ang.cos(), ang.sin()
        h = x if l == 0 else layer_norm(x, W, p + "attn_norm", eps)
        qkv = lin(h, p + "attn.Wqkv").view(B, S, 3, nh, d).permute(2, 0, 3, 1, 4)  # [3, B, nh, S, d]
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        allowed = keys if glob else keys & (dist <= half)[None, None]
        probs = torch.softmax(torch.where(allowed, scores, torch.full_like(scores, neg)), dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, S, H)
        x = x + lin(ctx, p + "attn.Wo")
        inp, gate = lin(layer_norm(x, W, p + "mlp_norm", eps), p + "mlp.Wi").chunk(2, dim=-1)
        x = x + lin(act(inp) * gate, p + "mlp.Wo")
        states.append(x)
    return states, layer_norm(x, W, "model.final_norm", eps)


def min_cosine(a, b, lengths):
    worst = 1.0
    for i, n in enumerate(lengths):
        u, w = a[i, :n].mean(0), b[i, :n].mean(0)
        worst = min(worst, (u @ w / (u.norm() * w.norm())).item())
    return worst


def run_model(name, cfg, tok, vocab, merges, texts, dtype, seed):
    folder = os.path.join(OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    mf.write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "tokenizer_class": "GemmaTokenizer",
            "bos_token": "<bos>",
            "eos_token": "<eos>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "model_max_length": cfg["max_position_embeddings"],
        },
    )
    mf.write_json(os.path.join(folder, "tokenizer.json"), tokenizer_json(vocab, merges), compact=True)
    stored = [(n, a.astype(dtype)) for n, a in make_weights(cfg, seed)]
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, stored, {"format": "pt"})
    W = {n: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}

    ids = [tok.encode(t) for t in texts]
    lengths = [len(x) for x in ids]
    assert max(lengths) <= cfg["max_position_embeddings"], lengths
    assert max(lengths) > cfg["local_attention"] + 1, "some text must be longer than the local window"
    B, S = len(ids), max(lengths)
    inp = torch.full((B, S), cfg["pad_token_id"], dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    with torch.no_grad():
        states, final = forward(W, cfg, inp, mask)
        for i, x in enumerate(ids):  # each text alone must equal its rows of the padded batch
            alone, alone_final = forward(W, cfg, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long))
            for l in range(len(states)):
                diff = (alone[l][0] - states[l][i, : len(x)]).abs().max().item()
                assert diff < 1e-9, (name, i, l, diff)
            assert (alone_final[0] - final[i, : len(x)]).abs().max().item() < 1e-9
        # The fixture must tell the conventions apart: swapping the thetas or dropping the window has to
        # move the output well past the f32 parity bound.
        swapped = min_cosine(forward(W, cfg, inp, mask, swap_thetas=True)[1], final, lengths)
        unwindowed = min_cosine(forward(W, cfg, inp, mask, all_global=True)[1], final, lengths)
        assert swapped < 0.999 and unwindowed < 0.999, (swapped, unwindowed)

    L = cfg["num_hidden_layers"]
    out = []
    W_final = lambda h: layer_norm(h, W, "model.final_norm", cfg["norm_eps"])  # noqa: E731
    for i, n in enumerate(lengths):
        for l in range(L + 1):
            raw = states[l][i, :n]
            exit_none = final[i, :n] if l == L else raw
            out.append((f"hidden.{i}.{l}", exit_none.numpy().astype(np.float32)))
            if l == 0:
                continue
            exit_final = W_final(raw)
            for conv, h in (("none", exit_none), ("final", exit_final)):
                out.append((f"mean.{conv}.{i}.{l}", h.mean(0).numpy().astype(np.float32)))
                out.append((f"cls.{conv}.{i}.{l}", h[0].numpy().astype(np.float32)))
    mf.write_safetensors(os.path.join(folder, "expected.safetensors"), out)
    expected = {
        "model": name,
        "texts": texts,
        "ids": ids,
        "tokens": [tok.tokens(t) for t in texts],
        "layers": L,
        "hidden": cfg["hidden_size"],
        "note": "hidden.{i}.{l}: [len_i, hidden], real tokens only, in the default exit convention: l=0 the "
        "embedding output after its norm, 0<l<L the raw output of layer l, l=L final_norm(layer L). "
        "{mean,cls}.{none,final}.{i}.{l} (l>=1): mean over real tokens / token 0 of the exit in each "
        "convention ('final' applies final_norm at every exit). float64, one right-padded batch checked "
        "against each text alone, stored as F32.",
    }
    mf.write_json(os.path.join(folder, "expected.json"), expected)
    byte_tokens = sum(1 for x in ids for t in x if 5 <= t < 5 + 256)
    print(
        f"{name}: vocab {len(vocab)}, {len(texts)} texts, lengths {lengths}, {byte_tokens} byte-fallback tokens; "
        f"min cosine vs swapped thetas {swapped:.4f}, vs no window {unwindowed:.4f}"
    )


def config(vocab_size, **kw):
    """The fields of the public mmBERT config.json files, in their order; values scaled down, and the
    local theta differs from the global one on purpose (mmBERT uses 160k for both)."""
    cfg = {
        "architectures": ["ModernBertForMaskedLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 2,
        "classifier_activation": "gelu",
        "classifier_bias": False,
        "classifier_dropout": 0.0,
        "classifier_pooling": "mean",
        "cls_token_id": 2,
        "decoder_bias": True,
        "deterministic_flash_attn": False,
        "embedding_dropout": 0.0,
        "eos_token_id": 1,
        "global_attn_every_n_layers": 3,
        "global_rope_theta": 160000.0,
        "hidden_activation": "gelu",
        "hidden_size": 64,
        "initializer_cutoff_factor": 2.0,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "local_attention": 16,
        "local_rope_theta": 10000.0,
        "max_position_embeddings": 160,
        "mlp_bias": False,
        "mlp_dropout": 0.0,
        "model_type": "modernbert",
        "norm_bias": False,
        "norm_eps": 1e-05,
        "num_attention_heads": 4,
        "num_hidden_layers": 4,
        "pad_token_id": 0,
        "sep_token_id": 1,
        "torch_dtype": "float32",
        "vocab_size": vocab_size,
    }
    cfg.update(kw)
    return cfg


def main():
    assert os.path.isdir(mf.FLORES), f"missing {mf.FLORES}"
    os.makedirs(OUT, exist_ok=True)
    corpus = mf.dev_corpus()
    train = [t for lang in ("eng_Latn", "deu_Latn", "fra_Latn", "rus_Cyrl", "ell_Grek") for _, t in corpus[lang]]
    vocab, merges = train_bpe(train, min_char=20, n_merges=700)
    tok = GemmaBpe(vocab, merges)
    pool = mf.base_pool(corpus)  # eng deu fra rus zho jpn arb hin ell, "Hi!", emoji text
    eng = [t for _, t in corpus["eng_Latn"]]
    words = " ".join(eng[:4]).split()
    long_text = " ".join(words[: max(n for n in range(1, len(words)) if len(tok.encode(" ".join(words[:n]))) <= 120)])
    texts = [pool[0], pool[1], pool[3], pool[4][:12], pool[8], pool[9], pool[10], long_text]
    run_model("modernbert-tiny", config(len(vocab)), tok, vocab, merges, texts, np.float32, 4321)
    # Transformers 5 config form (layer_types, rope_parameters), every bias present, F16 weights.
    bias_cfg = config(
        len(vocab),
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=48,
        num_hidden_layers=3,
        local_attention=8,
        attention_bias=True,
        mlp_bias=True,
        norm_bias=True,
        global_attn_every_n_layers=2,
        layer_types=["full_attention", "sliding_attention", "full_attention"],
        rope_parameters={
            "full_attention": {"rope_type": "default", "rope_theta": 10000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 500.0},
        },
        torch_dtype="float16",
    )
    for k in ("global_rope_theta", "local_rope_theta"):
        del bias_cfg[k]
    run_model("modernbert-bias-tiny", bias_cfg, tok, vocab, merges, [pool[0], pool[3], pool[9], long_text[:200]], np.float16, 8765)
    if "--no-node" not in sys.argv and shutil.which("node"):
        rc = mf.node_check()
        if rc != 0:
            sys.exit(rc)


if __name__ == "__main__":
    main()
