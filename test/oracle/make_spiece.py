#!/usr/bin/env python3
"""Slow-tokenizer oracles for repositories that ship only a SentencePiece `spiece.model` (ALBERT, T5 / mT5), for which
m3web builds the tokenizer itself as transformers' convert_slow_tokenizer.py (AlbertConverter, T5Converter) does.

Writes fixtures/spiece-albert/ and fixtures/spiece-t5/, each: spiece.model, tokenizer_config.json,
special_tokens_map.json, config.json, expected.json ({texts, ids, tokens, fast_differs, note}), README.md.
No tokenizer.json: building it is the runtime's job.

Run from the repository root:  /usr/bin/python3 test/oracle/make_spiece.py   (python3-sentencepiece; ~1 s; a rerun is
byte-identical; it re-executes itself with /usr/bin/python3 when `python3` has no sentencepiece)

Base model: fixtures/gguf-xlmr/sentencepiece.bpe.model, google/sentencepiece's python/test/test_model.model (an
English Unigram model of 1,000 pieces trained on botchan.txt; <unk>=0 <s>=1 </s>=2, then 997 NORMAL pieces; its
normalizer_spec: name "nfkc", a precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces,
all true). Its normalizer_spec (and denormalizer_spec) is copied unchanged into both new models. Its map is plain NFKC:
unlike the nmt_nfkc map real ALBERT / T5 checkpoints carry, it leaves \\t, \\n, \\r and U+200B as they are (none of
them is a piece: each is <unk>, and '\\r' even is a piece of its own) instead of mapping them to a space.

spiece-albert/spiece.model, laid out like albert-base-v2's: 0 <pad> (CONTROL), 1 <unk> (UNKNOWN), 2 [CLS] (CONTROL),
3 [SEP] (CONTROL), 4 [MASK] (USER_DEFINED), all score 0; then the base's 997 NORMAL pieces in their order with their
scores (ids 5..1001); then ALBERT_EXTRA (ids 1002..1009), NORMAL pieces this fixture adds:
  - the digits the botchan model lacks ("3" "4" "6" "7" "9", score -8.5, close to its "2" -8.45): real ALBERT
    vocabularies have every digit; without them a digit-comma piece such as "9," makes the slow tokenizer (which
    re-encodes "9" and gets <unk>) and the converted fast one (which keeps "9," at score - 100, still cheaper than <unk>
    there, whose score min(all scores) - 10 sinks with it) differ
  - three digit-comma pieces, "▁1," (-6.0), "0," (-6.5), "9," (-7.0), scored so that sentencepiece prefers them to
    "▁" "1" "," (-14.5), "0" "," (-11.1), "9" "," (-12.0); the script asserts that sentencepiece picks each of them in
    the texts, so AlbertTokenizer's digit-comma rule rewrites pieces there.
trainer_spec: the base's, with vocab_size 1010, unk_id 1 / bos_id 2 / eos_id 3 / pad_id 0, unk_piece "<unk>",
bos_piece "[CLS]", eos_piece "[SEP]", pad_piece "<pad>" (as albert-base-v2's).

spiece-t5/spiece.model, laid out like t5-small's: 0 <pad> (CONTROL), 1 </s> (CONTROL), 2 <unk> (UNKNOWN), then the
base's 997 NORMAL pieces (ids 3..999): 1,000 pieces, nothing added (so "3" "4" "6" "7" "9" and every accented letter
are <unk>).
trainer_spec: the base's, with vocab_size 1000, pad_id 0, eos_id 1, unk_id 2, bos_id -1, pad_piece "<pad>",
eos_piece "</s>", unk_piece "<unk>". The tokenizer's vocabulary is 1,100 ids: <extra_id_N> is 1100 - N - 1 (extra_id_0 =
1099, extra_id_99 = 1000).

Both oracles follow the sentencepiece-backed slow classes of transformers 4.x (4.35 and later for the AddedToken
flags below), written by hand from their source; transformers is not used.

ALBERT oracle: transformers' models/albert/tokenization_albert.py (AlbertTokenizer; its preprocess_text and _tokenize
are the "Copied from XLNetTokenizer" ones, as in google-research/albert's tokenization.py) on top of
tokenization_utils.py's PreTrainedTokenizer.tokenize (transformers >= 4.34), with the saved tokenizer_config.json:
  1. PreTrainedTokenizer.tokenize: do_lower_case is set, so the text is first lowercased outside the special tokens
     (re.sub of "(" + escaped all_special_tokens + ")|(.+?)", no DOTALL); then split on the added tokens ([CLS], [SEP],
     <unk>, <pad>, [MASK]; exact, case-sensitive, leftmost-longest, as tokens_trie.split); for an added token with
     rstrip the next chunk is lstrip()ped, with lstrip the previous chunk is rstrip()ped. [MASK] is
     AddedToken(lstrip=True, rstrip=False, normalized=False) (AlbertTokenizer.__init__ and the saved config); the
     other specials are plain strings -> AddedToken(lstrip=False, rstrip=False, normalized=False, special=True).
     (Before 4.34 plain-string specials stripped both neighbours; the ids do not change, as step 2 strips anyway.)
     Empty chunks are skipped; an added token maps to its id (sp.piece_to_id: [CLS] 2, [SEP] 3, [MASK] 4, ...).
  2. each other chunk -> _tokenize: preprocess_text (remove_space: " ".join(text.strip().split()), Python's
     str.split(), i.e. any Unicode whitespace; "``" and "''" -> '"'; keep_accents False: NFKD, then drop every c with
     unicodedata.combining(c) != 0; do_lower_case: str.lower()), then sp.encode(text, out_type=str); for each piece
     with len > 1, piece[-1] == "," and piece[-2].isdigit(): cur = sp.EncodeAsPieces(piece[:-1].replace("▁", "")); if
     piece[0] != "▁" and cur[0][0] == "▁": cur[0] = cur[0][1:], dropped if it was "▁" alone; then cur + [","] in place
     of the piece. Pieces -> ids with sp.piece_to_id (a string that is no piece, an <unk> surface, -> 1).
  3. build_inputs_with_special_tokens: [CLS]=2 + ids + [SEP]=3.
  The script asserts that step 1's extra lowercasing changes no id (it is idempotent with preprocess_text here).

T5 oracle: transformers' models/t5/tokenization_t5.py (T5Tokenizer, legacy=True, as the saved config says) on the
same PreTrainedTokenizer.tokenize:
  1. legacy: T5Tokenizer.tokenize is PreTrainedTokenizer.tokenize (no do_lower_case, no SPIECE_UNDERLINE prefix);
     split on the added tokens: </s>, <unk>, <pad> (plain strings -> AddedToken(lstrip=False, rstrip=False)) and
     <extra_id_0> .. <extra_id_99>, which T5Tokenizer.__init__ (>= 4.35) registers in _added_tokens_decoder as
     AddedToken(lstrip=True, rstrip=True, single_word=False, special=True, normalized=False): the chunk before one is
     rstrip()ped and the chunk after it lstrip()ped. 4.34.x used single_word=True there, which would leave
     "x<extra_id_1>y" unsplit; this oracle follows single_word=False. (None of this stripping changes an id here:
     sentencepiece itself drops a chunk's leading and trailing spaces, remove_extra_whitespaces.)
  2. each other chunk -> _tokenize (legacy): sp.encode(chunk, out_type=str) -> sp.piece_to_id. Each chunk gets its
     own dummy-prefix "▁", also right after a special token without a space ("x<extra_id_1>y" -> ... "▁y").
  3. <extra_id_N> -> vocab_size - N - 1 (_convert_token_to_id; vocab_size = 1000 pieces + extra_ids 100); </s> 1,
     <pad> 0, <unk> 2.
  4. build_inputs_with_special_tokens -> _add_eos_if_not_present: append </s> (1) unless the ids already end with it
     (no text here ends with "</s>": the fast tokenizer's template would append a second one).

Texts: written for this fixture. None has leading or trailing whitespace: the slow tokenizers strip it
(preprocess_text / sentencepiece), a tokenizer.json's Metaspace turns a trailing space into an extra "▁" token (ALBERT;
and T5 before SpmConverter's Strip(right)), so the fast tokenizer differs there by design.

Fast-tokenizer emulation (a cross-check only; its ids are not the oracle): the script also tokenizes each text as the
tokenizer.json that transformers' current convert_slow_tokenizer.py would build (read from its source; the Rust
`tokenizers` library is not used):
  - added tokens split first on the raw text (leftmost-longest; lstrip / rstrip extend the match over whitespace);
    ALBERT: [MASK] lstrip, the others no strip; T5: <extra_id_N> lstrip + rstrip, </s> <pad> <unk> no strip
  - ALBERT normalizer (AlbertConverter): Replace("``", '"'), Replace("''", '"'), NFKD, StripAccents (drops every
    Unicode mark, categories Mn Mc Me), Lowercase (per character), Precompiled(the charsmap), Replace(" {2,}", " ")
  - T5 normalizer (SpmConverter): Precompiled(the charsmap), Strip(right), Replace(" {2,}", "▁")
  - pre-tokenizer Metaspace("▁", prepend_scheme "always", split): " " -> "▁", "▁" prepended when the segment does not
    start with one, split before every "▁"
  - model Unigram(vocab, unk_id) written from tokenizers' unigram/model.rs: Viterbi over the vocabulary's (piece,
    score) pairs, ties to the first candidate found (shorter first, <unk> last), an <unk> node only where no
    one-character piece starts, scored min(all scores) - 10, consecutive <unk>s fused into one. AlbertConverter's
    vocab lowers every digit-comma piece's score by 100 (its check_number_comma), which with min(all scores) also
    lowers the <unk> score; T5Converter appends <extra_id_99> .. <extra_id_0> with score 0
  - the charsmap is applied with sentencepiece itself (a copy of the model with add_dummy_prefix,
    remove_extra_whitespaces and escape_whitespaces off; the pieces joined back are the normalized text)
  - post-processor: ALBERT [CLS]:0 $A:0 [SEP]:0; T5 $A </s>.
  expected.json's `fast_differs` lists every text whose emulated fast ids differ from the oracle's, with those ids and
  the reason; the script asserts that no other text differs, and prints its probes (texts kept out of the fixtures
  because slow and fast differ there).
  Flags that matter to the fast side only: ALBERT's [MASK] must keep lstrip (without it "a [MASK] here" gets an extra
  "▁"); for T5 the <extra_id_N> strip flags change nothing with today's SpmConverter normalizer (its Strip(right)
  drops the space before a special token), but the older one (Precompiled + Replace(" {2,}", " "), no Strip) gives an
  extra "▁" before "</s>" / "<pad>" / "<unk>" after a space in every case, and before "<extra_id_N>" after a space
  when the extra ids lack lstrip.
"""

