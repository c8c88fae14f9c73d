"""What make_gguf_qwen3.py (gguf-qwen3: Qwen3's vocabulary), make_gguf_eurobert.py (gguf-eurobert: Llama 3's, as
EuroBERT and jina-embeddings-v5-text-nano have it) and make_gguf_modernbert.py (gguf-modernbert: GPT-2's) share: a byte-level BPE written from the tokenizer.json semantics,
the converter's tokenizer hash, a real vocabulary cut to its first tokens with a `$A <special>` post-processor, and
the vocabulary as llama.cpp's converter writes it (get_vocab_base, SpecialVocab, _set_vocab_gpt2).

Qwen's and Llama 3's vocabularies differ in three points, all read from tokenizer.json: Qwen's normalizer is NFC (Llama 3
has none), Qwen's split regex takes one digit at a time (Llama 3's up to three), and Llama 3's BPE has ignore_merges (a
pre-tokenized word that is itself a token is kept whole). GPT-2's has no Split: its ByteLevel pre-tokenizer splits by
GPT-2's own regex (use_regex), where letters, digits and other symbols each take one leading space, digit runs are
whole and contractions are case-sensitive.

Not run by itself.
"""

import hashlib
import json
import os
import tempfile
import unicodedata

import gguf_decoder as gd
import make_gguf as mg

# convert_hf_to_gguf.py get_vocab_base_pre: the text whose tokenization's SHA-256 (framing included) names the
# pre-tokenizer
CHKTXT = ('\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 '
          '33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ '
          '------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, '
          '\'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL')

# characters whose class differs between the regex engines (Oniguruma / Rust regex / JS) or Python's str.isspace, or
# that case-folding would tie to a contraction letter: the texts must not contain them
AMBIGUOUS = set("\x1c\x1d\x1e\x1f\x85\ufeff\u180e\u200b\u017f\u212a")

# the two split regexes (tokenizer.json's Split pattern) and how many digits each takes at a time
QWEN_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
              "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
LLAMA3_SPLIT = QWEN_SPLIT.replace("\\p{N}|", "\\p{N}{1,3}|")
DIGITS = {QWEN_SPLIT: 1, LLAMA3_SPLIT: 3}
# what ByteLevel's use_regex splits by (Hugging Face tokenizers' byte_level.rs), as m3web writes it into a Split
GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"


def checked_texts(texts):
    for t in texts:
        assert not AMBIGUOUS & set(t), t
    return texts


# --------------------------------------------------------------------------------------------------
# Byte-level BPE written from the tokenizer.json semantics (Hugging Face tokenizers: NFC normalizer or none, Split with
# behavior Isolated, ByteLevel without regex, BPE by merge rank (whole words first with ignore_merges), added tokens
# split off first, TemplateProcessing)
# --------------------------------------------------------------------------------------------------


def bytes_to_unicode():
    """GPT-2's byte -> character table: printable Latin-1 bytes map to themselves, the others to U+0100 onwards in
    byte order."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHAR = bytes_to_unicode()
CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def is_letter(c):
    return unicodedata.category(c)[0] == "L"


def is_number(c):
    return unicodedata.category(c)[0] == "N"


def is_space(c):
    return c.isspace()


def is_other(c):  # [^\s\p{L}\p{N}]
    return not (is_space(c) or is_letter(c) or is_number(c))


def match_at(s, i, digits):
    """End of the match of the split regex at s[i] (a backtracking engine's leftmost alternative):
    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,digits}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|
    \\s*[\\r\\n]+|\\s+(?!\\S)|\\s+ . Every character starts a match of some alternative, so the pieces cover the
    text."""
    n, c = len(s), s[i]

    def run(j, pred):
        while j < n and pred(s[j]):
            j += 1
        return j

    if c == "'":  # 1. contractions, case-insensitive
        for w in CONTRACTIONS:
            if s[i + 1 : i + 1 + len(w)].lower() == w:
                return i + 1 + len(w)
    if is_letter(c):  # 2. [^\r\n\p{L}\p{N}]?\p{L}+ without the optional character
        return run(i, is_letter)
    if c not in "\r\n" and not is_number(c) and i + 1 < n and is_letter(s[i + 1]):  # 2. with it
        return run(i + 1, is_letter)
    if is_number(c):  # 3. up to `digits` digits
        return min(run(i, is_number), i + digits)
    j = i + 1 if c == " " and i + 1 < n and is_other(s[i + 1]) else i  # 4. ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if is_other(s[j]):
        return run(run(j, is_other), lambda x: x in "\r\n")
    assert is_space(c), (s, i)
    j = run(i, is_space)
    newlines = [k for k in range(i, j) if s[k] in "\r\n"]
    if newlines:  # 5. \s*[\r\n]+ : greedy \s* gives back up to the last newline of the run
        return newlines[-1] + 1
    if j == n:  # 6. \s+(?!\S) at the end of the text
        return j
    if j - 1 > i:  # 6. the run less its last space (which then leads the next piece)
        return j - 1
    return j  # 7. \s+


def match_at_gpt2(s, i):
    """End of the match of GPT-2's regex at s[i]: 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|
    \\s+(?!\\S)|\\s+ (contractions as written: case-sensitive)."""
    n, c = len(s), s[i]

    def run(j, pred):
        while j < n and pred(s[j]):
            j += 1
        return j

    if c == "'":
        for w in CONTRACTIONS:
            if s[i + 1 : i + 1 + len(w)] == w:
                return i + 1 + len(w)
    j = i + 1 if c == " " and i + 1 < n and not is_space(s[i + 1]) else i  # the optional leading space
    for pred in (is_letter, is_number, is_other):
        if pred(s[j]):
            return run(j, pred)
    assert is_space(c), (s, i)
    j = run(i, is_space)
    if j == n:  # \\s+(?!\\S) at the end of the text
        return j
    if j - 1 > i:  # the run less its last space (which then leads the next piece)
        return j - 1
    return j  # \\s+


def pre_tokenize(s, digits):
    """The pieces of s by the split regex taking `digits` digits at a time, or by GPT-2's (digits None)."""
    pieces, i = [], 0
    while i < len(s):
        e = match_at(s, i, digits) if digits is not None else match_at_gpt2(s, i)
        pieces.append(s[i:e])
        i = e
    return pieces


