#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's late-interaction (ColBERT) models.

Writes three fixtures (see README.md next to this file), two over bert-tiny's tokenizer and texts:

- fixtures/colbert-stanford-tiny/: a stanford-futuredata ColBERT checkpoint as Hugging Face holds them
  (colbert-ir/colbertv2.0, answerdotai/answerai-colbert-small-v1): config.json with architectures ["HF_ColBERT"],
  model.safetensors with the BertModel under `bert.` and the projection `linear.weight` [dim, H] (no bias), and
  artifact.metadata naming the markers "[unused0]" / "[unused1]", query_maxlen, doc_maxlen, attend_to_mask_tokens
  false and mask_punctuation true. bert-tiny's vocabulary has no [unusedN] rows, so both are appended to its
  tokenizer as added tokens (as bert-base-uncased has them as ordinary entries).
- fixtures/colbert-pylate-tiny/: a PyLate model (lightonai/GTE-ModernColBERT-v1's layout, over BERT): modules.json
  with a Transformer and a `pylate.models.Dense.Dense` in 1_Dense/ (config.json + model.safetensors `linear.weight`),
  config_sentence_transformers.json with query_prefix "[Q] ", document_prefix "[D] " (added tokens of the saved
  tokenizer), query_length, document_length, attend_to_expansion_tokens false, skiplist_words and
  do_query_expansion true; the encoder's weights without a prefix;
- fixtures/colbert-modernbert-tiny/: the same PyLate layout over modernbert-tiny's tokenizer, texts and architecture
  (GTE-ModernColBERT-v1, mxbai-edge-colbert): Gemma-style BPE, so most punctuation is no token of its own and
  PyLate's skiplist holds <unk>; local windows wide enough that every expansion token reaches keys.

The scores follow stanford-futuredata/ColBERT (colbert/modeling/tokenization/{query,doc}_tokenization.py and
colbert/modeling/colbert.py) and PyLate (pylate/models/colbert.py: tokenize, encode), which agree here:
- a query is tokenized with its specials and cut to query_length - 1 ids, padded to that length, the marker put
  at position 1, and every pad replaced by the mask token; the mask tokens have attention mask 0 (not attended,
  but each computes its own state), and every one of the query_length states is kept;
- a document is tokenized with its specials and cut to document_length - 1 ids, the marker put at position 1;
  its states are kept except those of skiplist tokens (stanford: the first id of each string.punctuation
  character encoded alone; PyLate: convert_tokens_to_ids of each skiplist word) and padding;
- each kept state goes through the projection and is L2-normalised; score(q, d) = sum over the query's vectors
  of the largest dot product with the document's vectors (MaxSim).

Run from the repository root:  /usr/bin/python3 test/oracle/make_colbert.py   (~5 s; after make_fixtures.py)
The encoders are make_cross_encoder.py's float64 BertModel (written from transformers' modeling_bert.py) and
make_modernbert.py's ModernBertModel as transformers runs it without flash attention (expansion tokens computed;
with flash attention's unpadding they come out as zeros, see PyLate issue #125); neither transformers, colbert nor
pylate is used.
"""

import json
import os
import string
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)
import post_norm_oracle as pn  # noqa: E402
import make_modernbert as mb  # noqa: E402
from make_cross_encoder import encoder  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

QUERY_LENGTH = 32
DOCUMENT_LENGTH = 40
DIM = 24
MASK, PAD = 4, 0  # [MASK] / <mask> and [PAD] / <pad> in both tokenizers


def tokenizer_with(folder, tokens):
    """Appends `tokens` to the folder's tokenizer.json as added tokens (ids after the vocabulary); returns their ids."""
    path = os.path.join(folder, "tokenizer.json")
    tok = pn.read_json(path)
    first = max(a["id"] for a in tok["added_tokens"]) + 1
    first = max(first, len(tok["model"]["vocab"]))
    ids = []
    for i, content in enumerate(tokens):
        tok["added_tokens"].append(
            {"id": first + i, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": False}
        )
        ids.append(first + i)
    mf.write_json(path, tok)
    return ids


def query_ids(ids, marker, expand=True):
    """[CLS] marker text... [SEP] (the text's own first and last specials) then mask tokens to QUERY_LENGTH;
    the count of attended tokens."""
    body = ids[1:-1][: QUERY_LENGTH - 3]
    seq = [ids[0], marker, *body, ids[-1]]
    attended = len(seq)
    if expand:
        seq += [MASK] * (QUERY_LENGTH - len(seq))
    return seq, attended


def document_ids(ids, marker):
    return [ids[0], marker, *ids[1:-1][: DOCUMENT_LENGTH - 3], ids[-1]]


def bert_states(W, cfg, inp, mask):
    return encoder(W, cfg, "bert.", inp, torch.zeros_like(inp), mask, False)


def modernbert_states(W, cfg, inp, mask):
    """ModernBertModel's last_hidden_state (final_norm applied) as transformers computes it without flash
    attention: masked keys get no weight, every query row is computed."""
    return mb.forward(W, cfg, inp, mask)[1]


def vectors(W, cfg, seqs, attended, keep):
    """Each sequence's kept token vectors [n, DIM]: the encoder over the batch (attention mask 1 for the first
    attended[i] tokens), the projection, L2 normalisation. keep(i, j, token) says which states stay."""
    inp, _ = pn.padded_batch(seqs, PAD)
    mask = torch.zeros_like(inp)
    for i, a in enumerate(attended):
        mask[i, :a] = 1
    x = (modernbert_states if cfg["model_type"] == "modernbert" else bert_states)(W, cfg, inp, mask)
    out = []
    for i, s in enumerate(seqs):
        rows = [j for j, t in enumerate(s) if keep(i, j, t)]
        v = x[i, rows] @ W["linear.weight"].T
        out.append(v / v.norm(dim=-1, keepdim=True))
    return out


def maxsim(qs, ds):
    return [[float((q @ d.T).max(dim=1).values.sum()) for d in ds] for q in qs]


def scores(W, cfg, ids, queries, markers, skiplist, attend_expansion=False, expand=True, use_skiplist=True):
    """The score matrix [queries][documents]. Mistakes: attend_expansion (the mask tokens attended), expand=False
    (no query expansion), use_skiplist=False (punctuation kept in documents)."""
    qm, dm = markers
    queries = [query_ids(ids[q], qm, expand) for q in queries]
    qseqs = [s for s, _ in queries]
    qatt = [len(s) if attend_expansion else a for s, a in queries]
    dseqs = [document_ids(x, dm) for x in ids]
    drop = set(skiplist) if use_skiplist else set()
    qv = vectors(W, cfg, qseqs, qatt, lambda i, j, t: True)
    dv = vectors(W, cfg, dseqs, [len(s) for s in dseqs], lambda i, j, t: t not in drop)
    return maxsim(qv, dv), qseqs, qatt, dseqs


# Per fixture: the make_fixtures.py / make_modernbert.py fixture whose tokenizer and texts it reuses, the texts
# that are queries, and how the encoder's weights are drawn and named.
SOURCES = {
    # bert-tiny: a sentence, "Hi!" (mostly expansion), Cyrillic with quotes, emoji and accents, a long text.
    "bert": (pn.BERT, [0, 9, 3, 10, 11]),
    # modernbert-tiny (Gemma-style BPE, <bos> ... <eos>): a short text and longer ones.
    "modernbert": (os.path.join(mf.OUT, "modernbert-tiny"), [5, 0, 3, 7]),
}


def encoder_weights(cfg, family, seed):
    """The encoder's weights under the names the oracle reads ("bert." / "model." prefixes) and their heads left out."""
    if family == "modernbert":
        return [(n, a) for n, a in mb.make_weights(cfg, seed) if n.startswith("model.")]
    dummy = {"dense": "lm.dense", "ln": "lm.ln", "bias": "lm.bias"}
    return [(n, a) for n, a in mf.make_weights(cfg, "bert.", seed, mf.BERT_STD, dummy) if not n.startswith("lm.")]


def run(name, layout, family, seed):
    source, queries = SOURCES[family]
    texts, ids, _ = pn.source_texts(source)
    src_cfg = pn.read_json(os.path.join(source, "config.json"))
    folder = pn.new_folder(name, src_cfg, source)
    vocab = pn.read_json(os.path.join(folder, "tokenizer.json"))["model"]["vocab"]
    if layout == "stanford":
        markers = tokenizer_with(folder, ["[unused0]", "[unused1]"])
        # stanford's skiplist: each punctuation character's first id, encoded alone (bert-tiny: one token each).
        skiplist = sorted({vocab[c] for c in string.punctuation})
    else:
        markers = tokenizer_with(folder, ["[Q] ", "[D] "])
        skip_words = list(string.punctuation)
        unk = vocab.get("[UNK]", vocab.get("<unk>"))
        skiplist = sorted({vocab.get(w, unk) for w in skip_words})  # convert_tokens_to_ids: the unknown token where absent
    cfg = {**src_cfg, "vocab_size": max(markers) + 1}
    if layout == "stanford":
        cfg["architectures"] = ["HF_ColBERT"]
    if family == "modernbert":
        # Local windows that reach every expansion token (half 32): GTE-ModernColBERT's 128 against 32-token queries.
        cfg.update(architectures=["ModernBertModel"], local_attention=64)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    enc = encoder_weights(cfg, family, seed)
    prefix = "model." if family == "modernbert" else "bert."
    rs = np.random.RandomState(seed + 1)
    linear = rs.standard_normal((DIM, cfg["hidden_size"])) * 0.3
    if layout == "stanford":
        W = pn.store_weights(folder, enc + [("linear.weight", linear)], np.float32)
        mf.write_json(
            os.path.join(folder, "artifact.metadata"),
            {
                "query_token_id": "[unused0]",
                "doc_token_id": "[unused1]",
                "query_token": "[Q]",
                "doc_token": "[D]",
                "query_maxlen": QUERY_LENGTH,
                "doc_maxlen": DOCUMENT_LENGTH,
                "attend_to_mask_tokens": False,
                "mask_punctuation": True,
                "dim": DIM,
                "similarity": "cosine",
                "interaction": "colbert",
            },
        )
    else:
        # sentence-transformers' Transformer module saves the base model: no prefix.
        W = pn.store_weights(folder, [(n[len(prefix):], a) for n, a in enc], np.float32)
        W = {(prefix + n): t for n, t in W.items()}
        os.makedirs(os.path.join(folder, "1_Dense"))
        dense = os.path.join(folder, "1_Dense", "model.safetensors")
        mf.write_safetensors(dense, [("linear.weight", linear.astype(np.float32))], {"format": "pt"})
        W["linear.weight"] = torch.from_numpy(mf.read_safetensors(dense)["linear.weight"].astype(np.float64))
        mf.write_json(
            os.path.join(folder, "1_Dense", "config.json"),
            {"in_features": cfg["hidden_size"], "out_features": DIM, "bias": False, "activation_function": "torch.nn.modules.linear.Identity", "use_residual": False},
        )
        mf.write_json(
            os.path.join(folder, "modules.json"),
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
            ],
        )
        mf.write_json(os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": DOCUMENT_LENGTH - 1, "do_lower_case": False})
        mf.write_json(
            os.path.join(folder, "config_sentence_transformers.json"),
            {
                "__version__": {"sentence_transformers": "4.0.2", "pylate": "1.2.0"},
                "prompts": {},
                "default_prompt_name": None,
                "similarity_fn_name": "MaxSim",
                "query_prefix": "[Q] ",
                "document_prefix": "[D] ",
                "query_length": QUERY_LENGTH,
                "document_length": DOCUMENT_LENGTH,
                "attend_to_expansion_tokens": False,
                "skiplist_words": skip_words,
                "do_query_expansion": True,
            },
        )
    with torch.no_grad():
        got, qseqs, qatt, dseqs = scores(W, cfg, ids, queries, markers, skiplist)
        # Each text alone gives the batch's vectors: the padding of the batch changes nothing.
        for qi in range(len(queries)):
            alone = vectors(W, cfg, [qseqs[qi]], [qatt[qi]], lambda i, j, t: True)
            batch = vectors(W, cfg, qseqs, qatt, lambda i, j, t: True)[qi]
            assert (alone[0] - batch).abs().max().item() < 1e-9, (name, "query alone", qi)
        flat = np.array(got)
        spread = float(flat.std())
        assert spread > 0.3, (name, "score spread", spread)
        moved = {}
        for label, kw in {
            "expansion tokens attended": dict(attend_expansion=True),
            "no query expansion": dict(expand=False),
            "punctuation kept": dict(use_skiplist=False),
        }.items():
            other = np.array(scores(W, cfg, ids, queries, markers, skiplist, **kw)[0])
            moved[label] = float(np.abs(other - flat).max())
            assert moved[label] > 0.05, (name, label, moved[label])
        q8 = {n: (t if n == "linear.weight" else q) for (n, t), q in zip(W.items(), pn.q8_rows(W).values())}
        q8_moved = float(np.abs(np.array(scores(q8, cfg, ids, queries, markers, skiplist)[0]) - flat).max())
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {
            "model": name,
            "queries": [texts[q] for q in queries],
            "documents": texts,
            "query_ids": qseqs,
            "query_attended": qatt,
            "document_ids": dseqs,
            "skiplist": skiplist,
            "markers": markers,
            "scores": got,
            "q8_moved": q8_moved,
            "note": (
                "scores[i][j]: MaxSim of query i against document j (sum over the query's token vectors of the largest "
                "dot product with the document's), the vectors projected and L2-normalised; query_ids with expansion "
                "(mask tokens past query_attended are not attended but kept), document_ids with the skiplist's tokens "
                "left out of the document's vectors. Computed in float64 from the stored weights."
            ),
        },
    )
    figures = ", ".join(f"{k} {v:.3f}" for k, v in moved.items())
    truncated = sum(len(ids[q]) - 2 > QUERY_LENGTH - 3 for q in queries), sum(len(x) - 2 > DOCUMENT_LENGTH - 3 for x in ids)
    print(f"{name}: {len(queries)} x {len(ids)} scores, spread {spread:.3f}; cut queries / documents {truncated}; "
          f"max |score change| {figures}; q8 weights {q8_moved:.3f}")


def main():
    run("colbert-stanford-tiny", "stanford", "bert", 2468)
    run("colbert-pylate-tiny", "pylate", "bert", 1357)
    run("colbert-modernbert-tiny", "pylate", "modernbert", 9753)


if __name__ == "__main__":
    main()