import json
import os
import re
import sys
import unicodedata

try:
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
BASE_MODEL = os.path.join(FIXTURES, "gguf-xlmr", "sentencepiece.bpe.model")
SPIECE_UNDERLINE = "\u2581"

NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4

# (piece, score) appended after the base pieces of the ALBERT model
ALBERT_EXTRA = [
    ("3", -8.5),
    ("4", -8.5),
    ("6", -8.5),
    ("7", -8.5),
    ("9", -8.5),
    ("\u25811,", -6.0),
    ("0,", -6.5),
    ("9,", -7.0),
]

ALBERT_TEXTS = [
    "Hello World! This is a Test of the ALBERT tokenizer.",
    "The caf\u00e9 served a na\u00efve \u00c5ngstr\u00f6m r\u00e9sum\u00e9.",
    "He said ``hello'' and then ''goodbye``.",
    "1,000,000 people; 9, 10, 11, and 12,345 more.",
    "Call 1, 2, 3, then 40,000,007 or 99,9.",
    "a [MASK] here",
    "[MASK] comes first, then two[MASK] and [MASK].",
    "first[SEP]second",
    "a   b    c",
    "line one\nline two\tand a tab",
    "\u4e1c\u4eac\u662f\u65e5\u672c\u7684\u9996\u90fd\u3002 Tokyo is the capital.",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! "
    "\u0401\u043b\u043a\u0430 \u0438 \u0439\u043e\u0433\u0443\u0440\u0442.",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "I love pizza \U0001f355 and \U0001f44d\U0001f3fd!",
    "?!...;:--(),\"'",
    "no\u00a0break\u3000space and \ufb01ne \u00bd \u2122",
    "NA\u00cfVE CO\u00d6PERATION, FA\u00c7ADE & JALAPE\u00d1O",
    "It's 3:45pm, isn't it?",
]

