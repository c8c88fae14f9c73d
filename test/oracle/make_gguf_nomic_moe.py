#!/usr/bin/env python3
"""GGUF fixture of nomic-embed-text-v2-moe's architecture: fixtures/nomic-moe-tiny's weights (make_nomic.py) written as
llama.cpp's converter writes a NomicBertModel with experts (architecture nomic-bert-moe), with an XLM-R SentencePiece
vocabulary as the real model's files have, and its float64 PyTorch oracle.

Writes fixtures/gguf-nomic-moe/ (see the "gguf-nomic-moe" section of README.md next to this file):

  f16.gguf, q8_0.gguf   as `convert_hf_to_gguf.py --outtype f16 / q8_0` writes them (file_type 1 / 7)
  expected.json         texts, ids, the oracle (the last layer's mean and CLS, per-layer means) and per file its tensor
                        types and the oracle run on the weights that file stores (dequantized here)
  README.md             where the vocabulary comes from (google/sentencepiece's test model, Apache-2.0)

What the converter does, from llama.cpp's conversion/bert.py (NomicBertModel, BertModel._xlmroberta_set_vocab),
conversion/base.py (TextModel.set_gguf_parameters, prepare_tensors, prepare_metadata) and gguf-py (constants.py
MODEL_TENSORS[NOMIC_BERT_MOE], tensor_mapping.py, gguf_writer.get_total_parameter_count, utility.size_label); see
scratch/nomic-moe-gguf-facts.md for the whole list with llama.cpp's graph (src/models/bert.cpp, build_moe_ffn):
  - moe_every_n_layers > 0 -> MODEL_ARCH.NOMIC_BERT_MOE; KVs as nomic-bert's plus expert_count (num_experts),
    moe_every_n_layers and expert_used_count (moe_top_k), in the converter's order
  - mlp.experts.mlp.w1 [E I, H] -> blk.L.ffn_up_exps.weight viewed [E, I, H]; mlp.experts.mlp.w2 [E I, H] ->
    blk.L.ffn_down_exps.weight viewed [E, I, H] and TRANSPOSED to [E, H, I]; mlp.router.layer.weight ->
    blk.L.ffn_gate_inp.weight, always F32; mlp.fc1 / mlp.fc2 of the other layers -> ffn_up / ffn_down (with biases)
  - mlp.experts.bias is DROPPED (NomicBertModel.filter_tensors), and llama.cpp's graph adds no bias after the
    experts: the oracle of these files runs the expert layers without it (expected.json's mean); the source
    checkpoint's output with it is kept as mean_with_experts_bias
  - the vocabulary: a "t5" (SentencePiece Unigram) one as _xlmroberta_set_vocab writes it from a
    sentencepiece.bpe.model: pieces realigned to fairseq ids (piece i -> id i + 1, <s> <pad> </s> <unk> = 0..3), the
    list max(config vocab_size, pieces) long ([PADi], -10000, UNUSED past the pieces), then for NOMIC_BERT_MOE the
    hardcoded `tokens[250001] = "<mask>"` (CONTROL, score 0): the real model's 250,000 pieces + 1. nomic-moe-tiny's
    own tokenizer is bert-tiny's WordPiece (the converter would write a "bert" vocabulary for it, as gguf-nomic
    has), and the converter would raise IndexError on a list of 2,064 entries; so this fixture takes gguf-xlmr's
    SentencePiece model (1,000 pieces) and puts <mask> where the rule means it, at pieces + 1 = 1001.
    ids: sentencepiece's own encode, each piece + 1 (0, <unk>, -> 3), framed <s> ... </s> (XLMRobertaTokenizer)
  - n_positions 160 / max_trained_positions 160: NomicBertModel.__init__ accepts only 8192/2048 and 2048/2048 (v2-moe,
    rewritten to 512) and raises otherwise; the files carry 160 as it is (as gguf-nomic's do)

Deliberate mistakes, each of which must move every text's mean below cosine 0.999 (printed): ffn_down_exps read as if
it were HF's w2 (not transposed back), the kept expert weights renormalised, the router's softmax skipped (the top-k
logits as weights), and the source checkpoint's experts bias added (what a reader cannot know from the GGUF).

Run:  cd test/oracle && /usr/bin/python3 make_gguf_nomic_moe.py   (numpy, torch, sentencepiece; ~10 s; after
      make_nomic.py; byte-identical on a rerun). llama.cpp as the second oracle: gguf_llamacpp.mjs with a gguf-nomic-moe
      entry (see README.md).
"""

