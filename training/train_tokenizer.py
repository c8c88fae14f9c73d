"""Trains the SentencePiece Unigram tokenizer and exports it as a Hugging Face tokenizer.json.

Reads training/work/groups.jsonl (prepare_data.py). Writes training/work/spm.model and
training/work/hf/tokenizer.json. The sample is balanced per language so that the 205 FLORES
languages, not English UI strings, decide which pieces exist.
"""

import argparse
import json
import os
import random
from collections import defaultdict

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Normalisation is spelled out as single-character rules that SentencePiece (a rule TSV) and
# @huggingface/tokenizers (regex Replace) apply identically. SentencePiece's built-in nmt_nfkc
# cannot be mirrored exactly in JS: it keeps ZWJ where the JS Precompiled normaliser makes it a
# space, and it does not reorder combining marks as String.normalize does, so ids drift on
# Sinhala, Myanmar, Arabic with harakat and Yoruba. ZWJ and ZWNJ stay: they spell words in
# Indic scripts and Persian.
SPACE_CHARS = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
               0x2029, 0x202F, 0x205F, 0x2581, 0x3000]
REMOVED_CHARS = [*range(0x01, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0),
                 0x200B, 0x200E, 0x200F, 0xFEFF, 0xFFFD]


def char_class(codes):
    return "[" + "".join(f"\\u{c:04X}" for c in codes) + "]"


def write_rules(path):
    with open(path, "w", encoding="utf-8") as f:
        for c in SPACE_CHARS:
            f.write(f"{c:X}\t20\n")
        for c in REMOVED_CHARS:
            f.write(f"{c:X}\t\n")
# Sentences (FLORES, UDHR, STS) teach more than UI strings and keywords, so they go in first.
SOURCE_ORDER = ["flores", "udhr", "stsb", "lo-help", "lo-ui", "cldr"]


def sample_corpus(path, per_lang, seed):
    texts = defaultdict(lambda: defaultdict(list))
    with open(os.path.join(WORK, "groups.jsonl"), encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            for lang, text in g["texts"].items():
                texts[lang][g["src"]].append(text)
    rng = random.Random(seed)
    total = 0
    with open(path, "w", encoding="utf-8") as out:
        for lang in sorted(texts):
            chosen = []
            for src in SOURCE_ORDER:
                pool = texts[lang].get(src, [])
                rng.shuffle(pool)
                chosen.extend(pool[: per_lang - len(chosen)])
            for t in chosen:
                out.write(t.replace("\n", " ") + "\n")
            total += len(chosen)
    return total


def export_hf(model_path, out_dir):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    proto = model_pb2.ModelProto()
    with open(model_path, "rb") as f:
        proto.ParseFromString(f.read())
    vocab = [[p.piece, p.score] for p in proto.pieces]
    ids = {s: sp.piece_to_id(s) for s in SPECIALS}
    added = [{"id": ids[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s in SPECIALS]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"Regex": char_class(REMOVED_CHARS)}, "content": ""},
            {"type": "Replace", "pattern": {"Regex": char_class(SPACE_CHARS)}, "content": " "},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            {"type": "Strip", "strip_left": True, "strip_right": True},
        ]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                          "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {s: {"id": s, "ids": [ids[s]], "tokens": [s]} for s in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                    "split": True},
        "model": {"type": "Unigram", "unk_id": ids["[UNK]"], "vocab": vocab, "byte_fallback": False},
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "unk_token": "[UNK]", "mask_token": "[MASK]", "do_lower_case": False}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--per-lang", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    corpus = os.path.join(WORK, "spm_corpus.txt")
    n = sample_corpus(corpus, args.per_lang, args.seed)
    print(f"tokenizer corpus: {n} texts", flush=True)
    rules = os.path.join(WORK, "normalization.tsv")
    write_rules(rules)
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(WORK, "spm"), model_type="unigram",
        vocab_size=args.vocab, normalization_rule_tsv=rules, character_coverage=0.9995, input_sentence_size=n,
        shuffle_input_sentence=True, num_threads=os.cpu_count(), max_sentence_length=8192,
        pad_id=0, pad_piece="[PAD]", unk_id=1, unk_piece="[UNK]", bos_id=2, bos_piece="[CLS]",
        eos_id=3, eos_piece="[SEP]", user_defined_symbols=["[MASK]"], split_digits=True,
        seed_sentencepiece_size=2_000_000, train_extremely_large_corpus=False, minloglevel=1)
    export_hf(os.path.join(WORK, "spm.model"), os.path.join(WORK, "hf"))
    print("wrote", os.path.join(WORK, "hf", "tokenizer.json"))


if __name__ == "__main__":
    main()
