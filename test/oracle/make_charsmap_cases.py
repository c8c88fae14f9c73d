#!/usr/bin/env python3
"""Ids sentencepiece itself gives for texts its character map changes, with gguf-xlmr's vocabulary (google/
sentencepiece's test model, whose normalizer is NFKC compiled into a precompiled_charsmap).

Writes fixtures/gguf-xlmr/charsmap-cases.json: {texts, ids}, ids as transformers' XLMRobertaTokenizer frames
sentencepiece's encode (piece id + 1, <unk> 0 -> 3, <s> = 0 ... </s> = 2), as make_gguf.py's gguf-xlmr ids. m3web
reads the same map from the GGUF (src/tokenizer/charsmap.ts) and must give these ids; @huggingface/tokenizers' own
reading of a map (NFKC, U+2000-U+200F as spaces, control characters dropped) differs on some of them. Leading and
trailing spaces are not the map's business (sentencepiece strips them, an XLM-R tokenizer.json's Metaspace does not):
no text here has them.

Run:  cd test/oracle && /usr/bin/python3 make_charsmap_cases.py   (python3-sentencepiece; a second; byte-identical)
"""

import json
import os

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDER = os.path.join(HERE, "fixtures", "gguf-xlmr")

TEXTS = [
    "Zo\u00eb's caf\u00e9 \U0001f469\u200d\U0001f4bb and \U0001f468\u200d\U0001f469\u200d\U0001f467 joined by U+200D",
    "zero\u200bwidth\u200cnon\u200djoiner and\u2060word joiner",
    "tab\there\nnew line\r\nand\u00a0no-break\u2003em space\u3000ideographic",
    "\ufb01ne \ufb02ow: ligatures, \u2460\u2461\u2462 circled, \u00bd half, \u2122 trade mark",
    "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 letters and \uff11\uff12\uff13 digits, \uff5e wave dash",
    "\u212b\u00e5ngstr\u00f6m sign, A\u030a combining ring, e\u0301 combining acute, \u1e9b\u0323 long s",
    "control\u0001chars\u0007in\u001ftext\u007fand\u0085next line",
    "\u1100\u1161\u11a8 Hangul jamo, \uac01 syllable, \u3131 compatibility jamo",
    "\u00b5 micro, \u03bc mu, \u2126 ohm, \u03a9 omega, \u00b2 squared, \u2082 subscript",
]


def main():
    sp = spm.SentencePieceProcessor(model_file=os.path.join(FOLDER, "sentencepiece.bpe.model"))
    ids = [[0] + [i + 1 if i else 3 for i in sp.encode(t)] + [2] for t in TEXTS]
    out = {
        "note": "ids: sentencepiece " + spm.__version__ + "'s encode of each text with fixtures/gguf-xlmr/"
                "sentencepiece.bpe.model, framed as XLMRobertaTokenizer frames them (piece + 1, <unk> 3, <s> 0, </s> 2)",
        "texts": TEXTS,
        "ids": ids,
    }
    path = os.path.join(FOLDER, "charsmap-cases.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(TEXTS)} texts, {sum(map(len, ids))} ids -> {path}")


if __name__ == "__main__":
    main()
