#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's mxbai-rerank-v2 (a Qwen2 decoder reranker).

Writes, see README.md next to this file:
  - fixtures/mxbai-rerank-tiny-v2/: shaped like mixedbread-ai/mxbai-rerank-base-v2 as its repository holds it
    (Qwen2ForCausalLM, tied word embeddings, no score row: the score is the last token's "1" logit against its
    "0" logit); the folder's name is how m3web knows it, as it knows the real one by its Hub id;
  - fixtures/mxbai-rerank-tiny-v2-seq/: the same weights converted to a sequence classifier, as
    michaelfeil/mxbai-rerank-base-v2-seq and vLLM's `from_2_way_softmax` make it (Qwen2ForSequenceClassification,
    num_labels 1, `score.weight` [1, hidden] = the LM head's "1" row minus its "0" row, no bias).
Both use the tokenizer of qwen3-reranker-tiny (make_qwen3_reranker.py: chat special tokens added; "0" and "1"
are in its vocabulary) and a Qwen2 config at shrunk sizes.

Run from the repository root:  /usr/bin/python3 test/oracle/make_mxbai_reranker.py   (~3 s; after
make_qwen3_reranker.py, whose tokenizer it reuses, and make_decoder_embedders.py, whose float64 forward it runs)

Qwen2 (transformers models/qwen2/modeling_qwen2.py) is Qwen3's layer without the per-head q/k RMSNorm and with
biases on q_proj, k_proj and v_proj (o_proj and the MLP have none); head_dim = hidden_size / heads; causal.

