#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's parity tests.

Regenerates everything under test/oracle/fixtures/ (see README.md next to this file):

  fixtures/bert-tiny/        uncased WordPiece + random BERT (F32 weights), expected hidden states
  fixtures/xlmr-tiny/        cased WordPiece (XLM-R special-token layout) + random XLM-R (F16 weights)
  fixtures/tokenizer-bge/    bert-base-uncased tokenizer.json rebuilt from llama.cpp's vocab-only GGUF,
                             with the reference Hugging Face ids from llama.cpp's bge.inp / bge.out

Run from the repository root:  python3 test/oracle/make_fixtures.py [--no-node]

Only the Python standard library, numpy and torch (Debian's python3-torch) are used; no transformers,
tokenizers or safetensors packages. Source text is read from ../shared/data at generation time only.
"""

import os
import sys

try:  # Debian's torch lives in /usr/bin/python3's dist-packages; a pyenv python3 may shadow it.
    import numpy as np
    import torch
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
        "/usr/bin/python3"
    ):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

import csv
import json
import math
import shutil
import struct
import subprocess
import unicodedata
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))
FLORES = os.path.join(SHARED, "flores-sib200")
TOKDATA = os.path.join(SHARED, "tokenizers")
OUT = os.path.join(HERE, "fixtures")

torch.set_num_threads(2)

# --------------------------------------------------------------------------------------------------
# Independent implementation of Hugging Face BertTokenizer semantics
# --------------------------------------------------------------------------------------------------


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def clean_text(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def space_cjk(text):
    return "".join(f" {ch} " if is_cjk(ord(ch)) else ch for ch in text)


def strip_accents(text):
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def split_on_punct(word):
    out, cur = [], []
    for ch in word:
        if is_punctuation(ch):
            if cur:
                out.append("".join(cur))
                cur = []
            out.append(ch)
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def basic_tokenize(text, lowercase):
    """BasicTokenizer: clean, space CJK, whitespace split, (lowercase + strip accents), punct split."""
    text = space_cjk(clean_text(text))
    words = []
    for w in text.split():
        if lowercase:
            w = strip_accents(w.lower())
        words.extend(split_on_punct(w))
    return words


def wordpiece(word, vocab, unk, max_chars=100):
    chars = list(word)
    if len(chars) > max_chars:
        return [unk]
    out, start = [], 0
    while start < len(chars):
        end, cur = len(chars), None
        while start < end:
            sub = "".join(chars[start:end])
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return [unk]
        out.append(cur)
        start = end
    return out


class WordPieceTokenizer:
    def __init__(self, vocab, lowercase, unk, cls, sep, added=(), lstrip=()):
        self.vocab = vocab  # token -> id
        self.lowercase = lowercase
        self.unk, self.cls, self.sep = unk, cls, sep
        self.added = sorted(added, key=lambda t: (-len(t), t))  # special tokens, matched on raw text
        self.lstrip = set(lstrip)

    def split_added(self, text):
        """Special (added, normalized=false) tokens are cut out of the raw text before normalisation,
        leftmost match first, longest first; an lstrip token also swallows whitespace on its left."""
        out, start, i = [], 0, 0
        while i < len(text):
            hit = next((t for t in self.added if text.startswith(t, i)), None)
            if hit is None:
                i += 1
                continue
            before = text[start:i]
            if hit in self.lstrip:
                before = before.rstrip()
            out.append((before, False))
            out.append((hit, True))
            i += len(hit)
            start = i
        out.append((text[start:], False))
        return out

    def tokens(self, text, specials=True):
        toks = []
        for section, is_added in self.split_added(text):
            if is_added:
                toks.append(section)
                continue
            for w in basic_tokenize(section, self.lowercase):
                toks.extend(wordpiece(w, self.vocab, self.unk))
        return [self.cls, *toks, self.sep] if specials else toks

    def encode(self, text, specials=True):
        return [self.vocab[t] for t in self.tokens(text, specials)]


def tokenizer_json(vocab, specials, lowercase, unk, cls, sep, lstrip=()):
    """A Hugging Face tokenizers JSON (as BertTokenizerFast saves it) for a WordPiece vocab."""
    added = [
        {
            "id": vocab[t],
            "content": t,
            "single_word": False,
            "lstrip": t in lstrip,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for t in sorted(specials, key=lambda t: vocab[t])
    ]
    pair = [
        {"SpecialToken": {"id": cls, "type_id": 0}},
        {"Sequence": {"id": "A", "type_id": 0}},
        {"SpecialToken": {"id": sep, "type_id": 0}},
    ]
    if cls == "<s>":  # XLM-R layout: <s> A </s> </s> B </s>, all type 0
        pair += [{"SpecialToken": {"id": sep, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}]
        pair += [{"SpecialToken": {"id": sep, "type_id": 0}}]
    else:
        pair += [{"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": sep, "type_id": 1}}]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None if lowercase else False,
            "lowercase": lowercase,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": cls, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": sep, "type_id": 0}},
            ],
            "pair": pair,
            "special_tokens": {
                t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in sorted((cls, sep), key=lambda t: vocab[t])
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": unk,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": vocab,
        },
    }


# tokenizer_config.json's special-token fields in XLM-R's layout (xlmr-tiny; MPNet's tokenizer has the same).
XLMR_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "cls_token": "<s>",
    "mask_token": "<mask>",
}


# --------------------------------------------------------------------------------------------------
# Small helpers: JSON, safetensors writer, corpus
# --------------------------------------------------------------------------------------------------


def write_json(path, obj, compact=False):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, np.ndarray) with dtype float32 / float16 (or float64, int8, int64). Standard safetensors
    layout."""
    codes = {np.dtype(k): v for k, v in SAFETENSORS_DTYPES.items()}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": codes[arr.dtype], "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hdr += b" " * ((8 - len(hdr) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for b in blobs:
            f.write(b)


SAFETENSORS_DTYPES = {np.float32: "F32", np.float16: "F16", np.float64: "F64", np.int8: "I8", np.int64: "I64"}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack_from("<Q", buf, 0)[0]
    header = json.loads(buf[8 : 8 + n])
    header.pop("__metadata__", None)
    dt = {v: k for k, v in SAFETENSORS_DTYPES.items()}
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(buf[8 + n + a : 8 + n + b], dtype=np.dtype(dt[h["dtype"]]).newbyteorder("<"))
        out[name] = out[name].reshape(h["shape"])
    return out


def read_flores(lang, split="dev"):
    with open(os.path.join(FLORES, lang, f"{split}.tsv"), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == ["index_id", "category", "text"], rows[0]
    return [(int(r[0]), r[2]) for r in rows[1:]]


LANGS = ["eng_Latn", "deu_Latn", "fra_Latn", "rus_Cyrl", "zho_Hans", "jpn_Jpan", "arb_Arab", "hin_Deva", "ell_Grek"]
# One FLORES dev sentence per language (by index_id; different sentences, all fairly short).
POOL_IDS = {
    "eng_Latn": 1075,
    "deu_Latn": 331,
    "fra_Latn": 610,
    "rus_Cyrl": 596,
    "zho_Hans": 1944,
    "jpn_Jpan": 1915,
    "arb_Arab": 1026,
    "hin_Deva": 1282,
    "ell_Grek": 1169,
}
SHORT_TEXT = "Hi!"
# Emoji (incl. a skin-tone modifier and a ZWJ sequence: U+200D is a format char that clean_text drops),
# accents, curly quotes, an em dash, a tab and a double space. All code points are Unicode <= 13.
EMOJI_TEXT = "Crème brûlée at the café 😋🍮 — naïve Zoë said “très bien!”\t👍🏽  👩\u200d💻 Ångström"


def dev_corpus():
    return {lang: read_flores(lang, "dev") for lang in LANGS}


def base_pool(corpus):
    texts = []
    for lang in LANGS:
        hit = [t for i, t in corpus[lang] if i == POOL_IDS[lang]]
        assert len(hit) == 1, (lang, POOL_IDS[lang])
        texts.append(hit[0])
    return texts + [SHORT_TEXT, EMOJI_TEXT]


def long_text(tok, corpus, max_tokens):
    """English dev sentences in file order, then words of the next one, while the encoded length fits."""
    parts = []
    for _, t in corpus["eng_Latn"]:
        if len(tok.encode(" ".join(parts + [t]))) <= max_tokens:
            parts.append(t)
            continue
        for w in t.split():
            if len(tok.encode(" ".join(parts + [w]))) > max_tokens:
                break
            parts.append(w)
        break
    text = " ".join(parts)
    return text, len(tok.encode(text))


# --------------------------------------------------------------------------------------------------
# Vocabulary builder (deterministic; frequency-based WordPiece-ish vocab from the dev corpus)
# --------------------------------------------------------------------------------------------------


def build_vocab(corpus_texts, specials, lowercase, min_char, n_words, n_prefix, n_suffix):
    words = Counter()
    for t in corpus_texts:
        words.update(basic_tokenize(t, lowercase))
    chars = Counter()
    for w, c in words.items():
        for ch in w:
            chars[ch] += c
    # All printable ASCII (as in real BERT vocabs), then every other character seen >= min_char times.
    ascii_chars = [chr(c).lower() if lowercase else chr(c) for c in range(33, 127)]
    ascii_chars = list(dict.fromkeys(ascii_chars))
    rest = sorted((ch for ch, c in chars.items() if c >= min_char and ch not in ascii_chars), key=lambda ch: (-chars[ch], ch))
    keep_chars = ascii_chars + rest
    keep = set(keep_chars)
    tokens = list(specials)
    seen = set(tokens)

    def add(t):
        if t not in seen:
            seen.add(t)
            tokens.append(t)

    for ch in keep_chars:
        add(ch)
    for ch in keep_chars:
        if not (is_cjk(ord(ch)) or is_punctuation(ch)):
            add("##" + ch)
    ok_words = [w for w in words if len(w) >= 2 and all(ch in keep for ch in w)]
    for w in sorted(ok_words, key=lambda w: (-words[w], w))[:n_words]:
        if words[w] >= 2:
            add(w)
    pre, suf = Counter(), Counter()
    for w in ok_words:
        c = words[w]
        for j in range(2, min(6, len(w))):
            pre[w[:j]] += c
        for i in range(1, len(w) - 1):
            for j in range(i + 2, min(i + 6, len(w) + 1)):
                suf["##" + w[i:j]] += c
    for p in sorted(pre, key=lambda p: (-pre[p], p))[:n_prefix]:
        add(p)
    for s in sorted(suf, key=lambda s: (-suf[s], s))[:n_suffix]:
        add(s)
    return {t: i for i, t in enumerate(tokens)}


# --------------------------------------------------------------------------------------------------
# Random weights and the PyTorch forward (written from HF BertModel / XLMRobertaModel)
# --------------------------------------------------------------------------------------------------


# Standard deviations of the random weights. Chosen so that (a) attention is clearly non-uniform
# (per-head logit std about 4) and (b) token states do not collapse onto one vector in the deeper
# layers (mean pairwise token cosine stays about 0.4-0.6 at the last layer), so every layer of the
# expected output still depends on token identity, position and the mask. LayerNorm weights are
# 1 + 0.1*noise, biases 0.1*noise.
BERT_STD = {"emb": 0.5, "type": 0.1, "qk": 0.3, "v": 0.12, "o": 0.12, "ffn_in": 0.2, "ffn_out": 0.1}
XLMR_STD = {"emb": 0.5, "type": 0.1, "qk": 0.26, "v": 0.1, "o": 0.1, "ffn_in": 0.17, "ffn_out": 0.09}


def make_weights(cfg, prefix, seed, std, head_names):
    rs = np.random.RandomState(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    P, T = cfg["max_position_embeddings"], cfg["type_vocab_size"]
    w = []

    def normal(name, shape, std):
        w.append((name, (rs.standard_normal(shape) * std)))

    def ln(name, n):
        w.append((name + ".weight", 1.0 + 0.1 * rs.standard_normal((n,))))
        w.append((name + ".bias", 0.1 * rs.standard_normal((n,))))

    def lin(name, o, i, std):
        normal(name + ".weight", (o, i), std)
        normal(name + ".bias", (o,), 0.1)

    e = prefix + "embeddings."
    normal(e + "word_embeddings.weight", (V, H), std["emb"])
    normal(e + "position_embeddings.weight", (P, H), std["emb"])
    normal(e + "token_type_embeddings.weight", (T, H), std["type"])
    ln(e + "LayerNorm", H)
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        lin(p + "attention.self.query", H, H, std["qk"])
        lin(p + "attention.self.key", H, H, std["qk"])
        lin(p + "attention.self.value", H, H, std["v"])
        lin(p + "attention.output.dense", H, H, std["o"])
        ln(p + "attention.output.LayerNorm", H)
        lin(p + "intermediate.dense", I, H, std["ffn_in"])
        lin(p + "output.dense", H, I, std["ffn_out"])
        ln(p + "output.LayerNorm", H)
    lin(prefix + "pooler.dense", H, H, 0.2)
    # Masked-LM head tensors as a real *ForMaskedLM checkpoint carries them (the runtime must ignore them).
    lin(head_names["dense"], H, H, 0.2)
    ln(head_names["ln"], H)
    normal(head_names["bias"], (V,), 0.1)
    return w


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def forward(W, cfg, prefix, input_ids, attention_mask, roberta):
    """Returns the list of hidden states [emb, layer1, ..., layerN], each [B, S, H] (float64)."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    dh, eps = H // nh, cfg["layer_norm_eps"]
    B, S = input_ids.shape
    g = lambda n: W[prefix + n]  # noqa: E731
    if roberta:  # HF create_position_ids_from_input_ids
        pad = cfg["pad_token_id"]
        m = (input_ids != pad).long()
        pos = torch.cumsum(m, dim=1) * m + pad
    else:
        pos = torch.arange(S).unsqueeze(0).expand(B, S)
    tt = torch.zeros_like(input_ids)
    x = g("embeddings.word_embeddings.weight")[input_ids]
    x = x + g("embeddings.token_type_embeddings.weight")[tt] + g("embeddings.position_embeddings.weight")[pos]
    x = layer_norm(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    states = [x]
    neg = torch.finfo(x.dtype).min
    add_mask = (1.0 - attention_mask.to(x.dtype))[:, None, None, :] * neg  # [B,1,1,S]

    def lin(t, n):
        return t @ g(n + ".weight").T + g(n + ".bias")

    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."

        def heads(t):
            return t.view(B, S, nh, dh).permute(0, 2, 1, 3)

        q = heads(lin(x, p + "attention.self.query"))
        k = heads(lin(x, p + "attention.self.key"))
        v = heads(lin(x, p + "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, S, H)
        a = lin(ctx, p + "attention.output.dense")
        a = layer_norm(
            a + x, g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias"), eps
        )
        h = gelu(lin(a, p + "intermediate.dense"))
        h = lin(h, p + "output.dense")
        x = layer_norm(h + a, g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"), eps)
        states.append(x)
    return states


def cross_check_torch_nn(W, cfg, prefix, inp, mask, states):
    """Second route through the encoder: torch.nn.TransformerEncoderLayer (post-LN, exact GELU) loaded
    with the same weights, fed our embedding output; must agree with the hand-written layers."""
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    x = states[0]
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        m = torch.nn.TransformerEncoderLayer(
            H, nh, cfg["intermediate_size"], dropout=0.0, activation="gelu", layer_norm_eps=eps, batch_first=True
        ).double()
        m.eval()
        sd = {
            "self_attn.in_proj_weight": torch.cat([W[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]),
            "self_attn.in_proj_bias": torch.cat([W[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]),
            "self_attn.out_proj.weight": W[p + "attention.output.dense.weight"],
            "self_attn.out_proj.bias": W[p + "attention.output.dense.bias"],
            "linear1.weight": W[p + "intermediate.dense.weight"],
            "linear1.bias": W[p + "intermediate.dense.bias"],
            "linear2.weight": W[p + "output.dense.weight"],
            "linear2.bias": W[p + "output.dense.bias"],
            "norm1.weight": W[p + "attention.output.LayerNorm.weight"],
            "norm1.bias": W[p + "attention.output.LayerNorm.bias"],
            "norm2.weight": W[p + "output.LayerNorm.weight"],
            "norm2.bias": W[p + "output.LayerNorm.bias"],
        }
        m.load_state_dict(sd)
        x = m(x, src_key_padding_mask=(mask == 0))
        valid = mask.bool()
        d = (x[valid] - states[l + 1][valid]).abs().max().item()
        assert d < 1e-9, ("torch.nn cross-check", l, d)
        x = states[l + 1]  # continue from our state so padded rows cannot drift


def run_model(name, cfg, tok, texts, prefix, roberta, weights, dtype, tokenizer_cfg, tok_json):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), cfg)
    write_json(os.path.join(folder, "tokenizer_config.json"), tokenizer_cfg)
    write_json(os.path.join(folder, "tokenizer.json"), tok_json)
    stored = [(n, a.astype(dtype)) for n, a in weights]
    write_safetensors(os.path.join(folder, "model.safetensors"), stored, {"format": "pt"})
    # The oracle computes in float64 from exactly the stored (possibly f16-rounded) values, read back.
    W = {n: torch.from_numpy(a.astype(np.float64)) for n, a in read_safetensors(os.path.join(folder, "model.safetensors")).items()}

    ids = [tok.encode(t) for t in texts]
    toks = [tok.tokens(t) for t in texts]
    maxpos = cfg["max_position_embeddings"] - (cfg["pad_token_id"] + 1 if roberta else 0)
    for i, x in enumerate(ids):
        assert len(x) <= maxpos, (name, i, len(x), maxpos)
    B, S, pad = len(ids), max(map(len, ids)), cfg["pad_token_id"]
    inp = torch.full((B, S), pad, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    with torch.no_grad():
        batch = forward(W, cfg, prefix, inp, mask, roberta)
        cross_check_torch_nn(W, cfg, prefix, inp, mask, batch)
        for i, x in enumerate(ids):  # each text alone must equal its rows of the padded batch
            alone = forward(W, cfg, prefix, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long), roberta)
            for l in range(len(batch)):
                d = (alone[l][0] - batch[l][i, : len(x)]).abs().max().item()
                assert d < 1e-9, (name, i, l, d)
    L = cfg["num_hidden_layers"]
    out = []
    for i, x in enumerate(ids):
        n = len(x)
        for l in range(L + 1):
            h = batch[l][i, :n]
            out.append((f"hidden.{i}.{l}", h.numpy().astype(np.float32)))
            out.append((f"mean.{i}.{l}", h.mean(0).numpy().astype(np.float32)))
            out.append((f"cls.{i}.{l}", h[0].numpy().astype(np.float32)))
    write_safetensors(os.path.join(folder, "expected.safetensors"), out)
    unk = tok.vocab[tok.unk]
    expected = {
        "model": name,
        "texts": texts,
        "ids": ids,
        "tokens": toks,
        "layers": L,
        "hidden": cfg["hidden_size"],
        "note": "hidden.{i}.{l}: [len_i, hidden] real tokens only; l=0 is the embedding output after "
        "LayerNorm, l=k the output of layer k. mean.{i}.{l}: mean over real tokens (not normalised). "
        "cls.{i}.{l}: token 0. Computed in float64 (one right-padded batch, checked against each text "
        "alone), stored as F32.",
    }
    write_json(os.path.join(folder, "expected.json"), expected)
    n_tok = sum(map(len, ids))
    n_unk = sum(x.count(unk) for x in ids)
    print(f"{name}: vocab {len(tok.vocab)}, {len(texts)} texts, lengths {[len(x) for x in ids]}, "
          f"{n_unk}/{n_tok} unk; last-layer |cls| std {batch[-1][:, 0].std().item():.3f}")
    return ids


# --------------------------------------------------------------------------------------------------
# A. Tiny models
# --------------------------------------------------------------------------------------------------


def make_bert_tiny(corpus):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    all_text = [t for lang in LANGS for _, t in corpus[lang]]
    vocab = build_vocab(all_text, specials, True, min_char=3, n_words=500, n_prefix=200, n_suffix=350)
    tok = WordPieceTokenizer(vocab, True, "[UNK]", "[CLS]", "[SEP]", added=specials)
    cfg = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(vocab),
        "hidden_size": 48,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 120,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 160,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    texts = base_pool(corpus)
    lt, _ = long_text(tok, corpus, 150)
    texts.append(lt)
    tcfg = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "model_max_length": 160,
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "clean_up_tokenization_spaces": True,
    }
    tj = tokenizer_json(vocab, specials, True, "[UNK]", "[CLS]", "[SEP]")
    heads = {"dense": "cls.predictions.transform.dense", "ln": "cls.predictions.transform.LayerNorm",
             "bias": "cls.predictions.bias"}
    weights = make_weights(cfg, "bert.", seed=1234, std=BERT_STD, head_names=heads)
    run_model("bert-tiny", cfg, tok, texts, "bert.", False, weights, np.float32, tcfg, tj)


def make_xlmr_tiny(corpus):
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    all_text = [t for lang in LANGS for _, t in corpus[lang]]
    vocab = build_vocab(all_text, specials, False, min_char=3, n_words=650, n_prefix=200, n_suffix=350)
    tok = WordPieceTokenizer(vocab, False, "<unk>", "<s>", "</s>", added=specials, lstrip=("<mask>",))
    cfg = {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": len(vocab),
        "hidden_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "intermediate_size": 160,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 130,
        "type_vocab_size": 1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "position_embedding_type": "absolute",
        "torch_dtype": "float16",
    }
    texts = base_pool(corpus)
    lt, _ = long_text(tok, corpus, 120)
    texts.append(lt)
    tcfg = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": False,
        "strip_accents": False,
        "tokenize_chinese_chars": True,
        "model_max_length": 128,
        **XLMR_SPECIAL_TOKENS,
        "clean_up_tokenization_spaces": True,
    }
    tj = tokenizer_json(vocab, specials, False, "<unk>", "<s>", "</s>", lstrip=("<mask>",))
    heads = {"dense": "lm_head.dense", "ln": "lm_head.layer_norm", "bias": "lm_head.bias"}
    weights = make_weights(cfg, "roberta.", seed=5678, std=XLMR_STD, head_names=heads)
    run_model("xlmr-tiny", cfg, tok, texts, "roberta.", True, weights, np.float16, tcfg, tj)


# --------------------------------------------------------------------------------------------------
# B. bert-base-uncased tokenizer from llama.cpp's vocab-only GGUF + reference ids
# --------------------------------------------------------------------------------------------------


def read_gguf_kv(path):
    with open(path, "rb") as f:
        b = f.read()
    o = 0

    def u(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, b, o)[0]
        o += struct.calcsize("<" + fmt)
        return v

    def s():
        nonlocal o
        n = u("Q")
        v = b[o : o + n].decode("utf-8")
        o += n
        return v

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def val(t):
        if t in scalar:
            return u(scalar[t])
        if t == 8:
            return s()
        if t == 9:
            et, n = u("I"), u("Q")
            return [val(et) for _ in range(n)]
        raise ValueError(f"unknown GGUF value type {t}")

    assert b[:4] == b"GGUF"
    o = 4
    version, _n_tensors, n_kv = u("I"), u("Q"), u("Q")
    assert version in (2, 3), version
    kv = {}
    for _ in range(n_kv):
        k = s()
        kv[k] = val(u("I"))
    return kv


def make_tokenizer_bge():
    folder = os.path.join(OUT, "tokenizer-bge")
    os.makedirs(folder, exist_ok=True)
    kv = read_gguf_kv(os.path.join(TOKDATA, "ggml-vocab-bert-bge.gguf"))
    # The file itself too: m3web opens GGUF models and rebuilds their tokenizer from this metadata.
    shutil.copyfile(os.path.join(TOKDATA, "ggml-vocab-bert-bge.gguf"), os.path.join(folder, "ggml-vocab-bert-bge.gguf"))
    # llama.cpp stores BERT vocabs in "phantom space" form: "▁word" for word-initial tokens, "ing" for
    # "##ing", and "[...]" tokens unchanged. Undo it to get the original vocab.txt entries.
    tokens = []
    for t in kv["tokenizer.ggml.tokens"]:
        if t.startswith("\u2581"):
            tokens.append(t[1:])
        elif t.startswith("[") and t.endswith("]"):
            tokens.append(t)
        else:
            tokens.append("##" + t)
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens) == 30522, (len(vocab), len(tokens))
    ids = {t: vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    assert ids == {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}, ids
    assert kv["tokenizer.ggml.unknown_token_id"] == 100 and kv["tokenizer.ggml.cls_token_id"] == 101
    assert vocab["the"] == 1996 and vocab["hello"] == 7592 and vocab["##s"] == 2015
    tj = tokenizer_json(vocab, list(ids), True, "[UNK]", "[CLS]", "[SEP]")
    write_json(os.path.join(folder, "tokenizer.json"), tj, compact=True)
    write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": True,
            "strip_accents": None,
            "tokenize_chinese_chars": True,
            "model_max_length": 512,
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
            "clean_up_tokenization_spaces": True,
        },
    )
    # llama.cpp writes each test string followed by "\n__ggml_vocab_test__\n" (and one " id id ...\n"
    # line per string to .out), so split on that exact separator and drop the trailing empty piece.
    with open(os.path.join(TOKDATA, "bge.inp"), encoding="utf-8", newline="") as f:
        inp = f.read()
    with open(os.path.join(TOKDATA, "bge.out"), encoding="utf-8", newline="") as f:
        outl = f.read().split("\n")
    sep = "\n__ggml_vocab_test__\n"
    assert inp.endswith(sep)
    texts = inp[: -len(sep)].split(sep)
    assert outl[-1] == "" and len(outl) - 1 == len(texts), (len(outl), len(texts))
    cases = [{"text": t, "ids": [int(x) for x in line.split()]} for t, line in zip(texts, outl[:-1])]
    write_json(os.path.join(folder, "cases.json"), cases)
    tok = WordPieceTokenizer(vocab, True, "[UNK]", "[CLS]", "[SEP]", added=list(ids))
    bad = [i for i, c in enumerate(cases) if tok.encode(c["text"], specials=False) != c["ids"]]
    print(f"tokenizer-bge: {len(cases)} cases; python tokenizer mismatches: {bad or 'none'}")
    for i in bad:
        print(f"  case {i} {cases[i]['text']!r}\n    ref {cases[i]['ids']}\n    py  {tok.encode(cases[i]['text'], False)}")
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write(BGE_README)
    return bad


BGE_README = """# tokenizer-bge fixture

Generated by `test/oracle/make_fixtures.py` from files in llama.cpp's repository
(github.com/ggml-org/llama.cpp, `models/ggml-vocab-bert-bge.gguf{,.inp,.out}`), MIT licence:

    MIT License
    Copyright (c) 2023-2024 The ggml authors

    Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
    associated documentation files (the "Software"), to deal in the Software without restriction,
    including without limitation the rights to use, copy, modify, merge, publish, distribute,
    sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
    furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all copies or
    substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
    NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
    NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
    DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
    OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

The vocabulary itself is bert-base-uncased's WordPiece vocab (30,522 tokens; as used by
BAAI/bge-small-en), Apache-2.0 (Google BERT).

- `tokenizer.json`: the vocab from the GGUF's `tokenizer.ggml.tokens` (llama.cpp's "phantom space" form
  undone: `▁word` -> `word`, `ing` -> `##ing`, `[...]` unchanged), wrapped in a tokenizer.json laid out
  like bert-base-uncased's (BertNormalizer lowercase, BertPreTokenizer, WordPiece, [CLS] $A [SEP]).
- `tokenizer_config.json`: bert-base-uncased-style settings.
- `ggml-vocab-bert-bge.gguf`: the vocab-only GGUF file itself (no tensors), which m3web's GGUF reader
  opens and rebuilds a tokenizer from (`test/unit/gguf.test.ts`).
- `cases.json`: `[{ "text", "ids" }]`: the strings of `bge.inp` (split on `\\n__ggml_vocab_test__\\n`,
  whitespace kept exactly) with the ids the reference Hugging Face tokenizer gave for each in
  `bge.out` (`encode(text, add_special_tokens=False)`, so no [CLS]/[SEP]).
"""


# --------------------------------------------------------------------------------------------------


def node_check():
    script = os.path.join(HERE, "check_tokenizers.mjs")
    r = subprocess.run(["node", script], cwd=REPO, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.returncode


def node_check_unless_skipped():
    """node_check, unless --no-node is given or node is missing; exits with its status if it fails."""
    if "--no-node" not in sys.argv and shutil.which("node"):
        rc = node_check()
        if rc != 0:
            sys.exit(rc)


def main():
    assert os.path.isdir(FLORES), f"missing {FLORES}"
    # Only this script's folders: make_modernbert.py and the m3 tokenizer cases live here too.
    for name in ("bert-tiny", "xlmr-tiny", "tokenizer-bge"):
        if os.path.isdir(os.path.join(OUT, name)):
            shutil.rmtree(os.path.join(OUT, name))
    os.makedirs(OUT, exist_ok=True)
    corpus = dev_corpus()
    make_bert_tiny(corpus)
    make_xlmr_tiny(corpus)
    make_tokenizer_bge()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"fixtures: {total / 1e6:.2f} MB")
    node_check_unless_skipped()


if __name__ == "__main__":
    main()
