#!/usr/bin/env python3
"""Independent oracle for m3web's static embedders (model2vec, and sentence-transformers' StaticEmbedding).

Writes fixtures/model2vec-tiny/: a model2vec folder as StaticModel.save_pretrained lays it out (config.json
with model_type "model2vec" and hidden_dim, model.safetensors holding one F32 tensor `embeddings` [vocab, 32],
tokenizer.json, modules.json naming sentence-transformers' StaticEmbedding and Normalize), with bert-tiny's
uncased WordPiece tokenizer (2,062 tokens, [UNK] = 100) and a random table, plus expected.json /
expected.safetensors (mean.{i}: each text's unnormalised vector).

Run from the repository root:  /usr/bin/python3 test/oracle/make_model2vec.py   (~2 s; after make_fixtures.py).

The vectors are computed in float64 with torch from MinishLab/model2vec's model/model.py (StaticModel.tokenize,
_encode_helper, _encode_batch, encode), written here by hand; model2vec itself is not used. Conventions:
  - tokenize: encode_batch(..., add_special_tokens=False), so no [CLS] / [SEP]; then every id equal to the
    tokenizer model's unk_token ([UNK]) is removed (the tokenizer's models that name an unk_token: WordPiece,
    BPE, WordLevel); then ids[:max_length], max_length = 512 (encode's default). encode also cuts each text to
    max_length * median token length characters first; every text here stays below that, so it binds nowhere
  - a text's vector: embeddings[ids].mean(axis=0); a text with no ids left is a vector of zeros
  - normalize (config "normalize": true) divides by the L2 norm (+ 1e-32); m3web normalises by default, so the
    fixture stores the unnormalised means and the test normalises both
The ids come from make_fixtures.py's Python WordPiece (verified against bert-tiny's committed ids below).

Writes fixtures/model2vec-vq-tiny/ too: the same tokenizer and texts under a vocabulary-quantized, int8 model as
model2vec's distill(vocabulary_quantization=K) and quantize_to="int8" save it (persistence/persistence.py
save_pretrained): model.safetensors holding `embeddings` I8 [K, 32] (K = 300 shared rows), `mapping` I64 [vocab]
(each token's row) and `weights` F64 [vocab] (each token's factor), config.json with "embedding_dtype": "int8" and
"vocabulary_quantization": K. A text's vector follows model.py's _encode_helper and _encode_batch:
embeddings[mapping[ids]] * weights[ids][:, None], averaged (the int8 values as they are: model2vec keeps no scale).

Writes fixtures/st-static-tiny/ too: sentence-transformers' own static layout, as SentenceTransformer.save writes a
model whose only module is StaticEmbedding (sentence-transformers/static-retrieval-mrl-en-v1,
static-similarity-mrl-multilingual-v1): modules.json naming 0_StaticEmbedding, config_sentence_transformers.json,
0_StaticEmbedding/model.safetensors holding `embedding.weight` F32 [vocab, 64], 0_StaticEmbedding/tokenizer.json, and
no config.json. Its vectors follow sentence_transformers/models/StaticEmbedding.py: tokenize with
add_special_tokens=False and nothing dropped ([UNK] counts), no length limit (max_seq_length is infinite), then
nn.EmbeddingBag's mean, computed here with torch.nn.functional.embedding_bag(mode="mean") in float64.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import json  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BERT = os.path.join(HERE, "fixtures", "bert-tiny")
OUT = os.path.join(HERE, "fixtures", "model2vec-tiny")
HIDDEN = 32
MAX_LENGTH = 512


def main():
    with open(os.path.join(BERT, "tokenizer.json")) as f:
        tj = json.load(f)
    with open(os.path.join(BERT, "expected.json")) as f:
        bert = json.load(f)
    vocab = tj["model"]["vocab"]
    specials = [t["content"] for t in tj["added_tokens"]]
    tok = mf.WordPieceTokenizer(vocab, True, "[UNK]", "[CLS]", "[SEP]", added=specials)
    unk = vocab["[UNK]"]
    for text, ids in zip(bert["texts"], bert["ids"]):
        assert tok.encode(text) == ids, text

    texts = [
        *bert["texts"],
        # Characters the vocabulary lacks become [UNK], which model2vec drops.
        "The 🙂 president ☃ welcomed ✈ it.",
        # Nothing left after dropping [UNK]: zeros.
        "🙂 ☃ ✈",
        # Past 512 tokens: the first 512 count.
        " ".join(["a", "b", "c", "d", "e", "f", "g", "h"] * 80),
    ]
    ids = []
    for text in texts:
        toks = [i for i in tok.encode(text, specials=False) if i != unk][:MAX_LENGTH]
        ids.append(toks)
    assert any(unk in tok.encode(t) for t in texts[-3:-1]) and not ids[-2] and len(tok.encode(texts[-1], False)) > MAX_LENGTH
    median = int(np.median([len(t) for t in vocab]))
    assert all(len(t) <= MAX_LENGTH * median for t in texts), "encode's character cut would bind"

    rng = np.random.default_rng(2062)
    table = rng.normal(0, 0.5, size=(len(vocab), HIDDEN)).astype(np.float32)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    config = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": "bert-tiny",
        "apply_pca": HIDDEN,
        "apply_zipf": True,
        "hidden_dim": HIDDEN,
        "seq_length": 1000000,
        "normalize": True,
    }
    mf.write_json(os.path.join(OUT, "config.json"), config)
    mf.write_json(
        os.path.join(OUT, "modules.json"),
        [
            {"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"},
            {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    shutil.copy(os.path.join(BERT, "tokenizer.json"), os.path.join(OUT, "tokenizer.json"))
    mf.write_safetensors(os.path.join(OUT, "model.safetensors"), [("embeddings", table)], {"format": "np"})

    emb = torch.from_numpy(mf.read_safetensors(os.path.join(OUT, "model.safetensors"))["embeddings"].astype(np.float64))
    out = []
    for i, row in enumerate(ids):
        mean = emb[torch.tensor(row, dtype=torch.long)].mean(dim=0) if row else torch.zeros(HIDDEN, dtype=torch.float64)
        out.append((f"mean.{i}", mean.numpy().astype(np.float32)))
    write_expected(
        OUT,
        texts,
        ids,
        out,
        "ids: no special tokens, [UNK] dropped, at most 512; mean.{i} in expected.safetensors is the unnormalised mean of the rows (zeros for no ids)",
    )
    print(f"wrote {OUT}: {len(texts)} texts, table {table.shape}")
    write_sentence_transformers_static(tok, texts)
    write_vocabulary_quantized(config, texts, ids, len(vocab))


VQ_OUT = os.path.join(HERE, "fixtures", "model2vec-vq-tiny")
SHARED_ROWS = 300


def write_vocabulary_quantized(config, texts, ids, vocab_size):
    rng = np.random.default_rng(300)
    table = rng.integers(-127, 128, size=(SHARED_ROWS, HIDDEN)).astype(np.int8)
    mapping = rng.integers(0, SHARED_ROWS, size=vocab_size).astype(np.int64)
    weights = rng.uniform(0.05, 2.0, size=vocab_size).astype(np.float64)
    if os.path.isdir(VQ_OUT):
        shutil.rmtree(VQ_OUT)
    os.makedirs(VQ_OUT)
    mf.write_json(
        os.path.join(VQ_OUT, "config.json"),
        {**config, "embedding_dtype": "int8", "vocabulary_quantization": SHARED_ROWS},
    )
    for name in ("modules.json", "tokenizer.json"):
        shutil.copy(os.path.join(OUT, name), os.path.join(VQ_OUT, name))
    path = os.path.join(VQ_OUT, "model.safetensors")
    mf.write_safetensors(path, [("embeddings", table), ("mapping", mapping), ("weights", weights)], {"format": "np"})
    stored = mf.read_safetensors(path)
    assert stored["embeddings"].dtype == np.int8 and stored["mapping"].dtype == np.int64 and stored["weights"].dtype == np.float64
    emb = torch.from_numpy(stored["embeddings"].astype(np.float64))
    m = torch.from_numpy(stored["mapping"].copy())
    w = torch.from_numpy(stored["weights"].copy())
    out = []
    for i, row in enumerate(ids):
        if row:
            t = torch.tensor(row, dtype=torch.long)
            mean = (emb[m[t]] * w[t][:, None]).mean(dim=0)
        else:
            mean = torch.zeros(HIDDEN, dtype=torch.float64)
        out.append((f"mean.{i}", mean.numpy().astype(np.float32)))
    # A second route: the per-token table written out first, then plain rows, as a non-quantized model reads.
    full = emb[m] * w[:, None]
    for i, row in enumerate(ids):
        if row:
            assert np.allclose(full[torch.tensor(row)].mean(dim=0).numpy(), out[i][1], rtol=1e-6, atol=1e-5), i
    write_expected(
        VQ_OUT,
        texts,
        ids,
        out,
        "as model2vec-tiny's; mean.{i}: the mean of embeddings[mapping[id]] * weights[id] over the ids (zeros for none)",
    )
    print(f"wrote {VQ_OUT}: {len(texts)} texts, {SHARED_ROWS} shared int8 rows for {vocab_size} tokens")


def write_expected(folder, texts, ids, means, note):
    """expected.safetensors (the `mean.{i}` tensors) and expected.json of a fixture folder."""
    mf.write_safetensors(os.path.join(folder, "expected.safetensors"), means)
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {"model": os.path.basename(folder), "texts": texts, "ids": ids, "note": note},
        compact=True,
    )


ST_OUT = os.path.join(HERE, "fixtures", "st-static-tiny")
ST_HIDDEN = 64


def write_sentence_transformers_static(tok, texts):
    ids = [tok.encode(text, specials=False) for text in texts]
    assert len(ids[-1]) > MAX_LENGTH and all(ids), "StaticEmbedding keeps [UNK] and every token"
    rng = np.random.default_rng(64)
    table = rng.normal(0, 0.5, size=(len(tok.vocab), ST_HIDDEN)).astype(np.float32)
    if os.path.isdir(ST_OUT):
        shutil.rmtree(ST_OUT)
    module = os.path.join(ST_OUT, "0_StaticEmbedding")
    os.makedirs(module)
    mf.write_json(
        os.path.join(ST_OUT, "modules.json"),
        [{"idx": 0, "name": "0", "path": "0_StaticEmbedding", "type": "sentence_transformers.models.StaticEmbedding"}],
    )
    mf.write_json(
        os.path.join(ST_OUT, "config_sentence_transformers.json"),
        {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    shutil.copy(os.path.join(BERT, "tokenizer.json"), os.path.join(module, "tokenizer.json"))
    mf.write_safetensors(os.path.join(module, "model.safetensors"), [("embedding.weight", table)], {"format": "pt"})

    weight = torch.from_numpy(
        mf.read_safetensors(os.path.join(module, "model.safetensors"))["embedding.weight"].astype(np.float64)
    )
    flat = torch.tensor([i for row in ids for i in row], dtype=torch.long)
    offsets = torch.tensor(np.cumsum([0] + [len(row) for row in ids[:-1]]), dtype=torch.long)
    means = torch.nn.functional.embedding_bag(flat, weight, offsets, mode="mean")
    write_expected(
        ST_OUT,
        texts,
        ids,
        [(f"mean.{i}", means[i].numpy().astype(np.float32)) for i in range(len(ids))],
        "ids: no special tokens, [UNK] kept, no limit; mean.{i} in expected.safetensors is EmbeddingBag's mean",
    )
    print(f"wrote {ST_OUT}: {len(texts)} texts, table {table.shape}")


if __name__ == "__main__":
    main()
