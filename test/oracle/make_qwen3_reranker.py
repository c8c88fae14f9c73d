#!/usr/bin/env python3
"""Independent PyTorch oracle for m3web's Qwen3-Reranker (a decoder cross-encoder).

Writes, see README.md next to this file:
  - fixtures/ce-qwen3-tiny/: shaped like Qwen3-Reranker-0.6B converted to a sequence classifier (the form
    sentence-transformers' CrossEncoder and vLLM load: Qwen3ForSequenceClassification, num_labels 1, the
    encoder under `model.`, `score.weight` [1, hidden] = the LM head's "yes" row minus its "no" row, no bias);
  - fixtures/qwen3-reranker-tiny/: the same weights as the original Qwen3-Reranker repository holds them
    (Qwen3ForCausalLM, tied word embeddings, no score row: the score is the last token's "yes" logit against
    its "no" logit).
Both use qwen3-tiny's config and tokenizer (make_decoder_embedders.py) with Qwen's chat special tokens
<|im_start|>, <|im_end|>, <think>, </think> and the tokens "yes" and "no" added.

Run from the repository root:  /usr/bin/python3 test/oracle/make_qwen3_reranker.py   (~3 s; after
make_decoder_embedders.py, whose float64 Qwen3 forward it reuses)

From Qwen3-Reranker's model card: each pair is the prompt
  prefix = "<|im_start|>system\\nJudge whether the Document meets the requirements based on the Query and the
            Instruct provided. Note that the answer can only be \\"yes\\" or \\"no\\".<|im_end|>\\n<|im_start|>user\\n"
  body   = "<Instruct>: {instruction}\\n<Query>: {query}\\n<Document>: {doc}"
  suffix = "<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n"
tokenized apart (add_special_tokens False) and concatenated; the score is softmax([no, yes] logits of the last
token)[yes] = sigmoid(logit_yes - logit_no), the logits being the final-normed last state against the tied
embedding rows. The tokenization here is the fixture tokenizer's BPE in Python (make_modernbert.GemmaBpe) with
the text split around the special tokens, as Hugging Face tokenizers splits around added tokens.
"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (re-executes under /usr/bin/python3 when torch is missing)

import make_decoder_embedders as de  # noqa: E402
import make_modernbert as mm  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

SOURCE = os.path.join(mf.OUT, "qwen3-tiny")
CHAT = ["<|im_start|>", "<|im_end|>", "<think>", "</think>"]
PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
    'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
OTHER_INSTRUCTION = "Find the sentence that says the same"
# (query text index, document text index, instruction) over modernbert-tiny's texts (qwen3-tiny's source).
PAIRS = [(0, 1, None), (1, 0, None), (0, 0, None), (2, 3, None), (4, 5, None), (3, 2, OTHER_INSTRUCTION), (6, 2, None), (5, 4, OTHER_INSTRUCTION)]


class Tokenizer:
    """The fixture's tokenizer.json in Python: specials split out, each other piece by make_modernbert's BPE."""

    def __init__(self, tok):
        model = tok["model"]
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
        self.bpe = mm.GemmaBpe(model["vocab"], merges)
        self.special = {t["content"]: t["id"] for t in tok["added_tokens"]}

    def encode(self, text):
        ids, rest = [], text
        while rest:
            hits = [(rest.find(s), s) for s in self.special if rest.find(s) >= 0]
            at, s = min(hits) if hits else (len(rest), None)
            if at > 0:
                ids += [self.bpe.vocab[t] for t in self.bpe.tokens(rest[:at], specials=False)]
            if s is None:
                break
            ids.append(self.special[s])
            rest = rest[at + len(s) :]
        return ids


def pair_ids(tok, query, doc, instruction):
    body = f"<Instruct>: {instruction or INSTRUCTION}\n<Query>: {query}\n<Document>: {doc}"
    return tok.encode(PREFIX) + tok.encode(body) + tok.encode(SUFFIX)


def tokenizer_json():
    """qwen3-tiny's tokenizer.json with the chat specials added and "yes" / "no" in the vocabulary."""
    with open(os.path.join(SOURCE, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    n = len(vocab)
    for i, t in enumerate(CHAT):
        tok["added_tokens"].append(
            {"id": n + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        )
        vocab[t] = n + i
    vocab["yes"], vocab["no"] = n + len(CHAT), n + len(CHAT) + 1
    return tok


def write_folder(name, cfg, tok, weights):
    folder = os.path.join(mf.OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    mf.write_json(os.path.join(folder, "tokenizer.json"), tok)
    with open(os.path.join(SOURCE, "tokenizer_config.json"), encoding="utf-8") as f:
        tok_cfg = json.load(f)
    # The prompt alone is ~150 tokens: the limit is the config's 512 positions, not qwen3-tiny's 160.
    mf.write_json(os.path.join(folder, "tokenizer_config.json"), {**tok_cfg, "model_max_length": cfg["max_position_embeddings"]})
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, [(n, a.astype(np.float32)) for n, a in weights], {"format": "pt"})
    return folder, {n: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}


def main():
    tok_json = tokenizer_json()
    tok = Tokenizer(tok_json)
    V = len(tok_json["model"]["vocab"])
    yes, no = tok_json["model"]["vocab"]["yes"], tok_json["model"]["vocab"]["no"]
    with open(os.path.join(mf.OUT, "modernbert-tiny", "expected.json"), encoding="utf-8") as f:
        texts = json.load(f)["texts"]
    base = {**de.qwen3_config(V), "max_position_embeddings": 512}
    weights = [("model." + n, a) for n, a in de.make_weights(base, 2468, False)]
    E = dict(weights)["model.embed_tokens.weight"]
    score = (E[yes] - E[no])[None, :]
    labels = {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    seq_cfg = {**base, "architectures": ["Qwen3ForSequenceClassification"], "num_labels": 1, **labels, "pad_token_id": 0}
    _, W = write_folder("ce-qwen3-tiny", seq_cfg, tok_json, weights + [("score.weight", score)])
    folder_lm, W_lm = write_folder("qwen3-reranker-tiny", base, tok_json, weights)
    assert not any(n.startswith("score") for n in W_lm)

    seqs = [pair_ids(tok, texts[q], texts[d], ins) for q, d, ins in PAIRS]
    assert max(map(len, seqs)) <= base["max_position_embeddings"], max(map(len, seqs))
    bare = {n[len("model.") :]: t for n, t in W.items() if n.startswith("model.")}
    inp, mask = de.batch(seqs, 0)
    last_at = mask.sum(1) - 1
    rows = torch.arange(len(seqs))
    with torch.no_grad():
        states = de.forward(bare, base, inp, mask, False)
        last = states[-1][rows, last_at]
        logits = last @ W["score.weight"][0]
        # The original checkpoint's route: the LM head (tied embeddings) over the last state, softmax over [no, yes].
        lm = last @ W_lm["model.embed_tokens.weight"].T
        p_yes = torch.softmax(torch.stack([lm[:, no], lm[:, yes]], dim=1), dim=1)[:, 1]
        # The stored score row is E[yes] - E[no] rounded to float32 once more.
        assert (p_yes - torch.sigmoid(logits)).abs().max().item() < 1e-5
        for i, s in enumerate(seqs):
            alone = de.forward(bare, base, torch.tensor([s]), torch.ones((1, len(s)), dtype=torch.long), False)[-1][0, -1]
            assert abs((alone @ W["score.weight"][0]).item() - logits[i].item()) < 1e-9, ("alone", i)
        left_inp, left_mask = de.batch(seqs, 0, left=True)
        left = de.forward(bare, base, left_inp, left_mask, False)[-1][:, -1] @ W["score.weight"][0]
        assert (left - logits).abs().max().item() < 1e-9, "left padding"
        mistakes = {
            "first token instead of the last": states[-1][:, 0] @ W["score.weight"][0],
            "no final norm": de.forward(bare, base, inp, mask, False)[-2][rows, last_at] @ W["score.weight"][0],
        }
        moved = {k: (v - logits).abs().max().item() for k, v in mistakes.items()}
        for k, v in moved.items():
            assert v > 0.1, (k, v)
        q8 = de.forward(mf_q8(bare), base, inp, mask, False)[-1][rows, last_at] @ W["score.weight"][0]
        q8_moved = (q8 - logits).abs().max().item()
    spread = logits.std().item()
    assert spread > 0.3, spread
    expected = {
        "model": "ce-qwen3-tiny",
        "pairs": [[texts[q], texts[d]] for q, d, _ in PAIRS],
        "instructions": [ins for _, _, ins in PAIRS],
        "ids": seqs,
        "logits": [float(v) for v in logits],
        "scores": [float(v) for v in torch.sigmoid(logits)],
        "note": (
            "ids: Qwen3-Reranker's prompt (prefix, <Instruct>/<Query>/<Document> body, suffix, each tokenized apart) "
            "for each pair, the instruction null where the default one applies; logits: the score row over the last "
            "token's final-normed state (= its yes logit minus its no logit under the tied LM head); scores: sigmoid "
            "(= softmax over [no, yes], what the model card's compute_logits returns). Float64 from the stored weights."
        ),
    }
    for name in ("ce-qwen3-tiny", "qwen3-reranker-tiny"):
        mf.write_json(os.path.join(mf.OUT, name, "expected.json"), {**expected, "model": name})
    figures = ", ".join(f"{k} {v:.3f}" for k, v in moved.items())
    print(
        f"ce-qwen3-tiny / {os.path.basename(folder_lm)}: {len(seqs)} pairs, lengths {[len(s) for s in seqs]}; "
        f"logit spread {spread:.3f}; max |logit change| {figures}; q8 weights {q8_moved:.3f}"
    )


def mf_q8(W):
    """Per-row q8 rounding of the layers' matrices (the runtime keeps the score row in f32)."""
    out = {}
    for n, t in W.items():
        if t.dim() == 2 and n != "embed_tokens.weight":
            s = t.abs().max(-1, keepdim=True).values / 127
            out[n] = torch.round(t / s) * s
        else:
            out[n] = t
    return out


if __name__ == "__main__":
    main()