import contextlib
import os

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import make_gguf as mg
import make_nomic as mn
import numpy as np
import post_norm_oracle as pno
import torch

NAME = "gguf-nomic-moe"
FOLDER = os.path.join(mf.OUT, NAME)
SOURCE = os.path.join(mf.OUT, "nomic-moe-tiny")  # make_nomic.py's fixture: config, model.safetensors, texts, ST files
ARCH = "nomic-bert-moe"  # MODEL_ARCH.NOMIC_BERT_MOE
# google/sentencepiece's test model (Apache-2.0), gguf-xlmr's vocabulary
SP_MODEL = os.path.join(mf.TOKDATA, "sp_test_model.model")
FILES = [("f16.gguf", "F16", mg.FTYPE_MOSTLY_F16), ("q8_0.gguf", "Q8_0", mg.FTYPE_MOSTLY_Q8_0)]
# nomic-moe-tiny's texts but 1, 2 and 11: on these ids a token of each of those is within 1e-4 of a tie between its 2nd
# and 3rd most probable expert (2e-6 in text 1), where the float64 oracle, a float32 runtime and llama.cpp could keep
# different experts. MIN_GAP is asserted for the float32 weights and for each file's.
KEEP = [0, 3, 4, 5, 6, 7, 8, 9, 10]
MIN_GAP = 1e-4
MASK_ID = 250001  # _xlmroberta_set_vocab: tokens[250001] = b'<mask>' for NOMIC_BERT_MOE (XLM-R's 250,000 pieces + 1)

FIXED = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.token_type_embeddings": "token_types",
    "emb_ln": "token_embd_norm",
}
# tensor_mapping.py, the entries marked nomic-bert / nomic-bert-moe
LAYER = {
    "attn.Wqkv": "attn_qkv",
    "attn.out_proj": "attn_output",
    "norm1": "attn_output_norm",
    "mlp.fc1": "ffn_up",
    "mlp.fc2": "ffn_down",
    "mlp.router.layer": "ffn_gate_inp",
    "mlp.experts.mlp.w1": "ffn_up_exps",
    "mlp.experts.mlp.w2": "ffn_down_exps",
    "norm2": "layer_output_norm",
}


def converter_checks(cfg):
    """NomicBertModel.__init__'s asserts for a MoE NomicBERT, all of which nomic-moe-tiny passes but the n_positions
    one (see the docstring). Returns the context length the files carry."""
    assert cfg["moe_every_n_layers"] > 0 and cfg["activation_function"] == "gelu" and cfg["causal"] is False
    assert cfg["qkv_proj_bias"] is True and cfg["mlp_fc1_bias"] is True and cfg["mlp_fc2_bias"] is True
    assert cfg["prenorm"] is False and cfg["rotary_emb_fraction"] == 1.0
    assert cfg["rotary_emb_interleaved"] is False and cfg["rotary_emb_scale_base"] is None
    npos, mtp = cfg["n_positions"], cfg.get("max_trained_positions", 2048)
    assert (npos, mtp) not in ((8192, 2048), (2048, 2048)), "the converter would rewrite n_positions"
    # TextModel.set_gguf_parameters: context_length from n_positions (no max_position_embeddings), feed_forward_length
    # from n_inner (no intermediate_size), expert_count from num_experts, nothing for the gating function
    absent = ("max_position_embeddings", "intermediate_size", "hidden_size", "num_local_experts", "num_experts_per_tok",
              "score_function", "scoring_func", "moe_router_activation")
    assert not any(k in cfg for k in absent)
    assert mn.mlp_width(cfg) == cfg["n_inner"] and not cfg["moe_normalize_expert_weights"]
    assert cfg["num_shared_experts"] == 0 and cfg["expert_choice_router"] is False
    return npos


