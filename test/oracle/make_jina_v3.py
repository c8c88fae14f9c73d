#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's jina-embeddings-v3 architecture (XLM-R with RoPE and task LoRA).

Writes fixtures/jina-v3-tiny/ (shaped like jinaai/jina-embeddings-v3: its config.json fields with the sizes
scaled down, F16 weights saved under the names torch.nn.utils.parametrize gives them, every LoRA adapter
trained-looking rather than zero, the pooler it carries and m3web never reads, the sentence-transformers
files with its task prompts), see README.md next to this file. It reuses xlmr-tiny's tokenizer (XLM-R
SentencePiece: <s>=0 <pad>=1 </s>=2) and its verified texts and ids.

Run from the repository root:  /usr/bin/python3 test/oracle/make_jina_v3.py   (~5 s; after make_fixtures.py)

The forward is written by hand in float64 from jinaai/xlm-roberta-flash-implementation (modeling_lora.py:
LoRAParametrization, XLMRobertaLoRA; modeling_xlm_roberta.py: XLMRobertaModel, create_block, create_mixer_cls,
create_mlp_cls; embedding.py, block.py with prenorm false, mha.py: MHA, SelfAttention; rotary.py:
RotaryEmbedding, rotate_half; mlp.py: Mlp); transformers is not used. Conventions read from those files:
  - a task t (an index into lora_adaptations) replaces every Linear's weight W [out, in] by
    W + (lora_B[t] @ lora_A[t]) * lora_alpha / lora_rank (lora_A [T, r, in], lora_B [T, out, r]) and every
    Embedding's table E [n, H] by E + (lora_A[t] @ lora_B[t]) * scale (lora_A [T, n, r], lora_B [T, r, H]:
    "fan_in_fan_out" for embeddings); without a task (adapter_mask None) the weights are the originals
  - embeddings: word_embeddings[ids] + token_type_embeddings[0] (type_vocab_size 1, token types zero, both
    under the task's update), no position table (position_embedding_type rotary), then emb_ln
  - attention: qkv = mixer.Wqkv(x) [3H] with bias, rearranged "(three h d)": q, k, v rows [0,H), [H,2H),
    [2H,3H); RoPE over the whole head (rotary_emb_dim = H / heads), not interleaved (rotate_half of the
    two halves), inv_freq_j = 1 / base^(2j/d), base rotary_emb_base, positions 0..S-1;
    softmax(q k^T / sqrt(d) + mask) v; mixer.out_proj with bias
  - block (prenorm false): h = norm1(x + attn(x)); x' = norm2(h + fc2(gelu(fc1(h)))), exact erf GELU
    (hidden_act "gelu")
  - the sentence vector: mean over real tokens of the last layer (1_Pooling), then Normalize; the tasks'
    instructions are prompts put before the text (not applied here: the fixture's inputs are token ids)
Route 2 applies each adapter unmerged, F.linear(x, W, b) + scale * F.linear(F.linear(x, A[t]), B[t]) (and
F.embedding likewise), with complex-number RoPE and F.multi_head_attention_forward.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

P = "roberta."
ORIGINAL = ".parametrizations.weight.original"
LORA = ".parametrizations.weight.0.lora_"
TASKS = ["retrieval.query", "retrieval.passage", "separation", "classification", "text-matching"]
# The adapters whose vectors the fixture stores beside the base weights' hidden states.
RUNS = [0, 1, 4]

# Standard deviations as make_nomic.py chooses them, but query/key 0.25 (two heads of 32): sharper attention lets
# rotary_emb_base (20000 against the usual 10000) show through the mean-pooled vector. The adapters' A and B at
# LORA_STD move the last layer's mean away from the base weights' (cosine ~0.87) without swamping W.
STD = {"emb": 0.5, "type": 0.2, "qk": 0.25, "v": 0.15, "o": 0.12, "fc1": 0.15, "fc2": 0.05}
LORA_STD = 0.25
LN_OFFSET = 0.1


def make_weights(cfg, seed):
    """(name, float64 array) in module order, named as jina-embeddings-v3's model.safetensors names them."""
    H, I, T, r = cfg["hidden_size"], cfg["intermediate_size"], len(TASKS), cfg["lora_rank"]
    wt = pn.RandomWeights(seed, H, ln_bias=LN_OFFSET)

    def linear(name, out, inp, std, w=None):
        if w is None:
            wt.normal(name + ORIGINAL, (out, inp), std)
        else:
            wt.w.append((name + ORIGINAL, w))
        wt.normal(name + LORA + "A", (T, r, inp), LORA_STD)
        wt.normal(name + LORA + "B", (T, out, r), LORA_STD)
        wt.normal(name + ".bias", (out,), 0.1)

    def embedding(name, rows, std):
        wt.normal(name + ORIGINAL, (rows, H), std)
        wt.normal(name + LORA + "A", (T, rows, r), LORA_STD)
        wt.normal(name + LORA + "B", (T, r, H), LORA_STD)

    embedding(P + "embeddings.word_embeddings", cfg["vocab_size"], STD["emb"])
    embedding(P + "embeddings.token_type_embeddings", cfg["type_vocab_size"], STD["type"])
    wt.ln(P + "emb_ln")
    for l in range(cfg["num_hidden_layers"]):
        p = f"{P}encoder.layers.{l}."
        qkv = wt.rs.standard_normal((3 * H, H))
        qkv[: 2 * H] *= STD["qk"]
        qkv[2 * H :] *= STD["v"]
        linear(p + "mixer.Wqkv", 3 * H, H, None, qkv)
        linear(p + "mixer.out_proj", H, H, STD["o"])
        wt.ln(p + "norm1")
        linear(p + "mlp.fc1", I, H, STD["fc1"])
        linear(p + "mlp.fc2", H, I, STD["fc2"])
        wt.ln(p + "norm2")
    linear(P + "pooler.dense", H, H, 0.1)  # XLMRobertaPooler: saved, never part of the sentence vector
    return wt.w


def scale_of(cfg):
    return cfg["lora_alpha"] / cfg["lora_rank"]


def merged(W, name, task, scale, embedding=False):
    """LoRAParametrization.lora_forward: the weight a task runs (the original without one)."""
    w = W[name + ORIGINAL]
    if task is None:
        return w
    a, b = W[name + LORA + "A"][task], W[name + LORA + "B"][task]
    return w + (a @ b if embedding else b @ a) * scale


# --------------------------------------------------------------------------------------------------
# Route 1: the adapters merged into the weights, as the checkpoint's code does; mistakes selectable
# --------------------------------------------------------------------------------------------------


def forward(W, cfg, task, ids, mask, base=None, interleaved=False, scale=None, embed_task="same"):
    """hidden_states [emb, layer 1..L], each [B, S, H]. Mistakes: base (another rotary_emb_base), interleaved
    (GPT-J RoPE pairs), scale (another LoRA scale, e.g. lora_alpha without / lora_rank), embed_task (the
    embeddings under another task's adapter, or None: under none)."""
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d = H // nh
    B, S = ids.shape
    s = scale_of(cfg) if scale is None else scale
    et = task if embed_task == "same" else embed_task
    word = merged(W, P + "embeddings.word_embeddings", et, s, embedding=True)
    types = merged(W, P + "embeddings.token_type_embeddings", et, s, embedding=True)
    x = pn.layer_norm(word[ids] + types[torch.zeros_like(ids)], W, P + "emb_ln", eps)
    states = [x]
    base = float(cfg["rotary_emb_base"] if base is None else base)
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    cos, sin = pn.rope_cos_sin(inv_freq, S, interleaved)

    def lin(t, name):
        return t @ merged(W, name, task, s).T + W[name + ".bias"]

    for l in range(cfg["num_hidden_layers"]):
        p = f"{P}encoder.layers.{l}."
        q, k, v = (t.view(B, S, nh, d) for t in lin(x, p + "mixer.Wqkv").split(H, dim=-1))
        q, k = pn.apply_rope(q, cos, sin, interleaved), pn.apply_rope(k, cos, sin, interleaved)
        ctx = pn.attention(q, k, v, mask)
        h = pn.layer_norm(x + lin(ctx, p + "mixer.out_proj"), W, p + "norm1", eps)
        x = pn.layer_norm(h + lin(mf.gelu(lin(h, p + "mlp.fc1")), p + "mlp.fc2"), W, p + "norm2", eps)
        states.append(x)
    return states


# --------------------------------------------------------------------------------------------------
# Route 2: the adapters unmerged, complex RoPE, torch.nn.functional
# --------------------------------------------------------------------------------------------------


def forward_functional(W, cfg, task, ids, mask):
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d = H // nh
    B, S = ids.shape
    s = scale_of(cfg)

    def emb(name, at):
        e = F.embedding(at, W[name + ORIGINAL])
        if task is None:
            return e
        return e + F.embedding(at, W[name + LORA + "A"][task]) @ W[name + LORA + "B"][task] * s

    x = emb(P + "embeddings.word_embeddings", ids) + emb(P + "embeddings.token_type_embeddings", torch.zeros_like(ids))
    ln = lambda t, n: pn.layer_norm_functional(t, W, n, eps)  # noqa: E731
    x = ln(x, P + "emb_ln")
    states = [x]

    def lin(t, name, bias=True):
        y = F.linear(t, W[name + ORIGINAL], W[name + ".bias"] if bias else None)
        if task is None:
            return y
        return y + s * F.linear(F.linear(t, W[name + LORA + "A"][task]), W[name + LORA + "B"][task])

    j = np.arange(d // 2, dtype=np.float64)
    rot = pn.rope_rotation(np.exp(-(2.0 * j / d) * np.log(float(cfg["rotary_emb_base"]))), S)
    for l in range(cfg["num_hidden_layers"]):
        p = f"{P}encoder.layers.{l}."
        qkv = lin(x, p + "mixer.Wqkv").view(B, S, 3, nh, d)
        q, k = pn.rope_complex(qkv[:, :, 0], rot), pn.rope_complex(qkv[:, :, 1], rot)
        # The out projection with its adapter, applied here rather than inside multi_head_attention_forward.
        out = p + "mixer.out_proj"
        W2 = {out + ".weight": torch.eye(H, dtype=torch.float64)}
        a = lin(pn.attention_functional(q, k, qkv[:, :, 2].reshape(B, S, H), nh, W2, out, mask), out)
        h = ln(x + a, p + "norm1")
        x = ln(h + lin(F.gelu(lin(h, p + "mlp.fc1")), p + "mlp.fc2"), p + "norm2")
        states.append(x)
    return states


def config(vocab_size):
    """jina-embeddings-v3's config.json, sizes scaled down."""
    return {
        "_name_or_path": "jinaai/jina-embeddings-v3",
        "architectures": ["XLMRobertaModel"],
        "attention_probs_dropout_prob": 0.1,
        "auto_map": {
            "AutoConfig": "jinaai/xlm-roberta-flash-implementation--configuration_xlm_roberta.XLMRobertaFlashConfig",
            "AutoModel": "jinaai/xlm-roberta-flash-implementation--modeling_lora.XLMRobertaLoRA",
        },
        "bos_token_id": 0,
        "classifier_dropout": None,
        "emb_pooler": None,
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 160,
        "layer_norm_eps": 1e-05,
        "load_trained_adapters": True,
        "lora_adaptations": TASKS,
        "lora_alpha": 1,
        "lora_dropout_p": 0.0,
        "lora_main_params_trainable": False,
        "lora_rank": 4,
        "matryoshka_dimensions": [16, 32, 64],
        "max_position_embeddings": 130,
        "model_type": "xlm-roberta",
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "output_past": True,
        "pad_token_id": 1,
        "position_embedding_type": "rotary",
        "rotary_emb_base": 20000.0,
        "torch_dtype": "float16",
        "transformers_version": "4.30.2",
        "truncate_dim": None,
        "type_vocab_size": 1,
        "use_cache": True,
        "use_flash_attn": True,
        "vocab_size": vocab_size,
        "task_instructions": {
            "retrieval.query": "Represent the query for retrieving evidence documents: ",
            "retrieval.passage": "Represent the document for retrieval: ",
            "separation": "",
            "classification": "",
            "text-matching": "",
        },
    }


def main():
    name = "jina-v3-tiny"
    texts, ids, vocab_size = pn.source_texts(pn.XLMR)
    assert all(x[0] == 0 and x[-1] == 2 for x in ids)  # <s> ... </s>
    cfg = config(vocab_size)
    folder = pn.new_folder(name, cfg, pn.XLMR)
    prompts = dict(cfg["task_instructions"])
    versions = {"sentence_transformers": "3.1.0", "transformers": "4.41.2", "pytorch": "2.3.1+cu121"}
    pn.write_st_files(folder, cfg["hidden_size"], "mean", cfg["max_position_embeddings"], prompts=prompts, versions=versions)
    W = pn.store_weights(folder, make_weights(cfg, 2468), np.float16)
    assert max(len(x) for x in ids) <= cfg["max_position_embeddings"]

    mistakes = {"RoPE base 10000": dict(base=10000), "interleaved RoPE": dict(interleaved=True)}
    lora_mistakes = {
        "LoRA scale alpha (not / rank)": dict(scale=1.0),
        "embeddings without the adapter": dict(embed_task=None),
        "embeddings under retrieval.passage's adapter": dict(embed_task=1),
    }

    def task_checks(last, run_last, lengths):
        """Each adapter the fixture stores: both routes, each text alone, how far it is from the base weights and
        the others, and the adapters' own deliberate mistakes (on retrieval.query, 0)."""
        means, lines = {}, []
        with torch.no_grad():
            for t in RUNS:
                states, inp, mask, route = pn.batch_states(name, ids, 1, forward, forward_functional, W, cfg, t)
                assert route < 1e-9, (name, t, route)
                means[t] = [pn.mean_pool(s, lengths) for s in states[1:]]
                if t == 0:
                    query_last = states[-1]
                    run_query = lambda **kw: forward(W, cfg, 0, inp, mask, **kw)[-1]  # noqa: E731
                    for label, (a, c) in pn.check_mistakes(name, lora_mistakes, run_query, query_last, lengths).items():
                        lines.append(f"{label} {a:.4f}/{c:.4f}")
        base = pn.mean_pool(last, lengths)
        for t in RUNS:
            cos = pn.min_cosine(means[t][-1], base)
            assert cos < 0.99, (name, "adapter", t, cos)
            lines.append(f"{TASKS[t]} vs base {cos:.3f}")
        cos_qp = pn.min_cosine(means[0][-1], means[1][-1])
        assert cos_qp < 0.99, (name, "query vs passage", cos_qp)
        lines.append(f"query vs passage {cos_qp:.3f}")

        def rows(i):
            return [(f"task.{t}.mean.{i}.{l + 1}", m[i].numpy().astype(np.float32)) for t in RUNS for l, m in enumerate(means[t])]

        return "; ".join(lines) + "; ", rows

    note = (
        "hidden.{i}.{l} (l=0..layers), mean.{i}.{l} / cls.{i}.{l}: the base weights (no task: the adapters off). "
        "task.{t}.mean.{i}.{l} (l>=1): the mean over real tokens of layer l's output under adapter t (0 "
        "retrieval.query, 1 retrieval.passage, 4 text-matching) on every Linear and Embedding. The ids carry no "
        "task prompt. "
    )
    run_args = dict(mistakes=mistakes, head=f"vocab {vocab_size}", note=note, extra_checks=task_checks)
    pn.run_fixture(name, folder, texts, ids, 1, forward, forward_functional, W, cfg, None, **run_args)


if __name__ == "__main__":
    main()
