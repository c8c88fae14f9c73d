#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's decoder-style embedders: Qwen3-Embedding, EmbeddingGemma and EuroBERT.

Writes fixtures/qwen3-tiny/, fixtures/gemma3-tiny/, fixtures/eurobert-tiny/, fixtures/qwen3-bidir-tiny/ (a Qwen3
whose config says is_causal: false) and fixtures/jina-v5-nano-tiny/ (see README.md next to this file): the real
config.json fields with the sizes shrunk, random weights in Hugging Face layout, the sentence-transformers
folder files (modules.json, Pooling, Dense, Normalize, prompts) and the expected hidden states at every
exit and the final sentence-transformers vectors. Both reuse modernbert-tiny's Gemma-style tokenizer and
its verified texts and ids (its longest text crosses the sliding windows below).

Run from the repository root:  python3 test/oracle/make_decoder_embedders.py   (after make_modernbert.py)

The forwards are written from the published definitions (transformers models/qwen3/modeling_qwen3.py,
models/gemma3/{configuration,modeling}_gemma3.py; sentence-transformers models/{Pooling,Dense,Normalize}.py);
neither transformers nor sentence-transformers is used. Conventions, read from that source:
  qwen3:  h = embed(ids); per layer: h += o(attn(rms(h))); h += down(silu(gate(rms(h))) * up(rms(h)));
          last_hidden_state = norm(h). RMSNorm: x * rsqrt(mean(x^2) + eps) * w. q and k are RMS-normed
          per head (q_norm / k_norm over head_dim) before RoPE (rope_theta, rotate_half); GQA (each group of
          num_attention_heads / num_key_value_heads query heads shares one key/value head); scaling
          head_dim^-0.5; causal mask. Pooling: last token (pooling_mode_lasttoken), then Normalize.
  eurobert (models/eurobert/modular_eurobert.py): Llama's layers as qwen3's above without q_norm / k_norm,
          attending both ways (create_bidirectional_mask: padding masked only); rope_theta; the end-of-text
          token doubles as the pad token. A fine-tune's sentence-transformers head: mean pooling, Normalize.
  gemma3_text (EmbeddingGemma, use_bidirectional_attention): h = embed(ids) * sqrt(hidden_size);
          per layer: h += post_attention_norm(o(attn(input_norm(h)))); h += post_feedforward_norm(
          down(gelu_tanh(gate(x)) * up(x))) with x = pre_feedforward_norm(h); last_hidden_state = norm(h).
          Gemma RMSNorm multiplies by (1 + w). Scaling query_pre_attn_scalar^-0.5. Full layers rotate with
          rope_theta, sliding ones with rope_local_base_freq. Bidirectional: the config turns sliding_window
          into sliding_window // 2 + 1 and the mask keeps |i - j| < that, i.e. |i - j| <= sliding_window // 2.
          Pooling: mean over real tokens, then Dense (no bias, Identity) twice, then Normalize.
Hidden states: hidden_states[l] for l < L is the raw residual stream; the last is norm(h_L).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

OUT = mf.OUT
SOURCE = os.path.join(OUT, "modernbert-tiny")

# --------------------------------------------------------------------------------------------------
# Configs: the fields of Qwen/Qwen3-Embedding-0.6B's and google/embeddinggemma-300m's config.json,
# sizes shrunk; head_dim * heads differs from hidden_size on purpose, as it does in EmbeddingGemma.
# --------------------------------------------------------------------------------------------------


def qwen3_config(vocab_size):
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "head_dim": 24,
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "max_position_embeddings": 160,
        "max_window_layers": 3,
        "model_type": "qwen3",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.51.3",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }


def gemma3_config(vocab_size):
    return {
        "architectures": ["Gemma3TextModel"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "final_logit_softcapping": None,
        "head_dim": 32,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        "max_position_embeddings": 160,
        "model_type": "gemma3_text",
        "num_attention_heads": 3,
        "num_hidden_layers": 4,
        "num_key_value_heads": 1,
        "pad_token_id": 0,
        "query_pre_attn_scalar": 24,
        "rms_norm_eps": 1e-06,
        "rope_local_base_freq": 10000.0,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 16,
        "torch_dtype": "float32",
        "transformers_version": "4.57.0.dev0",
        "use_bidirectional_attention": True,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


# --------------------------------------------------------------------------------------------------
# Weights (Hugging Face names of Qwen3Model / Gemma3TextModel, saved without the "model." prefix as
# the sentence-transformers checkpoints are)
# --------------------------------------------------------------------------------------------------


def is_eurobert(cfg):
    """EuroBERT, or jina-embeddings-v5-text-nano over it (its config keeps EuroBertConfig's mask_token_id)."""
    return cfg["model_type"] == "eurobert" or (cfg["model_type"] == "jina_embeddings_v5" and "mask_token_id" in cfg)


def make_weights(cfg, seed, gemma):
    rs = np.random.RandomState(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D, NH, NKV = cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    w = []

    def normal(name, shape, std):
        w.append((name, rs.standard_normal(shape) * std))

    # Gemma stores w with the norm multiplying by (1 + w): weights near 0; Qwen's multiply by w: near 1.
    def norm(name, n):
        w.append((name + ".weight", (0.0 if gemma else 1.0) + 0.1 * rs.standard_normal((n,))))

    normal("embed_tokens.weight", (V, H), 0.06 if gemma else 0.5)
    for l in range(cfg["num_hidden_layers"]):
        p = f"layers.{l}."
        norm(p + "input_layernorm", H)
        # Without query / key norms (EuroBERT) smaller q / k keep the random scores from saturating.
        qk = 0.1 if is_eurobert(cfg) else 0.2
        normal(p + "self_attn.q_proj.weight", (NH * D, H), qk)
        normal(p + "self_attn.k_proj.weight", (NKV * D, H), qk)
        normal(p + "self_attn.v_proj.weight", (NKV * D, H), 0.15)
        normal(p + "self_attn.o_proj.weight", (H, NH * D), 0.12)
        if not is_eurobert(cfg):
            norm(p + "self_attn.q_norm", D)
            norm(p + "self_attn.k_norm", D)
        norm(p + "post_attention_layernorm", H)
        if gemma:
            norm(p + "pre_feedforward_layernorm", H)
            norm(p + "post_feedforward_layernorm", H)
        normal(p + "mlp.gate_proj.weight", (I, H), 0.2)
        normal(p + "mlp.up_proj.weight", (I, H), 0.2)
        normal(p + "mlp.down_proj.weight", (H, I), 0.1)
    norm("norm", H)
    return w


# --------------------------------------------------------------------------------------------------
# Forward (float64)
# --------------------------------------------------------------------------------------------------


def rms_norm(x, w, eps, plus_one):
    y = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if plus_one else y * w


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def rope(x, pos, theta, angle_dtype=torch.float64):
    """x [B, heads, S, D] rotated by positions pos [B, S] (HF: cos/sin of pos * theta^(-2i/D), doubled)."""
    D = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=angle_dtype) / D))
    freqs = pos.to(angle_dtype)[..., None] * inv
    # Angles in float64 whatever x is, so a float32 training run (make_decoder_trained.py) rotates alike.
    emb = torch.cat((freqs, freqs), dim=-1)[:, None]
    return x * emb.cos().to(x.dtype) + rotate_half(x) * emb.sin().to(x.dtype)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def silu(x):
    return x * torch.sigmoid(x)


def layer_plan(cfg, gemma, mistake):
    """Per layer: (rope theta, window half or None, causal), as the model defines it, or with a mistake."""
    L = cfg["num_hidden_layers"]
    if not gemma:
        # transformers' create_causal_mask builds the bidirectional mask where config.is_causal is false.
        causal = not is_eurobert(cfg) and cfg.get("is_causal", True) and not cfg.get("use_bidirectional_attention")
        return [(cfg["rope_theta"], None, causal != (mistake in ("bidirectional", "causal")))] * L
    # EmbeddingGemma (use_bidirectional_attention): the config turns sliding_window W into W // 2 + 1 and the mask
    # keeps |i - j| < that. Causal Gemma 3 (the LLM, Harrier's embedders): sliding_window_overlay keeps
    # j > i - W, with j <= i, i.e. i - j <= W - 1.
    bidir = cfg.get("use_bidirectional_attention", False)
    W = cfg["sliding_window"]
    half = W // 2 if bidir != (mistake == "other_window") else W - 1
    plan = []
    for t in cfg["layer_types"]:
        full = t == "full_attention"
        theta = cfg["rope_theta"] if full else cfg["rope_local_base_freq"]
        if mistake == "swapped_thetas":
            theta = cfg["rope_local_base_freq"] if full else cfg["rope_theta"]
        window = None if full or mistake == "no_window" else half
        plan.append((theta, window, (not bidir) != (mistake in ("causal", "bidirectional"))))
    return plan