def gguf_tensors(W, cfg):
    """(HF name, GGUF name, float32 array) in the converter's order (the safetensors keys sorted), mlp.experts.bias
    left out (filter_tensors), w1 viewed [E, I, H], w2 viewed [E, I, H] and transposed to [E, H, I] (modify_tensors,
    which also appends ".weight" to their names)."""
    E, I, H = cfg["num_experts"], cfg["n_inner"], cfg["n_embd"]
    out = []
    for hf in sorted(W):
        a = np.asarray(W[hf], np.float32)
        if "mlp.experts.bias" in hf:
            continue
        name = hf
        if hf.endswith("mlp.experts.mlp.w1"):
            a, name = a.reshape(E, I, H), hf + ".weight"
        elif hf.endswith("mlp.experts.mlp.w2"):
            a, name = np.ascontiguousarray(a.reshape(E, I, H).transpose(0, 2, 1)), hf + ".weight"
        out.append((hf, mg.mapped_name(name, FIXED, LAYER, "encoder.layers"), a))
    return out


def f32_always(g, a):
    """prepare_tensors: 1-D tensors and *_norm.weight F32; FFN_GATE_INP, POS_EMBD and TOKEN_TYPES F32; anything not
    ending in .weight (the biases) F32."""
    return (a.ndim <= 1 or g.endswith("_norm.weight") or not g.endswith(".weight") or g == "token_types.weight"
            or g.endswith(".ffn_gate_inp.weight"))


def from_gguf(stored, cfg, bias=None):
    """The HF weights a GGUF file's tensors stand for (dequantized): the converter's transforms undone, the experts
    bias zeros (bias: the source's instead, for the mistake)."""
    E, I, H = cfg["num_experts"], cfg["n_inner"], cfg["n_embd"]
    W = {}
    for hf, (g, a) in stored.items():
        if g.endswith("ffn_up_exps.weight"):
            a = a.reshape(E * I, H)
        elif g.endswith("ffn_down_exps.weight"):
            a = np.ascontiguousarray(a.transpose(0, 2, 1)).reshape(E * I, H)
        W[hf] = a
    for l in range(cfg["n_layer"]):
        if mn.is_moe_layer(cfg, l):
            k = f"encoder.layers.{l}.mlp.experts.bias"
            W[k] = np.zeros(H, np.float32) if bias is None else bias[k]
    return W


def size_label(tensors):
    """gguf_writer.get_total_parameter_count + utility.size_label: "{E}x{shared + one expert's}"."""
    shared = expert = 0
    counts = []
    for _, g, a in tensors:
        if "_exps." in g:
            counts.append(a.shape[0])
            expert += a.size // a.shape[0]
        else:
            shared += a.size
    return f"{sum(counts) // len(counts)}x{mg.size_label(shared + expert)}" if counts else mg.size_label(shared)