def merge_list(merges):
    """tokenizer.json's merges as (left, right) pairs: newer files write them as pairs, older ones (Llama 3's) as
    "left right" strings."""
    return [tuple(p.split(" ")) if isinstance(p, str) else tuple(p) for p in merges]


class ByteLevelBPE:
    """tokenizer.json -> encode(text): the added tokens split off the raw text (longest first at each position), each
    other segment normalized (NFC or not at all), pre-tokenized, mapped to byte characters and merged (a word that is
    a token kept whole first where ignore_merges says so); then the post-processor's special tokens around them
    (TemplateProcessing single: special tokens, $A, special tokens; RobertaProcessing: cls, $A, sep; or none)."""

    def __init__(self, tok):
        m = tok["model"]
        assert m["type"] == "BPE" and not m["byte_fallback"] and not m["dropout"]
        assert tok["normalizer"] in ({"type": "NFC"}, None)
        self.nfc = tok["normalizer"] is not None
        self.ignore_merges = m.get("ignore_merges", False)
        pre = tok["pre_tokenizer"]
        if pre["type"] == "ByteLevel":  # GPT-2's
            assert pre["use_regex"] and not pre["add_prefix_space"]
            self.digits = None
        else:
            split = pre["pretokenizers"][0]
            assert split["type"] == "Split" and split["behavior"] == "Isolated" and not split["invert"]
            self.digits = DIGITS[split["pattern"]["Regex"]]
        self.vocab = m["vocab"]
        self.ranks = {p: r for r, p in enumerate(merge_list(m["merges"]))}
        self.added = {a["content"]: a["id"] for a in tok["added_tokens"]}
        assert all(not a["normalized"] and not a["lstrip"] and not a["rstrip"] for a in tok["added_tokens"])
        post = tok["post_processor"]
        self.prefix, self.suffix = [], []
        if post["type"] == "TemplateProcessing":
            single = post["single"]
            a = single.index({"Sequence": {"id": "A", "type_id": 0}})
            self.prefix = [self.added[s["SpecialToken"]["id"]] for s in single[:a]]
            self.suffix = [self.added[s["SpecialToken"]["id"]] for s in single[a + 1 :]]
        elif post["type"] == "RobertaProcessing":  # <s> $A </s>
            self.prefix, self.suffix = [post["cls"][1]], [post["sep"][1]]
        else:
            assert post["type"] == "ByteLevel"  # ids unchanged

    def split_added(self, text):
        out, i, start = [], 0, 0
        keys = sorted(self.added, key=len, reverse=True)
        while i < len(text):
            hit = next((k for k in keys if text.startswith(k, i)), None)
            if hit:
                if start < i:
                    out.append((text[start:i], False))
                out.append((hit, True))
                i = start = i + len(hit)
            else:
                i += 1
        if start < len(text):
            out.append((text[start:], False))
        return out

    def word(self, word):
        """Merge the adjacent pair of lowest rank (leftmost on ties) until none is in ranks."""
        if self.ignore_merges and word in self.vocab:
            return [word]
        return gd.merge_pairs(word, lambda a, b: self.ranks.get((a, b)))

    def encode(self, text, add_special=True):
        ids = []
        for seg, is_added in self.split_added(text):
            if is_added:
                ids.append(self.added[seg])
                continue
            for piece in pre_tokenize(unicodedata.normalize("NFC", seg) if self.nfc else seg, self.digits):
                ids += [self.vocab[p] for p in self.word("".join(BYTE_CHAR[b] for b in piece.encode("utf-8")))]
        return (self.prefix + ids + self.suffix) if add_special else ids