def forward(W, cfg, ids, mask, gemma, mistake=None, naive=False, export=False):
    """ids, mask [B, S]; positions count real tokens from 0, so left and right padding agree.
    Returns (hidden_states list of [B, S, H], L + 1 entries). `export`: the same function in ONNX's
    terms (float32 RoPE angles, a finite mask value instead of -inf, so padding rows stay finite)."""
    H, D = cfg["hidden_size"], cfg["head_dim"]
    NH, NKV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    eps = cfg["rms_norm_eps"]
    plus_one = gemma and mistake != "no_plus_one"
    norm = lambda x, name: rms_norm(x, W[name + ".weight"], eps, plus_one)  # noqa: E731
    # Qwen2's q/k/v projections carry biases; the other projections here have none.
    lin = lambda x, name: x @ W[name + ".weight"].T + W[name + ".bias"] if name + ".bias" in W else x @ W[name + ".weight"].T  # noqa: E731
    B, S = ids.shape
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    h = W["embed_tokens.weight"][ids]
    if gemma:
        h = h * torch.tensor(H**0.5, dtype=torch.float64)
    scale = (cfg["query_pre_attn_scalar"] if gemma else D) ** -0.5
    states = [h]
    for l, (theta, window, causal) in enumerate(layer_plan(cfg, gemma, mistake)):
        p = f"layers.{l}."
        x = norm(h, p + "input_layernorm")
        # Qwen2 has no query / key norms.
        qk_norm = (lambda t, name: norm(t, name)) if p + "self_attn.q_norm.weight" in W else (lambda t, name: t)  # noqa: E731
        q = qk_norm(lin(x, p + "self_attn.q_proj").view(B, S, NH, D), p + "self_attn.q_norm").transpose(1, 2)
        k = qk_norm(lin(x, p + "self_attn.k_proj").view(B, S, NKV, D), p + "self_attn.k_norm").transpose(1, 2)
        v = lin(x, p + "self_attn.v_proj").view(B, S, NKV, D).transpose(1, 2)
        angles = torch.float32 if export else torch.float64
        q, k = rope(q, pos, theta, angles), rope(k, pos, theta, angles)
        # Each key/value head serves NH // NKV consecutive query heads (repeat_interleave, written
        # as expand + reshape, which the ONNX export traces with dynamic shapes).
        k = k[:, :, None].expand(B, NKV, NH // NKV, S, D).reshape(B, NH, S, D)
        v = v[:, :, None].expand(B, NKV, NH // NKV, S, D).reshape(B, NH, S, D)
        i = pos[:, :, None]
        j = pos[:, None, :]
        allowed = mask[:, None, :].bool().expand(B, S, S)
        if causal:
            allowed = allowed & (j <= i)
        if window is not None:
            allowed = allowed & ((i - j).abs() <= window)
        if naive:
            ctx = naive_attention(q, k, v, allowed, scale)
        else:
            scores = (q @ k.transpose(-1, -2)) * scale
            scores = scores.masked_fill(~allowed[:, None], -1e9 if export else float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            probs = probs if export else torch.nan_to_num(probs)
            ctx = probs @ v
        a = lin(ctx.transpose(1, 2).reshape(B, S, NH * D), p + "self_attn.o_proj")
        if gemma:
            a = norm(a, p + "post_attention_layernorm")
            h = h + a
            x = norm(h, p + "pre_feedforward_layernorm")
            f = lin(gelu_tanh(lin(x, p + "mlp.gate_proj")) * lin(x, p + "mlp.up_proj"), p + "mlp.down_proj")
            h = h + norm(f, p + "post_feedforward_layernorm")
        else:
            h = h + a
            x = norm(h, p + "post_attention_layernorm")
            h = h + lin(silu(lin(x, p + "mlp.gate_proj")) * lin(x, p + "mlp.up_proj"), p + "mlp.down_proj")
        states.append(h)
    states[-1] = norm(h, "norm")
    return states


def naive_attention(q, k, v, allowed, scale):
    """The same attention one query at a time with explicit loops: a second route for the self-check."""
    B, NH, S, D = q.shape
    ctx = torch.zeros_like(q)
    for b in range(B):
        for hd in range(NH):
            for i in range(S):
                js = [j for j in range(S) if allowed[b, i, j]]
                if not js:
                    continue
                s = torch.stack([sum(q[b, hd, i, c] * k[b, hd, j, c] for c in range(D)) * scale for j in js])
                e = torch.exp(s - s.max())
                for n, j in enumerate(js):
                    ctx[b, hd, i] += e[n] / e.sum() * v[b, hd, j]
    return ctx


# --------------------------------------------------------------------------------------------------
# sentence-transformers head
# --------------------------------------------------------------------------------------------------


def pool(last, mask, mode):
    m = mask[..., None].to(last.dtype)
    if mode == "mean":
        return (last * m).sum(1) / m.sum(1)
    # Pooling(lasttoken): each row's last real token, wherever the padding is.
    idx = (mask * torch.arange(mask.shape[1])).argmax(1)
    return last[torch.arange(last.shape[0]), idx]


def head(pooled, dense, quantize=False):
    """Dense modules, then Normalize; or (pplx-embed) its FlexibleQuantizer's int8 default instead of Normalize:
    clamp(round(127 * tanh(x)), -128, 127), torch.round taking halves to even (st_quantize.py's Int8TanhQuantizer)."""
    for w in dense:
        pooled = pooled @ w.T
    if quantize:
        return torch.clamp(torch.round(torch.tanh(pooled) * 127), -128, 127)
    return pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def batch(ids, pad, left=False):
    B, S = len(ids), max(len(x) for x in ids)
    inp = torch.full((B, S), pad, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    for i, x in enumerate(ids):
        sl = slice(S - len(x), S) if left else slice(0, len(x))
        inp[i, sl] = torch.tensor(x)
        mask[i, sl] = 1
    return inp, mask


def min_cosine(a, b):
    return torch.nn.functional.cosine_similarity(a, b, dim=-1).min().item()


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------

QWEN_PROMPTS = {
    "query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
    "document": "",
}
HARRIER_PROMPTS = {"query": "Instruct: Retrieve semantically similar text\nQuery: "}
GEMMA_PROMPTS = {
    "query": "task: search result | query: ",
    "document": "title: none | text: ",
    "BitextMining": "task: search result | query: ",
    "Clustering": "task: clustering | query: ",
    "Classification": "task: classification | query: ",
    "InstructionRetrieval": "task: code retrieval | query: ",
    "MultilabelClassification": "task: classification | query: ",
    "PairClassification": "task: sentence similarity | query: ",
    "Reranking": "task: search result | query: ",
    "Retrieval": "task: search result | query: ",
    "Retrieval-query": "task: search result | query: ",
    "Retrieval-document": "title: none | text: ",
    "STS": "task: sentence similarity | query: ",
    "Summarization": "task: summarization | query: ",
}


def write_st_files(folder, gemma, dense_shapes, hidden, mode=None, prompts=None, quantizer=False):
    """quantizer: pplx-embed's st_quantize.FlexibleQuantizer in place of Normalize (it saves no files)."""
    mode = mode or ("mean" if gemma else "last")
    prompts = (GEMMA_PROMPTS if gemma else QWEN_PROMPTS) if prompts is None else prompts
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
    modules.append({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})
    for n, _ in enumerate(dense_shapes):
        modules.append({"idx": 2 + n, "name": str(2 + n), "path": f"{2 + n}_Dense", "type": "sentence_transformers.models.Dense"})
    n = len(modules)
    if quantizer:
        modules.append({"idx": n, "name": str(n), "path": "", "type": "st_quantize.FlexibleQuantizer"})
    else:
        modules.append({"idx": n, "name": str(n), "path": f"{n}_Normalize", "type": "sentence_transformers.models.Normalize"})
    mf.write_json(os.path.join(folder, "modules.json"), modules)
    os.makedirs(os.path.join(folder, "1_Pooling"))
    mf.write_json(
        os.path.join(folder, "1_Pooling", "config.json"),
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": mode == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": mode == "last",
            "include_prompt": True,
        },
    )
    if not quantizer:
        os.makedirs(os.path.join(folder, f"{n}_Normalize"))
    mf.write_json(os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": 160, "do_lower_case": False})
    mf.write_json(
        os.path.join(folder, "config_sentence_transformers.json"),
        {
            "model_type": "SentenceTransformer",
            "__version__": {"sentence_transformers": "5.1.0", "transformers": "4.57.0", "pytorch": "2.8.0"},
            "prompts": prompts,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def dense_shapes(cfg, gemma):
    """[out, in] of EmbeddingGemma's two Dense modules (768 -> 3072 -> 768, here 2H), none for Qwen3."""
    H = cfg["hidden_size"]
    return [(2 * H, H), (H, 2 * H)] if gemma else []


def random_dense(shapes, seed):
    rs = np.random.RandomState(seed)
    return [rs.standard_normal((out_f, in_f)) / math.sqrt(in_f) for out_f, in_f in shapes]


def write_dense(folder, dense):
    """Dense modules as sentence-transformers saves them: {k}_Dense/config.json + model.safetensors.
    Returns the stored (F32) values in float64, what the oracle computes from."""
    ws = []
    for n, w in enumerate(dense):
        out_f, in_f = w.shape
        d = os.path.join(folder, f"{2 + n}_Dense")
        os.makedirs(d)
        mf.write_json(
            os.path.join(d, "config.json"),
            {"in_features": in_f, "out_features": out_f, "bias": False, "activation_function": "torch.nn.modules.linear.Identity"},
        )
        w32 = w.astype(np.float32)
        mf.write_safetensors(os.path.join(d, "model.safetensors"), [("linear.weight", w32)])
        ws.append(torch.from_numpy(w32.astype(np.float64)))
    return ws


def eurobert_config(vocab_size):
    """EuroBERT/EuroBERT-210m's config.json fields, sizes shrunk; grouped-query heads as in EuroBERT-2.1B,
    head_dim * heads unlike hidden_size, and the end-of-text token as its pad token, as EuroBERT has it."""
    return {
        "architectures": ["EuroBertModel"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "auto_map": {
            "AutoConfig": "EuroBERT/EuroBERT-210m--configuration_eurobert.EuroBertConfig",
            "AutoModel": "EuroBERT/EuroBERT-210m--modeling_eurobert.EuroBertModel",
        },
        "bos_token_id": 2,
        "classifier_pooling": "late",
        "eos_token_id": 1,
        "head_dim": 24,
        "hidden_act": "silu",
        "hidden_dropout": 0.0,
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "mask_token_id": 4,
        "max_position_embeddings": 160,
        "mlp_bias": False,
        "model_type": "eurobert",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "num_key_value_heads": 2,
        "pad_token_id": 1,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 250000,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.48.0",
        "use_cache": False,
        "vocab_size": vocab_size,
    }


def pplx_config(vocab_size):
    """perplexity-ai/pplx-embed-v1's config form (model_type bidirectional_pplx_qwen3, its PPLXQwen3Model: Qwen3Model
    with every layer's attention made non-causal), on qwen3-tiny's sizes."""
    cfg = {k: v for k, v in qwen3_config(vocab_size).items() if k not in ("rope_theta", "rope_scaling")}
    cfg.update(
        {
            "architectures": ["PPLXQwen3Model"],
            "auto_map": {"AutoConfig": "configuration.PPLXQwen3Config", "AutoModel": "modeling.PPLXQwen3Model"},
            "model_type": "bidirectional_pplx_qwen3",
            "rope_parameters": {"rope_theta": 1000000, "rope_type": "default"},
            "rope_theta": 1000000,
            "use_bidirectional_attention": True,
        }
    )
    return cfg


def write_expected(folder, name, source, states, out, cfg, mode, moved, note):
    """expected.safetensors (hidden.{i}.{l} for every exit, st.{i}) and expected.json, as every fixture here has them."""
    L = cfg["num_hidden_layers"]
    tensors = []
    for i, x in enumerate(source["ids"]):
        for l in range(L + 1):
            tensors.append((f"hidden.{i}.{l}", states[l][i, : len(x)].numpy().astype(np.float32)))
        tensors.append((f"st.{i}", out[i].numpy().astype(np.float32)))
    mf.write_safetensors(os.path.join(folder, "expected.safetensors"), tensors)
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {
            "model": name,
            "texts": source["texts"],
            "ids": source["ids"],
            "layers": L,
            "hidden": cfg["hidden_size"],
            "pooling": mode,
            "mistakes_min_cosine": {k: round(v, 4) for k, v in moved.items()},
            "note": note,
        },
    )


def make_model(name, cfg, gemma, seed, source, weights=None, dense=None, note=""):
    """Writes fixture `name`: random weights from `seed`, or the given `weights` ([(name, array)]) and
    `dense` (Dense matrices) of a trained model."""
    folder = os.path.join(OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(SOURCE, f), os.path.join(folder, f))
    path = os.path.join(folder, "model.safetensors")
    weights = make_weights(cfg, seed, gemma) if weights is None else weights
    mf.write_safetensors(path, [(n, a.astype(np.float32)) for n, a in weights], {"format": "pt"})
    W = {n: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}
    H = cfg["hidden_size"]
    # A causal Gemma 3 embedder (Harrier's form): last-token pooling, no Dense modules, an instruction for queries.
    causal_gemma = gemma and not cfg.get("use_bidirectional_attention", False)
    shapes = [] if causal_gemma else dense_shapes(cfg, gemma)
    dense = write_dense(folder, random_dense(shapes, seed + 1) if dense is None else dense)
    eurobert = cfg["model_type"] == "eurobert"
    pplx = cfg["model_type"] == "bidirectional_pplx_qwen3"
    # EuroBERT fine-tunes (sentence-transformers' default for an encoder) pool by mean, with no prompts; so
    # does pplx-embed, whose FlexibleQuantizer takes Normalize's place.
    mode = "mean" if (gemma and not causal_gemma) or eurobert or pplx else "last"
    prompts = HARRIER_PROMPTS if causal_gemma else GEMMA_PROMPTS if gemma else {} if eurobert or pplx else QWEN_PROMPTS
    write_st_files(folder, gemma, shapes, H, mode, prompts, quantizer=pplx)

    texts, ids = source["texts"], source["ids"]
    lengths = [len(x) for x in ids]
    if gemma:
        assert max(lengths) > cfg["sliding_window"] + 1, "some text must cross the sliding window"
    pad = cfg.get("pad_token_id") or 0
    with torch.no_grad():
        inp, mask = batch(ids, pad)
        states = forward(W, cfg, inp, mask, gemma)
        out = head(pool(states[-1], mask, mode), dense, pplx)
        # Each text alone, and (qwen3, whose tokenizer pads left) a left-padded batch, must agree.
        for i, x in enumerate(ids):
            alone = forward(W, cfg, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long), gemma)
            for l in range(len(states)):
                diff = (alone[l][0] - states[l][i, : len(x)]).abs().max().item()
                assert diff < 1e-9, (name, i, l, diff)
        linp, lmask = batch(ids, pad, left=True)
        left = head(pool(forward(W, cfg, linp, lmask, gemma)[-1], lmask, mode), dense, pplx)
        assert (left - out).abs().max().item() < 1e-9
        # A second route through attention (explicit loops) on the two shortest texts.
        short = sorted(range(len(ids)), key=lambda i: lengths[i])[:2]
        sinp, smask = batch([ids[i] for i in short], pad)
        naive = forward(W, cfg, sinp, smask, gemma, naive=True)[-1]
        fast = forward(W, cfg, sinp, smask, gemma)[-1]
        assert (naive - fast).abs().max().item() < 1e-9
        # The fixture must tell the conventions apart: each mistake moves the output past the bounds.
        other = "last" if mode == "mean" else "mean"
        mistakes = (
            ["swapped_thetas", "no_window", "bidirectional" if causal_gemma else "causal", "no_plus_one", "other_window"]
            if gemma
            else ["causal" if eurobert or pplx or cfg.get("is_causal") is False else "bidirectional", f"{other}_pooling"]
        ) + (["no_quantizer"] if pplx else [])
        moved = {}
        for m in mistakes:
            if m == f"{other}_pooling":
                wrong = head(pool(states[-1], mask, other), dense, pplx)
            elif m == "no_quantizer":
                wrong = head(pool(states[-1], mask, mode), dense)
            else:
                wrong = head(pool(forward(W, cfg, inp, mask, gemma, mistake=m)[-1], mask, mode), dense, pplx)
            moved[m] = min_cosine(wrong, out)
            assert moved[m] < 0.999, (name, m, moved[m])

    write_expected(
        folder,
        name,
        source,
        states,
        out,
        cfg,
        mode,
        moved,
        "hidden.{i}.{l}: [len_i, hidden], real tokens only: l=0 the embedding output, 0<l<L the raw "
        "residual stream after layer l, l=L norm(layer L). st.{i}: the sentence-transformers output (pooling, "
        "Dense modules, Normalize). float64, one right-padded batch checked against each text alone and a "
        "left-padded batch, stored as F32." + note,
    )
    print(f"{name}: {len(texts)} texts, lengths {lengths}; min cosine under each mistake {moved}")


# --------------------------------------------------------------------------------------------------
# jina-embeddings-v5-text-nano: EuroBERT under model_type jina_embeddings_v5, task adapters beside it
# --------------------------------------------------------------------------------------------------

JINA_V5_TASKS = ["retrieval", "text-matching", "clustering", "classification"]
LORA_TARGETS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def jina_v5_nano_config(vocab_size):
    cfg = {k: v for k, v in eurobert_config(vocab_size).items() if k != "auto_map"}
    cfg.update(
        {
            "architectures": ["JinaEmbeddingsV5Model"],
            "auto_map": {
                "AutoConfig": "configuration_jina_embeddings_v5.JinaEmbeddingsV5Config",
                "AutoModel": "modeling_jina_embeddings_v5.JinaEmbeddingsV5Model",
            },
            "model_type": "jina_embeddings_v5",
            "task_names": JINA_V5_TASKS,
        }
    )
    return cfg


def lora_adapter(cfg, seed, r, alpha):
    """A PEFT LoRA adapter on every projection: {module: (A [r, in], B [out, r])}, PEFT's config."""
    rs = np.random.RandomState(seed)
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    D, NH, NKV = cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    shapes = {
        "self_attn.q_proj": (NH * D, H),
        "self_attn.k_proj": (NKV * D, H),
        "self_attn.v_proj": (NKV * D, H),
        "self_attn.o_proj": (H, NH * D),
        "mlp.gate_proj": (I, H),
        "mlp.up_proj": (I, H),
        "mlp.down_proj": (H, I),
    }
    pairs = {}
    for l in range(cfg["num_hidden_layers"]):
        for m in LORA_TARGETS:
            out_f, in_f = shapes[m]
            pairs[f"layers.{l}.{m}"] = (rs.standard_normal((r, in_f)) * 0.15, rs.standard_normal((out_f, r)) * 0.15)
    config = {
        "alpha_pattern": {},
        "base_model_name_or_path": "jinaai/jina-embeddings-v5-text-nano",
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "lora_alpha": alpha,
        "lora_dropout": 0.1,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": r,
        "rank_pattern": {},
        "target_modules": sorted(m.split(".")[-1] for m in LORA_TARGETS),
        "task_type": "FEATURE_EXTRACTION",
        "use_dora": False,
        "use_rslora": False,
    }
    return pairs, config


def merged(W, pairs, scale):
    """vLLM's and PEFT's merge: W + scale * B @ A, on the float64 weights as stored (F32)."""
    out = dict(W)
    for module, (A, B) in pairs.items():
        a = torch.from_numpy(A.astype(np.float32).astype(np.float64))
        b = torch.from_numpy(B.astype(np.float32).astype(np.float64))
        out[module + ".weight"] = W[module + ".weight"] + scale * (b @ a)
    return out


def make_jina_v5(source, vocab):
    """fixtures/jina-v5-nano-tiny: the base repository's layout (config.json, model.safetensors with the
    "model." prefix, tokenizer, adapters/{retrieval,text-matching}/ as PEFT saves them; no sentence-transformers
    files: the model's own code pools the last token after "Query: " / "Document: "). Expected: the
    retrieval adapter merged, at every exit, last-token pooled and normalized."""
    name = "jina-v5-nano-tiny"
    folder = os.path.join(OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    cfg = jina_v5_nano_config(vocab)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(SOURCE, f), os.path.join(folder, f))
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, [("model." + n, a.astype(np.float32)) for n, a in make_weights(cfg, 1357, False)], {"format": "pt"})
    W = {n[len("model."):]: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}
    r, alpha = 4, 8
    adapters = {}
    for t, task in enumerate(["retrieval", "text-matching"]):
        pairs, acfg = lora_adapter(cfg, 1400 + t, r, alpha)
        d = os.path.join(folder, "adapters", task)
        os.makedirs(d)
        mf.write_json(os.path.join(d, "adapter_config.json"), acfg)
        tensors = []
        for module, (A, B) in pairs.items():
            tensors.append((f"base_model.model.{module}.lora_A.weight", A.astype(np.float32)))
            tensors.append((f"base_model.model.{module}.lora_B.weight", B.astype(np.float32)))
        mf.write_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors, {"format": "pt"})
        adapters[task] = merged(W, pairs, alpha / r)

    texts, ids = source["texts"], source["ids"]
    pad = cfg["pad_token_id"]
    with torch.no_grad():
        inp, mask = batch(ids, pad)
        states = forward(adapters["retrieval"], cfg, inp, mask, False)
        out = head(pool(states[-1], mask, "last"), [])
        for i, x in enumerate(ids):
            alone = forward(adapters["retrieval"], cfg, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long), False)
            assert (alone[-1][0] - states[-1][i, : len(x)]).abs().max().item() < 1e-9
        moved = {}
        for label, weights, mode, mistake in [
            ("no_adapter", W, "last", None),
            ("text_matching_adapter", adapters["text-matching"], "last", None),
            ("mean_pooling", adapters["retrieval"], "mean", None),
            ("causal", adapters["retrieval"], "last", "causal"),
        ]:
            wrong = head(pool(forward(weights, cfg, inp, mask, False, mistake=mistake)[-1], mask, mode), [])
            moved[label] = min_cosine(wrong, out)
            assert moved[label] < 0.999, (label, moved[label])
    note = (
        "The base weights with adapters/retrieval merged (W + lora_alpha / r * B A, r 4, alpha 8) in float64. "
        "hidden.{i}.{l}: [len_i, hidden], real tokens only: l=0 the embedding output, 0<l<L the raw residual stream "
        "after layer l, l=L norm(layer L). st.{i}: the last real token of norm(layer L), normalized (the ids as given: "
        "no prompt). Stored as F32."
    )
    write_expected(folder, name, source, states, out, cfg, "last", moved, note)
    print(f"{name}: {len(texts)} texts; min cosine under each mistake {moved}")


def main():
    with open(os.path.join(SOURCE, "expected.json"), encoding="utf-8") as f:
        source = json.load(f)
    with open(os.path.join(SOURCE, "config.json"), encoding="utf-8") as f:
        vocab = json.load(f)["vocab_size"]
    make_model("qwen3-tiny", qwen3_config(vocab), False, 4321, source)
    make_model("gemma3-tiny", gemma3_config(vocab), True, 8765, source)
    make_model("eurobert-tiny", eurobert_config(vocab), False, 2468, source)
    # A Qwen3 embedder trained to attend both ways says so in its config (gte-Qwen3's is_causal: false).
    make_model("qwen3-bidir-tiny", {**qwen3_config(vocab), "is_causal": False}, False, 4322, source)
    make_model("pplx-tiny", pplx_config(vocab), False, 4323, source)
    # Gemma 3 as an LLM attends causally: a causal embedder over it (microsoft/harrier-oss-v1-270m's form).
    causal_gemma = {**gemma3_config(vocab), "use_bidirectional_attention": False, "architectures": ["Gemma3TextModel"]}
    make_model("gemma3-causal-tiny", causal_gemma, True, 8766, source)
    make_jina_v5(source, vocab)


if __name__ == "__main__":
    main()