def metadata(cfg, tensors, file_type, vocab_kvs, context):
    """The KV list in the converter's order: GGUFWriter general.architecture; prepare_metadata general.type / name /
    size_label; TextModel.set_gguf_parameters (block_count, context_length, embedding_length, feed_forward_length,
    head_count, rope.freq_base, layer_norm_epsilon, expert_count, file_type); BertModel's causal and pooling_type;
    NomicBertModel's moe_every_n_layers and expert_used_count; quantization_version; then the vocabulary."""
    a = ARCH
    return [
        ("general.architecture", mg.STRING, a),
        ("general.type", mg.STRING, "model"),
        ("general.name", mg.STRING, NAME),
        ("general.size_label", mg.STRING, size_label(tensors)),
        (f"{a}.block_count", mg.UINT32, cfg["n_layer"]),
        (f"{a}.context_length", mg.UINT32, context),
        (f"{a}.embedding_length", mg.UINT32, cfg["n_embd"]),
        (f"{a}.feed_forward_length", mg.UINT32, cfg["n_inner"]),
        (f"{a}.attention.head_count", mg.UINT32, cfg["n_head"]),
        (f"{a}.rope.freq_base", mg.FLOAT32, float(cfg["rotary_emb_base"])),
        (f"{a}.attention.layer_norm_epsilon", mg.FLOAT32, cfg["layer_norm_epsilon"]),
        (f"{a}.expert_count", mg.UINT32, cfg["num_experts"]),
        ("general.file_type", mg.UINT32, file_type),
        (f"{a}.attention.causal", mg.BOOL, False),
        (f"{a}.pooling_type", mg.UINT32, mg.POOLING_MEAN),  # nomic-moe-tiny's modules.json: 1_Pooling, mean tokens
        (f"{a}.moe_every_n_layers", mg.UINT32, cfg["moe_every_n_layers"]),
        (f"{a}.expert_used_count", mg.UINT32, cfg["moe_top_k"]),
        ("general.quantization_version", mg.UINT32, mg.GGML_QUANT_VERSION),
        *vocab_kvs,
    ]


def vocabulary(cfg):
    """_xlmroberta_set_vocab from sentencepiece.bpe.model (make_gguf.sp_vocab: the realigned list), then the
    NOMIC_BERT_MOE <mask> patch at pieces + 1 (see the docstring), and SpecialVocab's ids and add flags for XLM-R's
    tokenizer.json / tokenizer_config.json (<mask> at that id). Returns (sp, tokens, vocab KVs)."""
    n_vocab = cfg["vocab_size"]
    sp, tokens, scores, types, norm = mg.sp_vocab(SP_MODEL, n_vocab)
    assert len(tokens) == n_vocab and sp.vocab_size() + 2 <= n_vocab
    mask = sp.vocab_size() + 1  # MASK_ID's rule on this vocabulary
    assert MASK_ID == 250000 + 1 and tokens[mask] == f"[PAD{mask - 1}]" and types[mask] == mg.TOKEN_UNUSED
    tokens[mask], scores[mask], types[mask] = "<mask>", 0.0, mg.TOKEN_CONTROL
    assert len(set(tokens)) == n_vocab
    tok_json = mg.xlmr_tokenizer_json(mask + 1)  # added_tokens <s> <pad> </s> <unk> 0..3, <mask> = mask
    special_ids, add_flags = mg.special_vocab(tok_json, mg.XLMR_TOKENIZER_CONFIG, cfg, n_vocab)
    assert special_ids == {"bos": 0, "eos": 2, "unk": 3, "sep": 2, "pad": 1, "cls": 0, "mask": mask}
    assert add_flags == {"bos": True, "eos": True, "sep": True}
    assert cfg["type_vocab_size"] == 1  # xlmr_vocab_metadata writes token_type_count 1
    return sp, tokens, mg.xlmr_vocab_metadata(tokens, scores, types, norm, special_ids, add_flags)


def texts_and_ids(sp, texts, context):
    """XLMRobertaTokenizer's ids: sentencepiece's encode, piece + 1 (0, <unk>, -> 3), framed <s> = 0 ... </s> = 2."""
    ids = [[0] + [i + 1 if i else 3 for i in sp.encode(t)] + [2] for t in texts]
    assert all(len(x) <= context for x in ids)
    return ids


# --------------------------------------------------------------------------------------------------
# The oracle (make_nomic.forward / forward_functional) and the mistakes
# --------------------------------------------------------------------------------------------------


def no_softmax_experts(W, p, cfg, h, **_):
    """The mistake "router softmax skipped": the top-k experts by logit, weighed by their logits."""
    E, k, H, I = cfg["num_experts"], cfg["moe_top_k"], cfg["n_embd"], mn.mlp_width(cfg)
    w1 = W[p + "mlp.experts.mlp.w1"].view(E, I, H)
    w2 = W[p + "mlp.experts.mlp.w2"].view(E, I, H)
    flat = h.reshape(-1, H)
    out = torch.zeros_like(flat)
    for t in range(flat.shape[0]):
        logits = flat[t] @ W[p + "mlp.router.layer.weight"].T
        top = torch.topk(logits, k).indices
        for e in top.tolist():
            out[t] += logits[e] * (mf.gelu(flat[t] @ w1[e].T) @ w2[e])
    return (out + W[p + "mlp.experts.bias"]).view(h.shape)


