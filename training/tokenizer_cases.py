"""Writes test/oracle/fixtures/m3-tokenizer/cases.json: python3-sentencepiece's ids for FLORES and
STS dev sentences (and some awkward strings), so the TypeScript tests can check that the
exported tokenizer.json gives the same ids under @huggingface/tokenizers."""

import csv
import glob
import json
import os

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
DEV = os.path.join(HERE, "dev-data")
OUT = os.path.join(HERE, "..", "test", "oracle", "fixtures", "m3-tokenizer", "cases.json")
PER_LANG = 10

AWKWARD = [
    "  leading, trailing   and  repeated spaces  ", "tab\tnew\nline\r\nand\u000bvertical", "\u00a0no-break\u2009thin\u3000ideographic",
    "zero\u200bwidth\u200cnon-joiner\u200djoiner", "\ufeffbyte order mark", "control\u0001\u0007chars", "ﬁ ligature ① ＡＢＣ",
    "emoji 😀👍🏽 family 👨‍👩‍👧", "combining e\u0301 vs é", "", " ", "x" * 600, "▁ lower one eighth block",
    "12345678901234567890", "Ελληνικά, Русский, עברית, العربية, हिन्दी, 中文, 日本語, 한국어",
]


def main():
    sp = spm.SentencePieceProcessor(model_file=os.path.join(HERE, "work", "spm.model"))
    cases = []
    for path in sorted(glob.glob(os.path.join(DEV, "flores-dev", "*.tsv"))):
        lang = os.path.basename(path)[:-4]
        with open(path, encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        cases += [(lang, r["text"]) for r in rows[:PER_LANG]]
    for path in sorted(glob.glob(os.path.join(DEV, "stsb-dev", "*.csv"))):
        lang = os.path.basename(path).split("-")[1]
        with open(path, encoding="utf-8") as f:
            cases += [(f"sts-{lang}", r[0]) for r in list(csv.reader(f))[:PER_LANG]]
    cases += [("awkward", t) for t in AWKWARD]
    out = [{"lang": lang, "text": text, "ids": sp.encode(text)} for lang, text in cases]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"source": "python3-sentencepiece " + spm.__version__, "cases": out}, f, ensure_ascii=False)
    print(f"{len(out)} cases -> {OUT}")


if __name__ == "__main__":
    main()