The prompt, from mixedbread-ai/mxbai-rerank (mxbai_rerank_v2.py, MxbaiRerankV2.prepare_inputs), each piece
tokenized apart without special tokens:
  prefix ("<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n
  <|im_start|>user\\n") + query ("[instruction: {i}\\n]query: {q}", at most max_length * 3 // 4 tokens)
  + ("\\n" + "document: {d}", the document at most min(model_max_length - len(query), max_length) tokens, the
  two cut together to max_length - len(query), prepare_for_model's only_second) + "\\n" + task prompt + suffix
  ("<|im_end|>\\n<|im_start|>assistant\\n"); max_length is 8192 unless the model's limit less the fixed pieces
  is smaller. The score is logit("1") - logit("0") of the last token; m3web reports sigmoid(score), vLLM's
  from_2_way_softmax. The tokenizer's model_max_length here leaves max_length = 96, so long pairs are cut by
  each of those rules.
"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import make_decoder_embedders as de  # noqa: E402
import make_qwen3_reranker as qr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

SEP = "\n"
PREFIX = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
TASK = (
    "You are a search relevance expert who evaluates how well documents match search queries. For each query-document "
    "pair, carefully analyze the semantic relationship between them, then provide your binary relevance judgment "
    "(0 for not relevant, 1 for relevant).\nRelevance:"
)
MAX_LENGTH = 8192
ROOM = 96
INSTRUCTION = "Find the sentence that says the same"
# (query text index, document text index, instruction) over modernbert-tiny's texts.
PAIRS = [(0, 1, None), (1, 0, None), (0, 0, None), (2, 3, None), (4, 5, None), (3, 2, INSTRUCTION), (6, 7, None), (7, 6, INSTRUCTION)]


def qwen2_config(vocab_size, max_positions):
    """mxbai-rerank-base-v2's config.json fields (Qwen2-0.5B's), sizes shrunk."""
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "max_position_embeddings": max_positions,
        "max_window_layers": 3,
        "model_type": "qwen2",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": max_positions,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.49.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }


def qwen2_weights(cfg, seed):
    """Qwen3's random layers (make_decoder_embedders.make_weights) without q/k norms, with q/k/v biases."""
    rs = np.random.RandomState(seed + 1)
    with_head_dim = {**cfg, "head_dim": cfg["hidden_size"] // cfg["num_attention_heads"]}
    out = []
    for n, a in de.make_weights(with_head_dim, seed, False):
        if n.endswith(("q_norm.weight", "k_norm.weight")):
            continue
        out.append(("model." + n, a))
        if n.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight")):
            out.append(("model." + n[: -len("weight")] + "bias", rs.standard_normal((a.shape[0],)) * 0.5))
    return out


def pair_ids(tok, query, doc, instruction, model_max):
    """MxbaiRerankV2.prepare_inputs for one pair, and whether anything was cut."""
    prefix, suffix, task, sep = (tok.encode(t) for t in (PREFIX, SUFFIX, TASK, SEP))
    fixed = len(prefix) + len(task) + len(suffix) + len(sep)
    max_length = min(MAX_LENGTH, model_max - fixed)
    query_text = (f"instruction: {instruction}{SEP}" if instruction else "") + f"query: {query}"
    q_all = tok.encode(query_text)
    q = q_all[: max_length * 3 // 4]
    d_all = tok.encode(f"document: {doc}")
    d = d_all[: min(model_max - len(q), max_length)]
    second = (sep + d)[: max_length - len(q)]
    ids = prefix + q + second + sep + task + suffix
    return ids, len(q) < len(q_all) or len(second) < len(sep) + len(d_all), max_length


def write_folder(name, cfg, tok, weights, model_max):
    folder = os.path.join(mf.OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    mf.write_json(os.path.join(folder, "tokenizer.json"), tok)
    with open(os.path.join(mf.OUT, "qwen3-reranker-tiny", "tokenizer_config.json"), encoding="utf-8") as f:
        tok_cfg = json.load(f)
    mf.write_json(os.path.join(folder, "tokenizer_config.json"), {**tok_cfg, "model_max_length": model_max})
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, [(n, a.astype(np.float32)) for n, a in weights], {"format": "pt"})
    return {n: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}


def main():
    with open(os.path.join(mf.OUT, "qwen3-reranker-tiny", "tokenizer.json"), encoding="utf-8") as f:
        tok_json = json.load(f)
    tok = qr.Tokenizer(tok_json)
    vocab = tok_json["model"]["vocab"]
    V = len(vocab)
    one, zero = tok.encode("1")[0], tok.encode("0")[0]
    assert (one, zero) == (vocab["1"], vocab["0"])
    fixed = sum(len(tok.encode(t)) for t in (PREFIX, TASK, SUFFIX, SEP))
    model_max = fixed + ROOM
    base = qwen2_config(V, 512)
    assert model_max <= base["max_position_embeddings"], model_max
    weights = qwen2_weights(base, 1357)
    E = dict(weights)["model.embed_tokens.weight"]
    score = (E[one] - E[zero])[None, :]
    labels = {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    seq_cfg = {**base, "architectures": ["Qwen2ForSequenceClassification"], "num_labels": 1, **labels, "pad_token_id": 0}
    W = write_folder("mxbai-rerank-tiny-v2-seq", seq_cfg, tok_json, weights + [("score.weight", score)], model_max)
    W_lm = write_folder("mxbai-rerank-tiny-v2", base, tok_json, weights, model_max)
    assert not any(n.startswith("score") for n in W_lm)

    with open(os.path.join(mf.OUT, "modernbert-tiny", "expected.json"), encoding="utf-8") as f:
        texts = json.load(f)["texts"]
    made = [pair_ids(tok, texts[q], texts[d], ins, model_max) for q, d, ins in PAIRS]
    seqs = [ids for ids, _, _ in made]
    assert made[0][2] == ROOM
    assert all(len(s) <= model_max for s in seqs)
    cut = [c for _, c, _ in made]
    assert any(cut) and not all(cut), cut
    cfg = {**base, "head_dim": base["hidden_size"] // base["num_attention_heads"]}
    bare = {n[len("model.") :]: t for n, t in W.items() if n.startswith("model.")}
    inp, mask = de.batch(seqs, 0)
    last_at = mask.sum(1) - 1
    rows = torch.arange(len(seqs))
    row = W["score.weight"][0]
    with torch.no_grad():
        states = de.forward(bare, cfg, inp, mask, False)
        logits = states[-1][rows, last_at] @ row
        # The original checkpoint's route (MxbaiRerankV2.forward): the LM head (tied embeddings) over the last
        # state, "1" logit minus "0" logit, left-padded as its tokenizer pads.
        left_inp, left_mask = de.batch(seqs, 0, left=True)
        lm = de.forward(bare, cfg, left_inp, left_mask, False)[-1][:, -1] @ W_lm["model.embed_tokens.weight"].T
        assert (lm[:, one] - lm[:, zero] - logits).abs().max().item() < 1e-5
        for i, s in enumerate(seqs):
            alone = de.forward(bare, cfg, torch.tensor([s]), torch.ones((1, len(s)), dtype=torch.long), False)[-1][0, -1]
            assert abs((alone @ row).item() - logits[i].item()) < 1e-9, ("alone", i)
        no_bias = {n: t for n, t in bare.items() if not n.endswith(".bias")}
        with_norms = dict(bare)
        for l in range(cfg["num_hidden_layers"]):
            for n in ("q_norm", "k_norm"):
                with_norms[f"layers.{l}.self_attn.{n}.weight"] = torch.ones(cfg["head_dim"], dtype=torch.float64)
        mistakes = {
            "no q/k/v biases": de.forward(no_bias, cfg, inp, mask, False)[-1][rows, last_at] @ row,
            "Qwen3's q/k norms": de.forward(with_norms, cfg, inp, mask, False)[-1][rows, last_at] @ row,
            "first token instead of the last": states[-1][:, 0] @ row,
            "no final norm": states[-2][rows, last_at] @ row,
        }
        moved = {k: (v - logits).abs().max().item() for k, v in mistakes.items()}
        for k, v in moved.items():
            assert v > 0.1, (k, v)
        q8 = de.forward(qr.mf_q8(bare), cfg, inp, mask, False)[-1][rows, last_at] @ row
        q8_moved = (q8 - logits).abs().max().item()
    spread = logits.std().item()
    assert spread > 0.3, spread
    expected = {
        "pairs": [[texts[q], texts[d]] for q, d, _ in PAIRS],
        "instructions": [ins for _, _, ins in PAIRS],
        "ids": seqs,
        "truncated": cut,
        "logits": [float(v) for v in logits],
        "scores": [float(v) for v in torch.sigmoid(logits)],
        "note": (
            "ids: mxbai-rerank-v2's prompt (MxbaiRerankV2.prepare_inputs) for each pair, max_length 96 here (the "
            "tokenizer's model_max_length less the fixed pieces), the instruction null where none is given; logits: "
            "the score row over the last token's final-normed state (= its '1' logit minus its '0' logit under the "
            "tied LM head); scores: sigmoid of it (vLLM's from_2_way_softmax). Float64 from the stored weights."
        ),
    }
    for name in ("mxbai-rerank-tiny-v2", "mxbai-rerank-tiny-v2-seq"):
        mf.write_json(os.path.join(mf.OUT, name, "expected.json"), {"model": name, **expected})
    figures = ", ".join(f"{k} {v:.3f}" for k, v in moved.items())
    print(
        f"mxbai-rerank-tiny-v2(-seq): {len(seqs)} pairs, lengths {[len(s) for s in seqs]}, cut {cut}; "
        f"logit spread {spread:.3f}; max |logit change| {figures}; q8 weights {q8_moved:.3f}"
    )


if __name__ == "__main__":
    main()