@contextlib.contextmanager
def experts_as(fn):
    """make_nomic.forward with its experts() replaced (make_nomic looks the name up at call time)."""
    orig = mn.experts
    mn.experts = fn
    try:
        yield
    finally:
        mn.experts = orig


def routing(Wt, cfg, inp, mask, lengths):
    """Per MoE layer and real token: the experts kept and the gap between the k-th and (k+1)-th probability, from the
    router's input as make_nomic.forward computes it."""
    seen = []

    def spy(W, p, cfg_, h, **kw):
        k = cfg_["moe_top_k"]
        probs = torch.softmax(h @ W[p + "mlp.router.layer.weight"].T, -1)
        top = torch.topk(probs, k + 1, dim=-1)
        for i, n in enumerate(lengths):
            for t in range(n):
                v, ix = top.values[i, t], top.indices[i, t]
                seen.append((p, i, t, tuple(sorted(ix[:k].tolist())), float(v[k - 1] - v[k])))
        return orig(W, p, cfg_, h, **kw)

    orig = mn.experts
    with experts_as(spy), torch.no_grad():
        mn.forward(Wt, cfg, inp, mask)
    return seen


def no_softmax(forward_with):
    with experts_as(no_softmax_experts):
        return forward_with()


def main():
    os.makedirs(FOLDER, exist_ok=True)
    cfg = pno.read_json(os.path.join(SOURCE, "config.json"))
    context = converter_checks(cfg)
    pooling = pno.read_json(os.path.join(SOURCE, "1_Pooling", "config.json"))
    assert pooling["pooling_mode_mean_tokens"]
    E, L = cfg["num_experts"], cfg["n_layer"]

    W = mf.read_safetensors(os.path.join(SOURCE, "model.safetensors"))
    src = pno.read_json(os.path.join(SOURCE, "expected.json"))
    # The forward as wired here reproduces nomic-moe-tiny's own oracle on its own ids (with the experts bias).
    src_states, _ = mg.run_nomic_oracle(W, cfg, src["ids"], NAME)
    mg.same_as_source(mg.pooled(src_states, src["ids"])[0], SOURCE, L)

    sp, tokens, vkv = vocabulary(cfg)
    texts = [src["texts"][i] for i in KEEP]
    ids = texts_and_ids(sp, texts, context)
    lengths = [len(x) for x in ids]
    n_unk = sum(x.count(3) for x in ids)

    tensors = gguf_tensors(W, cfg)
    hf_of = {g: h for h, g, _ in tensors}
    bias = {k: W[k] for k in W if k.endswith("mlp.experts.bias")}
    assert len(bias) == sum(mn.is_moe_layer(cfg, l) for l in range(L)) > 0
    # The float32 weights as the files hold them: the converter's transforms undone, no experts bias.
    W32 = from_gguf({h: (g, a) for h, g, a in tensors}, cfg)
    assert all(np.array_equal(W32[k], W[k]) for k in W if k not in bias)
    states, (Wt, inp, mask) = mg.run_nomic_oracle(W32, cfg, ids, NAME)
    mean, cls = mg.pooled(states, ids)
    with_bias, _ = mg.run_nomic_oracle(W, cfg, ids, NAME)
    mean_bias = mg.pooled(with_bias, ids)[0]

    # Mistakes a GGUF reader could make; each must move every text's mean below 0.999.
    def forward_with(Wx=None, **kw):
        Wx = Wt if Wx is None else {n: torch.from_numpy(np.asarray(a, np.float64)) for n, a in Wx.items()}
        return mn.forward(Wx, cfg, inp, mask, **kw)

    raw_w2 = {**W32}
    for h, g, a in tensors:
        if g.endswith("ffn_down_exps.weight"):
            raw_w2[h] = a.reshape(-1, cfg["n_embd"])  # [E, H, I]'s bytes read as HF's [E I, H]
    moved = {}
    with torch.no_grad():
        cases = {
            "ffn_down_exps not transposed back": lambda: forward_with(raw_w2),
            "top-k weights renormalised": lambda: forward_with(renormalise=True),
            "router softmax skipped": lambda: no_softmax(forward_with),
            "experts bias added (the source's)": lambda: with_bias,
        }
        for label, run in cases.items():
            wrong = pno.mean_pool(run()[-1], lengths)
            moved[label] = pno.min_cosine(wrong, pno.mean_pool(states[-1], lengths))
            assert moved[label] < 0.999, (label, moved[label])

    route32 = routing(Wt, cfg, inp, mask, lengths)
    gap = min(r[4] for r in route32)
    assert gap >= MIN_GAP, ("float32 routing gap", gap)

    files = {}
    for fname, qtype, ftype in FILES:
        types = {g: "F32" if f32_always(g, a) else qtype for _, g, a in tensors}
        blobs = [(g, types[g], a.shape, mg.quantize(a, types[g])) for _, g, a in tensors]
        kvs = metadata(cfg, tensors, ftype, vkv, context)
        size = mg.write_gguf(os.path.join(FOLDER, fname), kvs, blobs)
        kv, stored = mg.read_back(os.path.join(FOLDER, fname))
        assert list(kv) == [k[0] for k in kvs] and list(stored) == [g for _, g, _ in tensors]
        assert kv["general.architecture"] == ARCH and kv[f"{ARCH}.expert_count"] == E
        assert kv["tokenizer.ggml.tokens"] == tokens and kv["tokenizer.ggml.mask_token_id"] == sp.vocab_size() + 1
        g1 = "blk.1.ffn_down_exps.weight"
        assert stored[g1][1] == (E, cfg["n_embd"], cfg["n_inner"]) and stored["blk.1.ffn_gate_inp.weight"][0] == "F32"
        assert not any("experts.bias" in g or g.startswith("position") for g in stored)
        deq = {hf_of[g]: (g, mg.dequantize(b, t, s)) for g, (t, s, b) in stored.items()}
        worst_w = max(float(np.linalg.norm(deq[h][1] - a) / np.linalg.norm(a)) for h, _, a in tensors)
        Wq = from_gguf(deq, cfg)
        qstates, (Wqt, _, _) = mg.run_nomic_oracle(Wq, cfg, ids, NAME)
        qmean, qcls = mg.pooled(qstates, ids)
        # the stored weights route every token to the same experts as the float32 ones
        # which experts the stored weights keep: no near-tie, and how many tokens go elsewhere than with float32 weights
        route = routing(Wqt, cfg, inp, mask, lengths)
        qgap = min(r[4] for r in route)
        assert qgap >= MIN_GAP, (fname, "routing gap", qgap)
        moved_tokens = sum(a[3] != b[3] for a, b in zip(route32, route))
        worst = min(mg.cos(a, b) for a, b in zip(qmean, mean))
        files[fname] = {"file_type": ftype, "tensor_types": types, "mean": qmean, "cls": qcls}
        print(f"{fname}: {size} bytes; size_label {kv['general.size_label']}; stored weights' largest relative error "
              f"{worst_w:.4f}; {moved_tokens} of {len(route32)} routed tokens keep other experts than with the float32 "
              f"weights, smallest 2nd/3rd gap {qgap:.4f}; min cosine of the stored weights' mean vs the float32 oracle "
              f"{worst:.6f}")

    expected = {
        "model": NAME,
        "source": "nomic-moe-tiny",
        "texts": texts,
        "ids": ids,
        "tokens": [[tokens[i] for i in x] for x in ids],
        "layers": L,
        "hidden": cfg["n_embd"],
        "mean": mean,
        "cls": cls,
        "layer_mean": [[mg.r7(s[i, : len(x)].mean(0).numpy()) for s in states] for i, x in enumerate(ids)],
        "mean_with_experts_bias": mean_bias,
        "files": files,
        "note": (
            "The weights of fixtures/nomic-moe-tiny (make_nomic.py: NomicBertModel as nomic-embed-text-v2-moe, GELU "
            "MLP with biases, 8 experts top 2 in layers 1 and 3, rotary_emb_base 10000, vocab 2064) as llama.cpp's "
            "converter writes a NomicBertModel with experts (architecture nomic-bert-moe; ffn_up_exps [E, I, H] = w1, "
            "ffn_down_exps [E, H, I] = w2 per expert transposed, ffn_gate_inp F32 = the router; mlp.experts.bias "
            "dropped), with an XLM-R SentencePiece vocabulary (tokenizer.ggml.model t5: gguf-xlmr's 1,000-piece "
            "model, realigned to fairseq ids, <mask> at pieces + 1 = 1001, [PADi] UNUSED up to 2063). texts: "
            "nomic-moe-tiny's but its texts 1, 2 and 11 (a near-tie between the 2nd and 3rd expert of a token: every "
            "routed token here has its 2nd and 3rd probability at least 1e-4 apart, with the float32 weights and with "
            "each file's); ids: XLMRobertaTokenizer's (sentencepiece's encode, piece + 1, <unk> 3, <s> = 0 ... "
            "</s> = 2), not nomic-moe-tiny's WordPiece ids; tokens: the GGUF's token strings. mean / cls: the last "
            "layer's mean over the real tokens (not normalised) and token 0, by make_nomic.forward in float64 from "
            "the float32 weights the files were written from, WITHOUT the experts bias (as llama.cpp runs them: the "
            "files cannot carry it); mean_with_experts_bias: the same with nomic-moe-tiny's experts bias (what its "
            "safetensors give for these ids). Experts: softmax over all 8, the top 2 kept at their probabilities, "
            "not renormalised. layer_mean[i][l]: mean after emb_ln (l=0) and after layer l. files[f].mean / .cls: the "
            "oracle run on the weights file f stores, dequantized; files[f].tensor_types: the ggml type of every "
            "tensor in f. One right-padded batch checked against each text alone and make_nomic.forward_functional; "
            "exact GELU (erf); values rounded to 7 significant digits."
        ),
    }
    path = os.path.join(FOLDER, "expected.json")
    mf.write_json(path, expected)
    with open(os.path.join(FOLDER, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(README)
    print(f"{NAME}: {len(ids)} texts, lengths {lengths}, {n_unk} unk, {sum(a.size for _, _, a in tensors)} parameters "
          f"in the GGUF; smallest gap between the 2nd and 3rd expert probability {gap:.4f}; mistakes (min cosine of "
          "the means): " + ", ".join(f"{k} {v:.4f}" for k, v in moved.items()) +
          f"; expected.json {os.path.getsize(path)} bytes")


README = """# gguf-nomic-moe fixture

Made by `test/oracle/make_gguf_nomic_moe.py` (see the "gguf-nomic-moe" section of `test/oracle/README.md`):
fixtures/nomic-moe-tiny's random weights written as llama.cpp's converter writes a `NomicBertModel` with experts
(architecture `nomic-bert-moe`), and its PyTorch and llama.cpp oracles.

The vocabulary in the GGUF files (`tokenizer.ggml.tokens`, `scores`, `precompiled_charsmap`) is that of
`sp_test_model.model` of google/sentencepiece (github.com/google/sentencepiece, `python/test/test_model.model`: an
English Unigram model of 1,000 pieces trained on botchan.txt), as in ../gguf-xlmr. Licence: Apache License 2.0,
Copyright Google Inc. (https://www.apache.org/licenses/LICENSE-2.0).

The random weights and the other files are the project's (Apache-2.0). Texts: nomic-moe-tiny's, FLORES-200 dev
sentences (via SIB-200; CC-BY-SA-4.0).
"""


if __name__ == "__main__":
    main()