T5_TEXTS = [
    "Hello World! This is a Test of the T5 tokenizer.",
    "translate English to German: The house is wonderful.",
    "The caf\u00e9 served a na\u00efve \u00c5ngstr\u00f6m r\u00e9sum\u00e9.",
    "He said ``hello'' and then ''goodbye``.",
    "1,000,000 people; 9, 10, 11, and 12,345 more.",
    "Fill <extra_id_0> here and <extra_id_17> there.",
    "<extra_id_0> opens the span, x<extra_id_1>y closes it",
    "The <extra_id_99> last sentinel and <extra_id_0><extra_id_1> adjacent ones.",
    "first</s>second <pad> and <unk> inside",
    "a   b    c",
    "line one\nline two\tand a tab",
    "\u4e1c\u4eac\u662f\u65e5\u672c\u7684\u9996\u90fd\u3002 Tokyo is the capital.",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! "
    "\u0401\u043b\u043a\u0430 \u0438 \u0439\u043e\u0433\u0443\u0440\u0442.",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "I love pizza \U0001f355 and \U0001f44d\U0001f3fd!",
    "?!...;:--(),\"'",
    "no\u00a0break\u3000space and \ufb01ne \u00bd \u2122",
    "UPPER lower MiXeD",
]

# probes: where the slow tokenizer and the converted fast one (as emulated here) are expected to differ; printed only
ALBERT_PROBES = [
    "trailing space ",
    " leading space",
    "first [SEP] second",
    "tab\tinside",
    "u+2028\u2028inside",
    "9,-- and 9,\"",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
]
T5_PROBES = [
    "ends with eos</s>",
    "trailing space ",
    "<extra_id_0> <extra_id_1>",
    "x <pad> y",
]