def agreed_ids(tok, tok_path, cfg_path, texts, real, real_path, end):
    """The ids of texts by this module's BPE on the reduced tokenizer (tok, written at tok_path and cfg_path), on the
    full real one with `end` (its content) appended as tok's template appends it, also for CHKTXT, and CHKTXT's by the
    bare real tokenizer (real, at real_path); each checked against Hugging Face's JS library and, where installed, its
    Rust one. Returns (ids, full-vocabulary ids with CHKTXT's last, the bare CHKTXT ids, who agreed)."""
    ids = [ByteLevelBPE(tok).encode(t) for t in texts]
    end_id = next(a["id"] for a in real["added_tokens"] if a["content"] == end)
    full = {**real, "post_processor": end_template(end, end_id)}
    full_ids = [ByteLevelBPE(full).encode(t) for t in texts + [CHKTXT]]
    bare_chk = ByteLevelBPE(real).encode(CHKTXT)
    with tempfile.TemporaryDirectory() as tmp:
        full_path = os.path.join(tmp, "tokenizer.json")
        with open(full_path, "w", encoding="utf-8") as f:
            json.dump(full, f, ensure_ascii=False)
        js, rust = gd.hf_encode([(tok_path, cfg_path, texts), (full_path, None, texts + [CHKTXT]),
                                 (real_path, None, [CHKTXT])])
    assert js[0] == ids, [(i, a, b) for i, (a, b) in enumerate(zip(js[0], ids)) if a != b]
    assert js[1] == full_ids, [(i, a, b) for i, (a, b) in enumerate(zip(js[1], full_ids)) if a != b]
    assert js[2] == [bare_chk]
    if rust is not None:
        assert rust[0] == ids and rust[1] == full_ids and rust[2] == [bare_chk]
    return ids, full_ids, bare_chk, "this script, HF JS" + (", HF Rust" if rust is not None else
                                                               "; HF Rust binding not installed")


