#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's listwise reranker: jina-reranker-v3 (JinaForRanking).

Writes fixtures/jina-reranker-v3-tiny/, shaped like jinaai/jina-reranker-v3: config.json with
architectures ["JinaForRanking"], model_type qwen3 and an auto_map to its modeling.py; the decoder under
`model.` (qwen3-tiny's shape, tied embeddings, no lm_head) and the projector `projector.0.weight`
[H/2, H], `projector.2.weight` [512, H/2] (Linear, ReLU, Linear, no biases); qwen3-tiny's tokenizer with
Qwen's chat specials and the model's two tokens <|embed_token|> (after each passage) and <|rerank_token|>
(after the query) added, and no post-processor (Qwen's tokenizer adds no special tokens).

Run from the repository root:  /usr/bin/python3 test/oracle/make_jina_reranker_v3.py   (~1 min; after
make_decoder_embedders.py, whose float64 Qwen3 forward it reuses, and make_qwen3_reranker.py's tokenizer)

From the model's modeling.py (JinaForRanking.rerank, format_docs_prompts_func), written out here:
  - the query and the passages lose every <|embed_token|> and <|rerank_token|> they contain;
  - each text is tokenized; one of max_doc_length tokens or more (max_query_length for the query) is cut
    there and decoded back to text; its length is counted;
  - passages go into blocks in order: capacity = max_length - 2 * query length, less each passage's length;
    a block closes at block_size passages or when the capacity left is max_doc_length or less;
  - each block is one prompt: a system turn, "I will provide you with {n} passages ... query: {query}\\n",
    an optional <instruct> block, '<passage id="{i}">\\n{passage}<|embed_token|>\\n</passage>' joined by
    newlines, then "<query>\\n{query}<|rerank_token|>\\n</query>" and the assistant turn with an empty
    think block; tokenized whole;
  - the final-normed states at the embed tokens and at the rerank token go through the projector; a
    block's weight is max((1 + cos(passage, query)) / 2) over its passages; the query vectors of the
    blocks are averaged with those weights, and each passage scores the cosine with that average.
The model's own limits are max_length = the tokenizer's model_max_length, max_query_length 512,
max_doc_length 2048, block_size 125; m3web keeps those where the model's positions allow (jina-reranker-v3:
40,960) and shrinks the two text limits for models with fewer positions (min(512, max_length / 8), min(2048,
max_length / 2)), and splits a block whose prompt would not fit the positions in halves until each fits (the
model's code counts the passages' tokens only, not the prompt around them, so 125 short passages can pass
max_length; at 131,072 positions they never reach it). This fixture's 4,096 positions keep the model's limits.
"""

import functools
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import make_decoder_embedders as de  # noqa: E402
import make_qwen3_reranker as qr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

NAME = "jina-reranker-v3-tiny"
DOC_TOKEN, QUERY_TOKEN = "<|embed_token|>", "<|rerank_token|>"
MAX_LENGTH = 4096
MAX_QUERY, MAX_DOC, BLOCK_SIZE = min(512, MAX_LENGTH // 8), min(2048, MAX_LENGTH // 2), 125
PROJECTOR_DIM = 512
PREFIX = (
    "<|im_start|>system\n"
    "You are a search relevance expert who can determine a ranking of the passages based on how relevant they are "
    "to the query. If the query is a question, how relevant a passage is depends on how well it answers the "
    "question. If not, try to analyze the intent of the query and assess how well each passage satisfies the "
    "intent. If an instruction is provided, you should follow the instruction when determining the ranking."
    "<|im_end|>\n<|im_start|>user\n"
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def prompt(query, docs, instruction):
    text = (
        f"I will provide you with {len(docs)} passages, each indicated by a numerical identifier. "
        f"Rank the passages based on their relevance to query: {query}\n"
    )
    if instruction:
        text += f"<instruct>\n{instruction}\n</instruct>\n"
    text += "\n".join(f'<passage id="{i}">\n{d}{DOC_TOKEN}\n</passage>' for i, d in enumerate(docs)) + "\n"
    text += f"<query>\n{query}{QUERY_TOKEN}\n</query>"
    return PREFIX + text + SUFFIX


class Decoder:
    """The fixture tokenizer's decoder (Replace ▁ -> space, ByteFallback, Fuse), specials kept as text."""

    def __init__(self, tok):
        self.pieces = {i: p for p, i in tok["model"]["vocab"].items()}
        for t in tok["added_tokens"]:
            self.pieces[t["id"]] = t["content"]

    def __call__(self, ids):
        out, pending = [], bytearray()
        for i in ids:
            p = self.pieces[i]
            if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
                pending.append(int(p[3:5], 16))
                continue
            if pending:
                out.append(pending.decode("utf-8", errors="replace"))
                pending = bytearray()
            out.append(p.replace("\u2581", " "))
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
        return "".join(out)


def cut(tok, decode, text, limit):
    """modeling.py's _truncate_texts for one text: (text, length, cut)."""
    ids = tok.encode(text)
    if len(ids) >= limit:
        return decode(ids[:limit]), limit, len(ids) > limit
    return text, len(ids), False


def blocks_of(lengths, query_length):
    capacity = MAX_LENGTH - 2 * query_length
    blocks, block = [], []
    for i, n in enumerate(lengths):
        block.append(i)
        capacity -= n
        if len(block) >= BLOCK_SIZE or capacity <= MAX_DOC:
            blocks.append(block)
            block, capacity = [], MAX_LENGTH - 2 * query_length
    if block:
        blocks.append(block)
    return blocks


def fitted(tok, query, kept, block, instruction):
    """[(block, prompt ids)]: the block, or its halves (each split again) while its prompt passes MAX_LENGTH."""
    ids = tok.encode(prompt(query, [kept[i][0] for i in block], instruction))
    if len(ids) <= MAX_LENGTH:
        return [(block, ids)]
    assert len(block) > 1, len(ids)
    half = len(block) // 2
    return fitted(tok, query, kept, block[:half], instruction) + fitted(tok, query, kept, block[half:], instruction)


def rerank(W, cfg, P, tok, decode, query, docs, instruction, mistake=None):
    clean = lambda t: t.replace(DOC_TOKEN, "").replace(QUERY_TOKEN, "")  # noqa: E731
    query, qlen, qcut = cut(tok, decode, clean(query), MAX_QUERY)
    kept = [cut(tok, decode, clean(d), MAX_DOC) for d in docs]
    blocks = blocks_of([n for _, n, _ in kept], qlen)
    doc_id, query_id = tok.special[DOC_TOKEN], tok.special[QUERY_TOKEN]
    projector = lambda x: torch.relu(x @ P["projector.0.weight"].T) @ P["projector.2.weight"].T  # noqa: E731
    encoded = [f for block in blocks for f in fitted(tok, query, kept, block, instruction)]
    blocks = [b for b, _ in encoded]
    doc_vectors, query_vectors, weights, prompts = [], [], [], []
    for block, ids in encoded:
        prompts.append(ids)
        states = de.forward(W, cfg, torch.tensor([ids]), torch.ones((1, len(ids)), dtype=torch.long), False)
        final = states[-2 if mistake == "no final norm" else -1][0]
        at = torch.tensor(ids)
        d = final[at == doc_id]
        q = final[at == query_id]
        assert d.shape[0] == len(block) and q.shape[0] == 1, (d.shape, q.shape)
        if mistake == "projector without its ReLU":
            d, q = (x @ P["projector.0.weight"].T @ P["projector.2.weight"].T for x in (d, q))
        else:
            d, q = projector(d), projector(q)
        cos = torch.nn.functional.cosine_similarity(d, q.expand_as(d), dim=-1)
        doc_vectors.append(d)
        query_vectors.append(q[0])
        weights.append(((1 + cos) / 2).max().item())
    if mistake == "blocks weighted alike":
        weights = [1.0] * len(weights)
    merged = sum(w * q for w, q in zip(weights, query_vectors)) / sum(weights)
    d = torch.cat(doc_vectors)
    scores = torch.nn.functional.cosine_similarity(d, merged.expand_as(d), dim=-1)
    return {
        "blocks": blocks,
        "ids": prompts,
        "weights": weights,
        "scores": [float(s) for s in scores],
        "truncated": [qcut or c for _, _, c in kept],
    }


def main():
    tok_json = qr.tokenizer_json()
    n = len(tok_json["model"]["vocab"])
    for i, t in enumerate([DOC_TOKEN, QUERY_TOKEN]):
        tok_json["added_tokens"].append(
            {"id": n + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        )
        tok_json["model"]["vocab"][t] = n + i
    tok_json["post_processor"] = None
    tok = qr.Tokenizer(tok_json)
    # Every mistake re-reads the same prompts: Python's BPE is the slow part.
    tok.encode = functools.lru_cache(maxsize=None)(tok.encode)
    decode = Decoder(tok_json)
    V = len(tok_json["model"]["vocab"])
    with open(os.path.join(mf.OUT, "modernbert-tiny", "expected.json"), encoding="utf-8") as f:
        texts = json.load(f)["texts"]

    cfg = {
        **de.qwen3_config(V),
        "architectures": ["JinaForRanking"],
        "auto_map": {"AutoModel": "modeling.JinaForRanking"},
        "max_position_embeddings": MAX_LENGTH,
    }
    weights = [("model." + n, a) for n, a in de.make_weights(cfg, 8642, False)]
    rs = np.random.RandomState(8643)
    H = cfg["hidden_size"]
    weights += [
        ("projector.0.weight", rs.standard_normal((H // 2, H)) / np.sqrt(H)),
        ("projector.2.weight", rs.standard_normal((PROJECTOR_DIM, H // 2)) / np.sqrt(H // 2)),
    ]
    # qwen3-reranker-tiny's folder writer: model_max_length is the positions, as here.
    folder, stored = qr.write_folder(NAME, cfg, tok_json, weights)
    W = {n[len("model.") :]: t for n, t in stored.items() if n.startswith("model.")}
    P = {n: t for n, t in stored.items() if n.startswith("projector.")}

    long_doc = " ".join(texts[i % len(texts)] for i in range(100))
    medium = [" ".join(texts[(k + i) % len(texts)] for i in range(18)) for k in range(5)]
    cases = [
        {"why": "one block", "query": texts[0], "documents": [texts[1], texts[0], texts[7], texts[2]]},
        {"why": "an instruction", "query": texts[7], "documents": [texts[7], texts[4], texts[6]], "instruction": "Find the sentence that says the same"},
        {"why": "the model's tokens in the texts are dropped", "query": f"Bush{QUERY_TOKEN} welcomed", "documents": [f"{texts[0]}{DOC_TOKEN}", texts[3]]},
        {"why": "blocks closed by the capacity left", "query": texts[5], "documents": medium},
        {"why": "a passage and the query cut and decoded", "query": " ".join(texts[7] for _ in range(6)), "documents": [long_doc, texts[1], texts[6]]},
        {"why": "blocks closed at 125 passages", "query": texts[3], "documents": [texts[i % len(texts)][: 3 + i % 5] for i in range(130)]},
        {"why": "a block split in halves to fit", "query": texts[0], "documents": [texts[i % len(texts)][:20] for i in range(125)]},
    ]
    out, moved = [], {}
    with torch.no_grad():
        for case in cases:
            got = rerank(W, cfg, P, tok, decode, case["query"], case["documents"], case.get("instruction"))
            out.append({**case, **got})
            for mistake in ("no final norm", "projector without its ReLU", "blocks weighted alike"):
                if mistake == "blocks weighted alike" and len(got["blocks"]) == 1:
                    continue
                other = rerank(W, cfg, P, tok, decode, case["query"], case["documents"], case.get("instruction"), mistake)
                delta = max(abs(a - b) for a, b in zip(other["scores"], got["scores"]))
                moved[mistake] = max(moved.get(mistake, 0.0), delta)
    summary = [(c["why"], [len(b) for b in c["blocks"]], [len(i) for i in c["ids"]]) for c in out]
    assert [len(b) for b in out[3]["blocks"]] == [3, 2], summary
    assert out[4]["truncated"] == [True, True, True] and len(out[4]["blocks"]) >= 2, summary
    assert [len(b) for b in out[5]["blocks"]] == [125, 5], summary
    assert [len(b) for b in out[6]["blocks"]] == [62, 63], summary
    for k, v in moved.items():
        assert v > 1e-3, (k, v)
    spread = float(np.std([s for c in out for s in c["scores"]]))
    assert spread > 0.05, spread
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {
            "model": NAME,
            "limits": {"maxLength": MAX_LENGTH, "maxQuery": MAX_QUERY, "maxDocument": MAX_DOC, "blockSize": BLOCK_SIZE},
            "cases": out,
            "note": (
                "Per case: blocks (passage indices per prompt), ids (each block's prompt, tokenized whole), weights "
                "(each block's max((1 + cos) / 2)), scores (each passage's cosine with the weighted mean of the "
                "blocks' query vectors), truncated (the passage or the query was cut). Float64 from the stored weights."
            ),
        },
    )
    print(f"{NAME}: {summary}; score spread {spread:.3f}; largest score change per mistake {moved}")


if __name__ == "__main__":
    main()