# Unicode White_Space (Rust char::is_whitespace), for the fast emulation's lstrip / rstrip / Strip
WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000")
WHITE_SPACE |= {chr(c) for c in range(0x2000, 0x200B)}

ALBERT_NOTE_FAST = (
    "the emulated fast tokenizer (AlbertConverter's normalizer; this fixture's plain-NFKC charsmap keeps '\\t' and "
    "'\\n') keeps the tab and the newline and gives them <unk>; AlbertTokenizer's preprocess_text joins on str.split() "
    "and sees spaces. With an nmt_nfkc charsmap (real ALBERT checkpoints) both see spaces."
)


# --------------------------------------------------------------------------------------------------- models


def load_base():
    m = pb.ModelProto()
    with open(BASE_MODEL, "rb") as f:
        m.ParseFromString(f.read())
    assert [p.piece for p in m.pieces[:3]] == ["<unk>", "<s>", "</s>"], [p.piece for p in m.pieces[:3]]
    assert [p.type for p in m.pieces[:3]] == [UNKNOWN, CONTROL, CONTROL]
    assert all(p.type == NORMAL for p in m.pieces[3:])
    assert m.trainer_spec.model_type == pb.TrainerSpec.UNIGRAM
    return m


def build_model(base, head, extra):
    """head: [(piece, type)] with score 0; then the base's NORMAL pieces; then extra [(piece, score)] NORMAL."""
    m = pb.ModelProto()
    m.CopyFrom(base)
    del m.pieces[:]
    for piece, typ in head:
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, 0.0, typ
    for bp in base.pieces:
        if bp.type == NORMAL:
            p = m.pieces.add()
            p.CopyFrom(bp)
    have = {p.piece for p in m.pieces}
    for piece, score in extra:
        assert piece not in have, piece
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, score, NORMAL
    m.trainer_spec.vocab_size = len(m.pieces)
    return m


def albert_model(base):
    m = build_model(
        base,
        [("<pad>", CONTROL), ("<unk>", UNKNOWN), ("[CLS]", CONTROL), ("[SEP]", CONTROL), ("[MASK]", USER_DEFINED)],
        ALBERT_EXTRA,
    )
    ts = m.trainer_spec
    ts.pad_id, ts.unk_id, ts.bos_id, ts.eos_id = 0, 1, 2, 3
    ts.pad_piece, ts.unk_piece, ts.bos_piece, ts.eos_piece = "<pad>", "<unk>", "[CLS]", "[SEP]"
    return m


def t5_model(base):
    m = build_model(base, [("<pad>", CONTROL), ("</s>", CONTROL), ("<unk>", UNKNOWN)], [])
    ts = m.trainer_spec
    ts.pad_id, ts.eos_id, ts.unk_id, ts.bos_id = 0, 1, 2, -1
    ts.pad_piece, ts.eos_piece, ts.unk_piece = "<pad>", "</s>", "<unk>"
    return m


def processor(model):
    return spm.SentencePieceProcessor(model_proto=model.SerializeToString(deterministic=True))


# --------------------------------------------------------------------------------------------------- slow oracles


def split_added(text, added):
    """tokens_trie.split: leftmost, then longest, exact matches of the added tokens; returns the chunks in order."""
    pattern = re.compile("|".join(re.escape(t) for t in sorted(added, key=lambda t: (-len(t), t))))
    out, pos = [], 0
    for mt in pattern.finditer(text):
        if mt.start() > pos:
            out.append(text[pos : mt.start()])
        out.append(mt.group(0))
        pos = mt.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def slow_split(text, added):
    """PreTrainedTokenizer.tokenize's handling of added tokens: added = {token: (lstrip, rstrip)}.
    Returns [(is_added, chunk)], empty chunks dropped."""
    tokens = split_added(text, added)
    for i, tok in enumerate(tokens):
        if tok in added:
            lstrip, rstrip = added[tok]
            left = tokens[i - 1] if i > 0 else None
            right = tokens[i + 1] if i < len(tokens) - 1 else None
            if rstrip and right:
                tokens[i + 1] = right.lstrip()
            if lstrip and left:
                tokens[i - 1] = left.rstrip()
    return [(t in added, t) for t in tokens if t]


