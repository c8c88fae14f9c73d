#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's inference-free SPLADE models (sentence-transformers v5's `Router`:
queries through a `SparseStaticEmbedding`, documents through `MLMTransformer` + `SpladePooling`).

Writes fixtures/splade-inference-free/, shaped like opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill
as sentence-transformers v5 saves a `SparseEncoder(modules=[Router.for_query_document(...)])` (Router.save: the Router
in the root, each routed module in a folder named `{route}_{index}_{class}`):

  modules.json                          one module, sentence_transformers.models.Router, path ""
  router_config.json                    {"types": {folder: module class}, "structure": {"query": [...], "document":
                                        [...]}, "parameters": {"default_route": "document", "allow_empty_key": true}}
  config_sentence_transformers.json     SparseEncoder, dot similarity, empty prompts
  query_0_SparseStaticEmbedding/        config.json {"frozen": true}, model.safetensors {"weight": F32 [V]}, the
                                        tokenizer (tokenizer.json, tokenizer_config.json)
  document_0_MLMTransformer/            splade-distilbert-tiny's config.json, model.safetensors, tokenizer.json,
                                        tokenizer_config.json and sentence_bert_config.json, unchanged
  document_1_SpladePooling/config.json  max / log1p_relu (splade-distilbert-tiny's)
  expected.json                         { model, texts, query_ids, query, document, scores, note }

The document route is splade-distilbert-tiny's model, so `document` is that fixture's expected "max_log1p_relu"
vectors, copied (make_splade.py computed them in float64 from the same stored weights). The query route is computed
here as SparseStaticEmbedding.forward does (sentence-transformers v5, sparse_encoder/models/SparseStaticEmbedding.py):
token ids from the tokenizer WITHOUT special tokens (its tokenize passes add_special_tokens=False), a presence vector
(scatter of the attention mask: an id counts once however often it occurs) times `weight`; the sparse vector keeps the
non-zero entries, indices ascending. `query_ids` are the base fixture's verified ids without their [CLS] and [SEP]
(none of these texts reaches the length limit). `weight` is IDF-like: numpy RandomState 7070, uniform 0.5..8 in float32,
with every id divisible by 7 set to 0 (those ids must drop out of a query's vector) and the specials at 0.
`scores[q][d]`: dot product of text q's query vector with text d's document vector, float64, rounded to 7 significant
digits.

Run from the repository root:  /usr/bin/python3 test/oracle/make_splade_router.py   (< 1 s; after make_splade.py)

Self-checks: a second route (a dense [texts, V] presence matrix from one padded batch, as SparseStaticEmbedding's
scatter_ runs it, times weight) equals the per-text dict route exactly; ids divisible by 7 never appear in a query
vector; every text's query vector is non-empty; the output is generated twice and compared byte for byte.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import filecmp  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

NAME = "splade-inference-free"
BASE = os.path.join(mf.OUT, "splade-distilbert-tiny")
ST = "sentence_transformers.sparse_encoder.models."
QUERY, DOC, POOL = "query_0_SparseStaticEmbedding", "document_0_MLMTransformer", "document_1_SpladePooling"
DIGITS = 7


def rounded(v):
    return float(f"{v:.{DIGITS}g}")


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def query_vector(ids, weight):
    """SparseStaticEmbedding for one text: each id once, times its weight; non-zero entries, ascending."""
    idx = sorted(i for i in set(ids) if weight[i] != 0)
    return idx, [float(weight[i]) for i in idx]


def query_batch(ids, weight):
    """Route 2: one padded batch, token_presence.scatter_(1, input_ids, attention_mask) * weight, as forward runs it."""
    S = max(len(x) for x in ids)
    inp = torch.tensor([x + [0] * (S - len(x)) for x in ids])
    mask = torch.tensor([[1] * len(x) + [0] * (S - len(x)) for x in ids])
    presence = torch.zeros(len(ids), len(weight), dtype=torch.int64)
    presence.scatter_(1, inp, mask)
    return presence.double() * torch.from_numpy(weight.astype(np.float64))


def build(root):
    base = read_json(os.path.join(BASE, "expected.json"))
    cfg = read_json(os.path.join(BASE, "config.json"))
    tok_cfg = read_json(os.path.join(BASE, "tokenizer_config.json"))
    V = cfg["vocab_size"]
    cls, sep = 2, 3
    assert all(x[0] == cls and x[-1] == sep for x in base["ids"])
    query_ids = [x[1:-1] for x in base["ids"]]

    rng = np.random.RandomState(7070)
    weight = rng.uniform(0.5, 8.0, V).astype(np.float32)
    weight[np.arange(V) % 7 == 0] = 0
    specials = [i for i in (0, 1, 2, 3, 4) if i < V]
    weight[specials] = 0

    folder = os.path.join(root, NAME)
    os.makedirs(os.path.join(folder, QUERY))
    os.makedirs(os.path.join(folder, DOC))
    os.makedirs(os.path.join(folder, POOL))
    for f in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "sentence_bert_config.json"):
        shutil.copyfile(os.path.join(BASE, f), os.path.join(folder, DOC, f))
    shutil.copyfile(os.path.join(BASE, "1_SpladePooling", "config.json"), os.path.join(folder, POOL, "config.json"))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(BASE, f), os.path.join(folder, QUERY, f))
    mf.write_json(os.path.join(folder, QUERY, "config.json"), {"frozen": True})
    mf.write_safetensors(os.path.join(folder, QUERY, "model.safetensors"), [("weight", weight)], {"format": "pt"})
    mf.write_json(os.path.join(folder, "modules.json"),
                  [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Router"}])  # fmt: skip
    mf.write_json(
        os.path.join(folder, "router_config.json"),
        {
            "types": {QUERY: ST + "SparseStaticEmbedding", DOC: ST + "MLMTransformer", POOL: ST + "SpladePooling"},
            "structure": {"query": [QUERY], "document": [DOC, POOL]},
            "parameters": {"default_route": "document", "allow_empty_key": True},
        },
    )
    mf.write_json(
        os.path.join(folder, "config_sentence_transformers.json"),
        {"model_type": "SparseEncoder", "similarity_fn_name": "dot", "prompts": {"query": "", "document": ""},
         "default_prompt_name": None},
    )  # fmt: skip
    assert tok_cfg.get("model_max_length", 512) >= max(len(x) for x in query_ids)

    queries = [query_vector(x, weight) for x in query_ids]
    dense = query_batch(query_ids, weight)
    for i, (idx, vals) in enumerate(queries):
        nz = torch.nonzero(dense[i]).flatten().tolist()
        assert nz == idx and [dense[i][j].item() for j in nz] == vals, ("route 2", i)
        assert idx and all(j % 7 != 0 for j in idx), ("query support", i)
    docs = base["sparse"]["max_log1p_relu"]
    scores = []
    for idx, vals in queries:
        q = dict(zip(idx, vals))
        scores.append([rounded(sum(q[i] * v for i, v in zip(d["indices"], d["values"]) if i in q)) for d in docs])
    note = (
        "Inference-free SPLADE: queries by SparseStaticEmbedding (ids without specials, each once, times weight; "
        "non-zero entries ascending), documents by splade-distilbert-tiny's max / log1p_relu SPLADE (its expected.json). "
        f"scores[q][d]: dot product of query q and document d in float64, rounded to {DIGITS} significant digits."
    )
    lines = ["{", f'  "model": {dumps(NAME)},', '  "texts": [']
    lines.append(",\n".join("    " + dumps(t) for t in base["texts"]) + "\n  ],")
    lines.append('  "query_ids": [\n' + ",\n".join("    " + dumps(x) for x in query_ids) + "\n  ],")
    qrows = [{"indices": idx, "values": [rounded(v) for v in vals]} for idx, vals in queries]
    lines.append('  "query": [\n' + ",\n".join("    " + dumps(r) for r in qrows) + "\n  ],")
    lines.append('  "document": [\n' + ",\n".join("    " + dumps(r) for r in docs) + "\n  ],")
    lines.append('  "scores": [\n' + ",\n".join("    " + dumps(r) for r in scores) + "\n  ],")
    lines.append(f'  "note": {dumps(note)}')
    lines.append("}")
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    return queries, scores


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def main():
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        queries, scores = build(a)
        build(b)
        assert tree(a) == tree(b)
        for f in tree(a):
            assert filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False), ("not deterministic", f)
        dst = os.path.join(mf.OUT, NAME)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        shutil.copytree(os.path.join(a, NAME), dst)
    print(f"{NAME}: query non-zero {[len(i) for i, _ in queries]}")
    best = [max(range(len(r)), key=lambda d: r[d]) for r in scores]
    print(f"  each query's best document: {best}")
    print("byte-identical on a second generation")


if __name__ == "__main__":
    main()