def chkhsh(ids):
    """get_vocab_base_pre's hash: SHA-256 of str(list of ids)."""
    return hashlib.sha256(str(list(ids)).encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# The reduced vocabulary
# --------------------------------------------------------------------------------------------------


def end_template(content, special):
    """A post_processor appending one special token: single $A <content>, pair $A $B <content> (a pair template with a
    separator between A and B would make gguf-py's SpecialVocab write tokenizer.ggml.add_sep_token, which neither
    Qwen3-Embedding's nor jina-embeddings-v5-text-nano's converted files have)."""
    seq = lambda s, t: {"Sequence": {"id": s, "type_id": t}}  # noqa: E731
    tok = lambda t: {"SpecialToken": {"id": content, "type_id": t}}  # noqa: E731
    return {"type": "TemplateProcessing", "single": [seq("A", 0), tok(0)], "pair": [seq("A", 0), seq("B", 1), tok(1)],
            "special_tokens": {content: {"id": content, "ids": [special], "tokens": [content]}}}


def reduce_tokenizer(real, n_regular, added, post_processor, extra=()):
    """The first n_regular regular tokens of the real tokenizer.json and the extra ones (renumbered after them), the
    merges closed over them (both parts and the result kept) in their order and form, the added tokens ([(content,
    special)]) renumbered after those; post_processor instead of the real one."""
    m = real["model"]
    vocab, merges = m["vocab"], m["merges"]
    inv = {i: t for t, i in vocab.items()}
    assert sorted(inv) == list(range(len(vocab)))
    assert {inv[i] for i in range(256)} == set(BYTE_CHAR.values()), "ids 0..255 are not the byte characters"
    kept = {inv[i]: i for i in range(n_regular)}
    for k, t in enumerate(extra):
        assert t in vocab and t not in kept, t
        kept[t] = n_regular + k
    n_regular += len(extra)
    closed = [m for m, p in zip(merges, merge_list(merges)) if p[0] in kept and p[1] in kept and p[0] + p[1] in kept]
    real_added = {a["content"]: a for a in real["added_tokens"]}
    renumbered = []
    for k, (content, special) in enumerate(added):
        a = dict(real_added[content])
        assert a["special"] == special, content
        a["id"] = n_regular + k
        renumbered.append(a)
    tok = {
        "version": real["version"],
        "truncation": None,
        "padding": None,
        "added_tokens": renumbered,
        "normalizer": real["normalizer"],
        "pre_tokenizer": real["pre_tokenizer"],
        "post_processor": post_processor,
        "decoder": real["decoder"],
        "model": {**m, "vocab": kept, "merges": closed},
    }
    assert list(tok["model"]) == list(m)
    return tok


def token_strings(tok):
    """tok's tokens by id: the BPE vocabulary and the added tokens."""
    return {i: t for t, i in tok["model"]["vocab"].items()} | {a["id"]: a["content"] for a in tok["added_tokens"]}


def added_tokens_decoder(tok):
    """tokenizer_config.json's added_tokens_decoder for tok's added tokens."""
    return {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
            for a in tok["added_tokens"]}


# --------------------------------------------------------------------------------------------------
# What the converter writes (conversion/base.py, gguf-py vocab.py SpecialVocab)
# --------------------------------------------------------------------------------------------------


def vocab_base(tok, n_vocab):
    """get_vocab_base: tokens and types for ids 0..n_vocab-1: ids the tokenizer lacks -> "[PAD<id>]" UNUSED; added
    tokens (not normalized: decode(encode(t)) == t here) CONTROL when special or looking special, else USER_DEFINED;
    the rest NORMAL."""
    inv = {i: t for t, i in tok["model"]["vocab"].items()}
    added = {a["id"]: a for a in tok["added_tokens"]}
    tokens, types = [], []
    for i in range(n_vocab):
        if i in added:
            a = added[i]
            tokens.append(a["content"])
            types.append(mg.TOKEN_CONTROL if a["special"] or gd.looks_special(a["content"]) else mg.TOKEN_USER_DEFINED)
        elif i in inv:
            tokens.append(inv[i])
            types.append(mg.TOKEN_NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(mg.TOKEN_UNUSED)
    return tokens, types


def special_vocab(tok, tok_cfg, cfg, n_vocab):
    """SpecialVocab(load_merges=True) on a folder with this tokenizer.json, tokenizer_config.json and config.json, the
    steps these tokenizers take:
      - TemplateProcessing single [$A, X]: no leading special (no add_bos from it); where X differs from
        tokenizer_config's eos_token (Qwen3-Embedding: <|endoftext|> against <|im_end|>), 'eot' is added to the
        special types with the old eos and eos becomes X; add_eos = True. pair [$A, $B, X]: no middle token, so no
        add_sep.
      - tokenizer_config: add_<type>_token booleans; ids of bos, eos, unk, sep, pad, cls, mask (and eot) by content
        in added_tokens.
      - config.json: *_token_id where still unset.
    Without the TemplateProcessing (a ByteLevel post_processor) nothing changes eos and there is no add_eos. Returns
    ({type: id}, {type: flag}) in insertion order."""
    tc = dict(tok_cfg)
    types = list(mg.SPECIAL_TYPES)
    add = {}
    post = tok["post_processor"]
    if post["type"] == "TemplateProcessing":
        single, pair = post["single"], post["pair"]
        first = single[0].get("SpecialToken", {}).get("id")
        last = single[-1].get("SpecialToken", {}).get("id")
        assert first is None and last is not None
        if last != tc["eos_token"]:
            types.append("eot")
            tc["eot_token"] = tc["eos_token"]
            tc["eos_token"] = last
        add["eos"] = True
        assert pair[-1].get("SpecialToken", {}).get("id") == last
        inner = pair[:-1]
        assert [p.get("Sequence", {}).get("id") for p in inner] == ["A", "B"]  # nothing between A and B: no add_sep
    else:
        assert post["type"] == "ByteLevel"
    return mg.special_token_ids(tok, tc, cfg, n_vocab, types), gd.config_add_flags(add, tc, types)


def vocab_kvs(pre, tokens, types, merges, ids, add):
    """_set_vocab_gpt2 + SpecialVocab.add_to_gguf: model, pre, tokens, token_type, merges ("a b"), the special ids,
    the add flags (cls has no handler in gguf_writer: skipped; none here)."""
    assert "cls" not in ids
    return [
        ("tokenizer.ggml.model", mg.STRING, "gpt2"),
        ("tokenizer.ggml.pre", mg.STRING, pre),
        ("tokenizer.ggml.tokens", mg.ARRAY, tokens, mg.STRING),
        ("tokenizer.ggml.token_type", mg.ARRAY, types, mg.INT32),
        ("tokenizer.ggml.merges", mg.ARRAY, [f"{a} {b}" for a, b in merge_list(merges)], mg.STRING),
        *mg.special_kvs(ids, add),
    ]