ALBERT_ADDED = {"[CLS]": (False, False), "[SEP]": (False, False), "<unk>": (False, False), "<pad>": (False, False),
                "[MASK]": (True, False)}


def albert_preprocess_text(inputs):
    outputs = " ".join(inputs.strip().split())  # remove_space
    outputs = outputs.replace("``", '"').replace("''", '"')
    outputs = unicodedata.normalize("NFKD", outputs)  # not keep_accents
    outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
    return outputs.lower()  # do_lower_case


def albert_tokenize_chunk(sp, text):
    """AlbertTokenizer._tokenize (the digit-comma rule)."""
    text = albert_preprocess_text(text)
    pieces = sp.encode(text, out_type=str)
    new_pieces, rewritten = [], 0
    for piece in pieces:
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            rewritten += 1
            cur_pieces = sp.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
            if piece[0] != SPIECE_UNDERLINE and cur_pieces[0][0] == SPIECE_UNDERLINE:
                if len(cur_pieces[0]) == 1:
                    cur_pieces = cur_pieces[1:]
                else:
                    cur_pieces[0] = cur_pieces[0][1:]
            cur_pieces.append(piece[-1])
            new_pieces.extend(cur_pieces)
        else:
            new_pieces.append(piece)
    return new_pieces, rewritten


def albert_lowercase_outside_specials(text):
    specials = ["[CLS]", "[SEP]", "<unk>", "<pad>", "[MASK]"]
    pattern = r"(" + r"|".join(re.escape(s) for s in specials) + r")|" + r"(.+?)"
    return re.sub(pattern, lambda m: m.groups()[0] or m.groups()[1].lower(), text)


def albert_slow(sp, text, pre_lowercase=True):
    if pre_lowercase:
        text = albert_lowercase_outside_specials(text)
    tokens, rewritten = [], 0
    for is_added, chunk in slow_split(text, ALBERT_ADDED):
        if is_added:
            tokens.append(chunk)
        else:
            pieces, n = albert_tokenize_chunk(sp, chunk)
            tokens.extend(pieces)
            rewritten += n
    ids = [sp.piece_to_id(t) for t in tokens]
    return [2] + ids + [3], ["[CLS]"] + tokens + ["[SEP]"], rewritten


def t5_added(n_extra=100):
    added = {"</s>": (False, False), "<unk>": (False, False), "<pad>": (False, False)}
    for i in range(n_extra):
        added[f"<extra_id_{i}>"] = (True, True)
    return added


def t5_slow(sp, text, n_extra=100):
    vocab_size = sp.get_piece_size() + n_extra
    tokens = []
    for is_added, chunk in slow_split(text, t5_added(n_extra)):
        if is_added:
            tokens.append(chunk)
        else:
            tokens.extend(sp.encode(chunk, out_type=str))
    ids = []
    for t in tokens:
        m = re.match(r"<extra_id_(\d+)>", t)
        ids.append(vocab_size - int(m.group(1)) - 1 if t.startswith("<extra_id_") else sp.piece_to_id(t))
    if not (ids and ids[-1] == 1):  # _add_eos_if_not_present
        ids, tokens = ids + [1], tokens + ["</s>"]
    return ids, tokens


# --------------------------------------------------------------------------------------------------- fast emulation


class Unigram:
    """tokenizers' Unigram model (encode_optimized), from unigram/model.rs."""

    def __init__(self, vocab, unk_id):
        self.vocab = vocab
        self.index = {}
        for i, (piece, _) in enumerate(vocab):
            self.index.setdefault(piece, i)
        self.unk_id = unk_id
        self.unk_score = min(s for _, s in vocab) - 10.0
        self.maxlen = max(len(p) for p, _ in vocab)

    def encode(self, word):
        n = len(word)
        best = [None] * (n + 1)  # (score, start, id)
        best[0] = (0.0, None, None)
        for i in range(n):
            base = best[i][0]
            has_single = False
            for length in range(1, min(self.maxlen, n - i) + 1):
                tid = self.index.get(word[i : i + length])
                if tid is None:
                    continue
                cand = base + self.vocab[tid][1]
                if best[i + length] is None or cand > best[i + length][0]:
                    best[i + length] = (cand, i, tid)
                if length == 1:
                    has_single = True
            if not has_single:
                cand = base + self.unk_score
                if best[i + 1] is None or cand > best[i + 1][0]:
                    best[i + 1] = (cand, i, self.unk_id)
        out, end = [], n
        while end > 0:
            _, start, tid = best[end]
            out.append(tid)
            end = start
        out.reverse()
        fused = []
        for tid in out:  # fuse_unk
            if tid == self.unk_id and fused and fused[-1] == self.unk_id:
                continue
            fused.append(tid)
        return fused


def charsmap_normalizer(model):
    """The Precompiled normalizer: the model's charsmap alone, applied by sentencepiece."""
    m = pb.ModelProto()
    m.CopyFrom(model)
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = False
    sp = processor(m)
    return lambda s: "".join(sp.encode(s, out_type=str)) if s else s


def fast_split(text, added):
    """tokenizers' AddedVocabulary split of the raw text (non-normalized tokens): [(is_added, segment)]."""
    pattern = re.compile("|".join(re.escape(t) for t in sorted(added, key=lambda t: (-len(t), t))))
    out, pos = [], 0
    for mt in pattern.finditer(text):
        start, end = mt.start(), mt.end()
        lstrip, rstrip = added[mt.group(0)]
        if lstrip:
            while start > pos and text[start - 1] in WHITE_SPACE:
                start -= 1
        if rstrip:
            while end < len(text) and text[end] in WHITE_SPACE:
                end += 1
        if start > pos:
            out.append((False, text[pos:start]))
        out.append((True, mt.group(0)))
        pos = end
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def metaspace(s):
    s = s.replace(" ", SPIECE_UNDERLINE)
    if not s.startswith(SPIECE_UNDERLINE):
        s = SPIECE_UNDERLINE + s
    return re.findall(SPIECE_UNDERLINE + "[^" + SPIECE_UNDERLINE + "]*", s)


def is_number_comma(piece):  # not check_number_comma
    return not (len(piece) < 2 or piece[-1] != "," or not piece[-2].isdigit())


def albert_fast(model, text):
    vocab = [(p.piece, p.score - 100.0 if is_number_comma(p.piece) else p.score) for p in model.pieces]
    uni = Unigram(vocab, model.trainer_spec.unk_id)
    charsmap = charsmap_normalizer(model)
    ids = [2]
    for is_added, seg in fast_split(text, ALBERT_ADDED):
        if is_added:
            ids.append(uni.index[seg])
            continue
        s = seg.replace("``", '"').replace("''", '"')
        s = unicodedata.normalize("NFKD", s)
        s = "".join(c for c in s if not unicodedata.category(c).startswith("M"))
        s = "".join(c.lower() for c in s)
        s = charsmap(s)
        s = re.sub(" {2,}", " ", s)
        if not s:
            continue
        for word in metaspace(s):
            ids.extend(uni.encode(word))
    return ids + [3]


def t5_fast(model, text, n_extra=100):
    vocab = [(p.piece, p.score) for p in model.pieces]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in range(n_extra - 1, -1, -1)]
    uni = Unigram(vocab, model.trainer_spec.unk_id)
    charsmap = charsmap_normalizer(model)
    ids = []
    for is_added, seg in fast_split(text, t5_added(n_extra)):
        if is_added:
            ids.append(uni.index[seg])
            continue
        s = charsmap(seg)
        while s and s[-1] in WHITE_SPACE:
            s = s[:-1]
        s = re.sub(" {2,}", SPIECE_UNDERLINE, s)
        if not s:
            continue
        for word in metaspace(s):
            ids.extend(uni.encode(word))
    return ids + [1]


# --------------------------------------------------------------------------------------------------- files


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_model(folder, model):
    with open(os.path.join(folder, "spiece.model"), "wb") as f:
        f.write(model.SerializeToString(deterministic=True))


README = """# {name} fixture

Made by `test/oracle/make_spiece.py` (see the "spiece.model only" section of `test/oracle/README.md`): a
`spiece.model` laid out like {like}'s, the slow tokenizer's saved `tokenizer_config.json` / `special_tokens_map.json`,
a minimal `config.json`, and `expected.json` with the ids transformers' {cls} gives (an oracle written by hand from
its source; transformers is not used). No `tokenizer.json`: the runtime builds it from `spiece.model`.

`spiece.model`'s pieces, scores and normalizer (a precompiled NFKC charsmap) come from `sp_test_model.model` of
google/sentencepiece (github.com/google/sentencepiece, `python/test/test_model.model`: an English Unigram model of
1,000 pieces trained on botchan.txt; see `../gguf-xlmr/README.md`). Licence: Apache License 2.0, Copyright Google Inc.
(https://www.apache.org/licenses/LICENSE-2.0). The special-token layout{extra}, the other files and the texts are the
project's (Apache-2.0).
"""


def main():
    base = load_base()
    base_normal = sum(1 for p in base.pieces if p.type == NORMAL)
    report = {}

    # ------------------------------------------------------------------ ALBERT
    am = albert_model(base)
    asp = processor(am)
    n_albert = asp.get_piece_size()
    assert n_albert == 5 + base_normal + len(ALBERT_EXTRA) == len(am.pieces)
    assert [asp.id_to_piece(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert (asp.pad_id(), asp.unk_id(), asp.bos_id(), asp.eos_id()) == (0, 1, 2, 3)
    assert asp.is_control(0) and asp.is_unknown(1) and asp.is_control(2) and asp.is_control(3)
    # sentencepiece itself picks every digit-comma piece somewhere in the texts
    picked = set()
    for t in ALBERT_TEXTS:
        for chunk in split_added(t, ALBERT_ADDED):
            if chunk not in ALBERT_ADDED:
                picked.update(p for p in asp.encode(albert_preprocess_text(chunk), out_type=str) if is_number_comma(p))
    want = {p for p, _ in ALBERT_EXTRA if is_number_comma(p)}
    assert picked == want, (picked, want)

    a_ids, a_tokens, a_fast_differs, rewritten_total = [], [], [], 0
    for i, t in enumerate(ALBERT_TEXTS):
        assert t == t.strip(), t
        ids, tokens, rewritten = albert_slow(asp, t)
        ids2, _, _ = albert_slow(asp, t, pre_lowercase=False)
        assert ids == ids2, t
        rewritten_total += rewritten
        a_ids.append(ids)
        a_tokens.append(tokens)
        fast = albert_fast(am, t)
        if fast != ids:
            a_fast_differs.append({"index": i, "fast_ids": fast, "why": ALBERT_NOTE_FAST})
    assert rewritten_total > 0
    assert [d["index"] for d in a_fast_differs] == [ALBERT_TEXTS.index("line one\nline two\tand a tab")], a_fast_differs

    folder = os.path.join(FIXTURES, "spiece-albert")
    os.makedirs(folder, exist_ok=True)
    write_model(folder, am)
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "tokenizer_class": "AlbertTokenizer",
        "do_lower_case": True,
        "remove_space": True,
        "keep_accents": False,
        "bos_token": "[CLS]",
        "eos_token": "[SEP]",
        "unk_token": "<unk>",
        "sep_token": "[SEP]",
        "pad_token": "<pad>",
        "cls_token": "[CLS]",
        "mask_token": {"content": "[MASK]", "lstrip": True, "rstrip": False, "normalized": False,
                       "single_word": False, "__type": "AddedToken"},
        "model_max_length": 512,
    })
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        "bos_token": "[CLS]",
        "eos_token": "[SEP]",
        "unk_token": "<unk>",
        "sep_token": "[SEP]",
        "pad_token": "<pad>",
        "cls_token": "[CLS]",
        "mask_token": {"content": "[MASK]", "lstrip": True, "rstrip": False, "normalized": False,
                       "single_word": False},
    })
    write_json(os.path.join(folder, "config.json"),
               {"model_type": "albert", "architectures": ["AlbertModel"], "vocab_size": n_albert})
    write_json(os.path.join(folder, "expected.json"), {
        "texts": ALBERT_TEXTS,
        "ids": a_ids,
        "tokens": a_tokens,
        "fast_differs": a_fast_differs,
        "note": (
            "ids: transformers' AlbertTokenizer (do_lower_case, remove_space, keep_accents False) on spiece.model, as "
            "make_spiece.py reimplements it: added tokens split first ([MASK] lstrip swallows the space before it), "
            "preprocess_text (str.split() whitespace join, ``/'' -> \", NFKD minus combining marks, lower), "
            "sentencepiece " + spm.__version__ + "'s encode, the digit-comma rule (a piece ending in digit + ',' is "
            "re-encoded without it; pieces '\u25811,' '0,' '9,' are picked and rewritten here), [CLS]=2 ... [SEP]=3. "
            "tokens: the same as strings (an <unk> surface stays as it was). No text has leading or trailing "
            "whitespace: the slow tokenizer strips it, a converted tokenizer.json (AlbertConverter: no Strip, "
            "Metaspace) turns trailing whitespace into an extra '\u2581' token. fast_differs: texts where an emulation "
            "of the AlbertConverter tokenizer.json (see make_spiece.py) gives other ids, and why."
        ),
    })
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write(README.format(name="spiece-albert", like="albert-base-v2", cls="AlbertTokenizer",
                              extra=" and the eight added pieces (3 4 6 7 9, \u25811, 0, 9,)"))
    report["albert"] = (n_albert, a_ids, a_tokens, rewritten_total)

    # ------------------------------------------------------------------ T5
    tm = t5_model(base)
    tsp = processor(tm)
    n_t5 = tsp.get_piece_size()
    assert n_t5 == 3 + base_normal == len(tm.pieces) == 1000
    assert [tsp.id_to_piece(i) for i in range(3)] == ["<pad>", "</s>", "<unk>"]
    assert (tsp.pad_id(), tsp.eos_id(), tsp.unk_id(), tsp.bos_id()) == (0, 1, 2, -1)
    t_ids, t_tokens, t_fast_differs = [], [], []
    for i, t in enumerate(T5_TEXTS):
        assert t == t.strip() and not t.endswith("</s>"), t
        ids, tokens = t5_slow(tsp, t)
        t_ids.append(ids)
        t_tokens.append(tokens)
        fast = t5_fast(tm, t)
        if fast != ids:
            t_fast_differs.append({"index": i, "fast_ids": fast, "why": "unexpected"})
    assert not t_fast_differs, t_fast_differs
    assert any(1099 in ids for ids in t_ids) and any(1000 in ids for ids in t_ids)

    folder = os.path.join(FIXTURES, "spiece-t5")
    os.makedirs(folder, exist_ok=True)
    write_model(folder, tm)
    extra = [f"<extra_id_{i}>" for i in range(100)]
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "tokenizer_class": "T5Tokenizer",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "extra_ids": 100,
        "additional_special_tokens": extra,
        "model_max_length": 512,
        "legacy": True,
    })
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "additional_special_tokens": extra,
    })
    write_json(os.path.join(folder, "config.json"),
               {"model_type": "t5", "architectures": ["T5EncoderModel"], "vocab_size": n_t5 + 100})
    write_json(os.path.join(folder, "expected.json"), {
        "texts": T5_TEXTS,
        "ids": t_ids,
        "tokens": t_tokens,
        "fast_differs": t_fast_differs,
        "note": (
            "ids: transformers' T5Tokenizer (legacy=True, extra_ids 100) on spiece.model, as make_spiece.py "
            "reimplements it: </s> <pad> <unk> <extra_id_N> split out of the text first (<extra_id_N> as "
            "AddedToken(lstrip=True, rstrip=True, single_word=False), the others no strip; sentencepiece trims each "
            "chunk anyway), each other chunk encoded alone by sentencepiece " + spm.__version__ + " (its own dummy "
            "prefix '\u2581'), <extra_id_N> = 1100 - N - 1 (extra_id_0 1099, extra_id_99 1000), </s>=1 <pad>=0 "
            "<unk>=2, then </s> (1) appended. No text has leading or trailing whitespace or ends with '</s>' (the "
            "slow tokenizer adds no second </s> there, a tokenizer.json template does). fast_differs: texts where an "
            "emulation of the T5Converter tokenizer.json (see make_spiece.py) gives other ids: none."
        ),
    })
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write(README.format(name="spiece-t5", like="t5-small", cls="T5Tokenizer", extra=""))
    report["t5"] = (n_t5, t_ids, t_tokens)

    # ------------------------------------------------------------------ summary and probes
    print(f"spiece-albert: {n_albert} pieces, {len(ALBERT_TEXTS)} texts, {rewritten_total} digit-comma rewrites, "
          f"{len(a_fast_differs)} text(s) where the emulated fast tokenizer differs")
    print(f"spiece-t5: {n_t5} pieces (+100 extra ids), {len(T5_TEXTS)} texts, emulated fast tokenizer agrees on all")
    for t in ALBERT_PROBES:
        slow, _, _ = albert_slow(asp, t)
        fast = albert_fast(am, t)
        print(f"  albert probe {t!r}: {'same' if slow == fast else 'DIFFERS'}\n    slow {slow}\n    fast {fast}")
    for t in T5_PROBES:
        slow, _ = t5_slow(tsp, t)
        fast = t5_fast(tm, t)
        print(f"  t5 probe {t!r}: {'same' if slow == fast else 'DIFFERS'}\n    slow {slow}\n    fast {fast}")


if __name__ == "__main__":
    main()
