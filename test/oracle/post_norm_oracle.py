"""What the oracles of the post-norm encoders share: make_gte.py (GTE "new"), make_nomic.py (NomicBERT),
make_jina.py (JinaBERT v2), make_mpnet.py and make_distilbert.py; make_onnx.py takes padded_batch and read_json.
Not a script: they import it as they import make_fixtures.

Each of those models is a BERT-like stack of post-norm layers, h = LN(x + attn(x)), x' = LN(h + mlp(h)), on word
embeddings plus token-type-0 rows (the gated ones, with RoPE or ALiBi and no position table) or position rows
(MPNet, DistilBERT). Here: the float64 building blocks of route 1 (the hand-written forward, LayerNorm and GELU
taken from make_fixtures), those of route 2 (torch.nn.functional), the random weights, the checks every fixture
makes (padded batch vs each text alone, route 2 vs route 1, deliberate mistakes, q8 rounding), the files every
fixture folder carries, and run_fixture, which makes those checks and files and prints the summary line for all
but make_gte.py (whose mistakes are judged on the CLS vector alone). The architecture itself (which tensors, in
which order, the mistakes a runtime could make, the configs) stays in each script.
"""

import json
import math
import os
import shutil

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import numpy as np
import torch
import torch.nn.functional as F

BERT = os.path.join(mf.OUT, "bert-tiny")
XLMR = os.path.join(mf.OUT, "xlmr-tiny")

# --------------------------------------------------------------------------------------------------
# Random weights
# --------------------------------------------------------------------------------------------------


class RandomWeights:
    """(name, float64 array) in the order they are drawn from one RandomState, so that a fixture's weights are
    fixed by its seed and the order of the calls: LayerNorm weights 1 + 0.1*N(0,1), LayerNorm biases
    ln_bias + 0.1*N(0,1), linear biases 0.1*N(0,1), everything else N(0,1) times its standard deviation."""

    def __init__(self, seed, hidden, ln_bias=0.0):
        self.rs, self.hidden, self.ln_bias, self.w = np.random.RandomState(seed), hidden, ln_bias, []

    def normal(self, name, shape, std):
        self.w.append((name, self.rs.standard_normal(shape) * std))

    def ln(self, name):
        self.w.append((name + ".weight", 1.0 + 0.1 * self.rs.standard_normal((self.hidden,))))
        self.w.append((name + ".bias", self.ln_bias + 0.1 * self.rs.standard_normal((self.hidden,))))

    def lin(self, name, o, i, std, bias=True):
        self.normal(name + ".weight", (o, i), std)
        if bias:
            self.normal(name + ".bias", (o,), 0.1)

    def embeddings(self, prefix, vocab, types, std, ln_name):
        """word and token-type tables (std["emb"], std["type"]), then the embedding LayerNorm."""
        self.normal(prefix + "embeddings.word_embeddings.weight", (vocab, self.hidden), std["emb"])
        self.normal(prefix + "embeddings.token_type_embeddings.weight", (types, self.hidden), std["type"])
        self.ln(ln_name)

    def packed_qkv(self, name, std, bias=True):
        """One [3H, H] projection, rows q, k, v: query/key at std["qk"], value at std["v"]."""
        H = self.hidden
        qkv = self.rs.standard_normal((3 * H, H))
        qkv[: 2 * H] *= std["qk"]
        qkv[2 * H :] *= std["v"]
        self.w.append((name + ".weight", qkv))
        if bias:
            self.normal(name + ".bias", (3 * H,), 0.1)


def store_weights(folder, weights, dtype):
    """Writes model.safetensors in dtype and returns what it holds as float64 tensors: the oracle computes
    from exactly the stored (for F16, rounded) values."""
    path = os.path.join(folder, "model.safetensors")
    mf.write_safetensors(path, [(n, a.astype(dtype)) for n, a in weights], {"format": "pt"})
    return {n: torch.from_numpy(a.astype(np.float64)) for n, a in mf.read_safetensors(path).items()}


def q8_rows(W):
    """Weights rounded as the runtime's q8 stores them: int8 per output row, scale absmax / 127; a mixture of
    experts' router stays as it is (m3web keeps it in f32, so that rounding never changes a token's experts)."""
    out = {}
    for n, a in W.items():
        s = a.abs().max(-1, keepdim=True).values / 127 if a.dim() == 2 and ".router." not in n else None
        out[n] = torch.round(a / s) * s if s is not None else a
    return out


# --------------------------------------------------------------------------------------------------
# Route 1: hand-written float64 blocks
# --------------------------------------------------------------------------------------------------


def layer_norm(x, W, name, eps):
    return mf.layer_norm(x, W[name + ".weight"], W[name + ".bias"], eps)


def linear(W, t, name):
    """t W^T, plus the bias where the checkpoint has one."""
    y = t @ W[name + ".weight"].T
    return y + W[name + ".bias"] if name + ".bias" in W else y


def embeddings(W, ids, prefix, ln_name, eps, no_type=False):
    """word_embeddings[ids] + token_type_embeddings[0] (token types all zero, no position table), then the
    LayerNorm ln_name. no_type: the deliberate mistake of dropping the token-type row."""
    x = W[prefix + "embeddings.word_embeddings.weight"][ids]
    if not no_type:
        x = x + W[prefix + "embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    return layer_norm(x, W, ln_name, eps)


def rotate_half(x, interleaved=False):
    if not interleaved:
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)
    x1, x2 = x[..., ::2], x[..., 1::2]  # GPT-J pairs (x_2j, x_2j+1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def rope_cos_sin(inv_freq, S, interleaved=False):
    """cos and sin of pos * inv_freq_j for positions 0..S-1 (each right-padded row starts at 0), [1, S, 1, d]:
    each angle twice, d/2 apart (rotate_half's pairs) or side by side (interleaved)."""
    freqs = torch.arange(S, dtype=torch.float64)[:, None] * inv_freq[None, :]  # [S, d/2]
    rep = freqs.repeat_interleave(2, dim=-1) if interleaved else torch.cat((freqs, freqs), dim=-1)
    return rep.cos()[None, :, None, :], rep.sin()[None, :, None, :]


def apply_rope(t, cos, sin, interleaved=False):
    """t [B, S, nh, d]."""
    return t * cos + rotate_half(t, interleaved) * sin


def attention(q, k, v, mask, bias=None):
    """softmax(q k^T / sqrt(d) + bias + padding mask) v for q, k, v [B, S, nh, d]: bidirectional, padding keys
    masked, bias [nh, S, S] (ALiBi) added to every row. Returns the heads side by side, [B, S, nh * d]."""
    B, S, nh, d = q.shape
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, nh, S, d]
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    if bias is not None:
        scores = scores + bias[None]
    add_mask = (1.0 - mask.to(scores.dtype))[:, None, None, :] * torch.finfo(scores.dtype).min
    probs = torch.softmax(scores + add_mask, dim=-1)
    return (probs @ v).permute(0, 2, 1, 3).reshape(B, S, nh * d)


# --------------------------------------------------------------------------------------------------
# Route 2: torch.nn.functional blocks, complex-number RoPE
# --------------------------------------------------------------------------------------------------


def layer_norm_functional(t, W, name, eps):
    return F.layer_norm(t, (t.shape[-1],), W[name + ".weight"], W[name + ".bias"], eps)


def embeddings_functional(W, ids, prefix, ln_name, eps):
    x = F.embedding(ids, W[prefix + "embeddings.word_embeddings.weight"])
    x = x + F.embedding(torch.zeros_like(ids), W[prefix + "embeddings.token_type_embeddings.weight"])
    return layer_norm_functional(x, W, ln_name, eps)


def rope_rotation(inv_freq, S):
    """e^{i angle} with angle = pos * inv_freq_j (numpy, [d/2]) for positions 0..S-1, [1, S, 1, d/2]."""
    ang = torch.from_numpy(np.outer(np.arange(S, dtype=np.float64), inv_freq))
    return torch.polar(torch.ones_like(ang), ang)[None, :, None, :]


def rope_complex(t, rot):
    """t [B, S, nh, d]: the pairs (t_j, t_{j+d/2}) as complex numbers, times rot; returns [B, S, nh * d]."""
    half = t.shape[-1] // 2
    z = torch.complex(t[..., :half], t[..., half:]) * rot
    return torch.cat((z.real, z.imag), dim=-1).flatten(2)


def attention_functional(q, k, v, nh, W, out_name, mask, attn_mask=None):
    """F.multi_head_attention_forward on q, k, v [B, S, H], already projected (identity in-projections, no
    in-bias), with a key padding mask, the float attn_mask [B * nh, S, S] where given, and the out projection
    out_name (its bias zero where the checkpoint has none). Returns [B, S, H]."""
    H = q.shape[-1]
    eye, zeros = torch.eye(H, dtype=torch.float64), torch.zeros(3 * H, dtype=torch.float64)
    out_b = W.get(out_name + ".bias")
    tr = lambda t: t.transpose(0, 1)  # noqa: E731  [S, B, H] for multi_head_attention_forward
    a, _ = F.multi_head_attention_forward(
        tr(q), tr(k), tr(v), H, nh,
        in_proj_weight=None, in_proj_bias=zeros, bias_k=None, bias_v=None, add_zero_attn=False,
        dropout_p=0.0, out_proj_weight=W[out_name + ".weight"],
        out_proj_bias=out_b if out_b is not None else torch.zeros(H, dtype=torch.float64),
        training=False, key_padding_mask=~mask.bool(), need_weights=False, attn_mask=attn_mask,
        use_separate_proj_weight=True, q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye,
    )  # fmt: skip
    return tr(a)


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------


def padded_batch(ids, pad_id):
    """One right-padded batch: input ids [B, S] (pad_id after each text) and the 0/1 attention mask."""
    B, S = len(ids), max(len(x) for x in ids)
    inp = torch.full((B, S), pad_id, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return inp, mask


def batch_states(name, ids, pad_id, forward, forward_functional, *args):
    """hidden_states of the padded batch by route 1, forward(*args, ids, mask). Asserts that each text run alone
    equals its rows of the batch, and that route 2, forward_functional(*args, ids, mask), agrees on the real
    tokens. Returns the states, the batch (ids, mask) and route 2's largest difference."""
    inp, mask = padded_batch(ids, pad_id)
    states = forward(*args, inp, mask)
    for i, x in enumerate(ids):
        alone = forward(*args, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long))
        for l in range(len(states)):
            diff = (alone[l][0] - states[l][i, : len(x)]).abs().max().item()
            assert diff < 1e-9, (name, "alone", i, l, diff)
    other = forward_functional(*args, inp, mask)
    route = max(
        (other[l][i, : len(x)] - states[l][i, : len(x)]).abs().max().item()
        for l in range(len(states))
        for i, x in enumerate(ids)
    )
    assert route < 1e-9, (name, "route 2", route)
    return states, inp, mask, route


def mean_pool(t, lengths):
    return torch.stack([t[i, :n].mean(0) for i, n in enumerate(lengths)])


def min_cosine(u, w):
    return (u * w).sum(-1).div(u.norm(dim=-1) * w.norm(dim=-1)).min().item()


def cosines(other, last, lengths):
    """How far other (last-layer states of the batch) is from last: the min cosines of the means and of the CLS
    vectors."""
    return min_cosine(mean_pool(other, lengths), mean_pool(last, lengths)), min_cosine(other[:, 0], last[:, 0])


def check_mistakes(name, mistakes, run_last, last, lengths):
    """Each deliberate mistake (label -> keyword arguments of run_last, which returns the last layer's states)
    must move both the last layer's mean and its CLS vector below cosine 0.999. Returns label -> (mean, CLS)."""
    figures = {}
    for label, kw in mistakes.items():
        figures[label] = cosines(run_last(**kw), last, lengths)
        assert max(figures[label]) < 0.999, (name, label, figures[label])
    return figures


def check_q8(name, last_q8, last, lengths):
    """How far per-row q8 rounding of the weights alone (last_q8, computed in float64) moves the last CLS: the
    weight scales are chosen so that it stays >= 0.999, leaving the runtime room under a q8 bound such as
    0.998. Returns the CLS and mean cosines."""
    cos_mean, cos_cls = cosines(last_q8, last, lengths)
    assert cos_cls >= 0.999, (name, "q8", cos_cls)
    return cos_cls, cos_mean


def mean_token_cosine(last, lengths):
    """Conditioning: the mean pairwise cosine of the real tokens' states, which stay distinct while it is low."""
    toks = torch.cat([last[i, :n] for i, n in enumerate(lengths)])
    unit = toks / toks.norm(dim=-1, keepdim=True)
    return ((unit @ unit.T).sum() - len(unit)).item() / (len(unit) * (len(unit) - 1))


# --------------------------------------------------------------------------------------------------
# Fixture files
# --------------------------------------------------------------------------------------------------


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def source_texts(folder):
    """The texts and verified ids of the make_fixtures.py fixture whose tokenizer files a new one reuses, and
    the size of that tokenizer's vocabulary."""
    src = read_json(os.path.join(folder, "expected.json"))
    return src["texts"], src["ids"], len(read_json(os.path.join(folder, "tokenizer.json"))["model"]["vocab"])


def bert_texts():
    """source_texts(BERT), its ids checked to be framed [CLS]=2 ... [SEP]=3: the inputs of every fixture that
    reuses bert-tiny's tokenizer."""
    texts, ids, vocab_size = source_texts(BERT)
    assert all(x[0] == 2 and x[-1] == 3 for x in ids)  # [CLS] ... [SEP]
    return texts, ids, vocab_size


def new_folder(name, cfg, tokenizer_from):
    """fixtures/<name>/, emptied, with config.json and the tokenizer files of the fixture tokenizer_from
    (whose verified texts and ids the new one reuses)."""
    folder = os.path.join(mf.OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(tokenizer_from, f), os.path.join(folder, f))
    return folder


def write_st_files(folder, hidden, pooling, max_seq_length, all_pooling_keys=True, prompts=None, versions=None):
    """The sentence-transformers files: modules.json (Transformer, Pooling, Normalize), 1_Pooling/config.json
    (pooling "cls" or "mean"; all_pooling_keys false: only the four modes that jina-embeddings-v2's file
    lists), an empty 2_Normalize, sentence_bert_config.json and, where prompts are given,
    config_sentence_transformers.json (versions: the library versions it records)."""
    mf.write_json(
        os.path.join(folder, "modules.json"),
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    config = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    if all_pooling_keys:
        config.update(pooling_mode_weightedmean_tokens=False, pooling_mode_lasttoken=False, include_prompt=True)
    os.makedirs(os.path.join(folder, "1_Pooling"))
    mf.write_json(os.path.join(folder, "1_Pooling", "config.json"), config)
    os.makedirs(os.path.join(folder, "2_Normalize"))  # empty, as sentence-transformers saves it
    mf.write_json(
        os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": max_seq_length, "do_lower_case": False}
    )
    if prompts is not None:
        mf.write_json(
            os.path.join(folder, "config_sentence_transformers.json"),
            {
                "model_type": "SentenceTransformer",
                "__version__": versions,
                "prompts": prompts,
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
        )


def write_expected(folder, name, texts, ids, states, note, extra_json=None, extra_tensors=None):
    """expected.safetensors (F32): for each text i, hidden.{i}.{l} ([len_i, hidden], real tokens only) for
    every entry of states, mean.{i}.{l} / cls.{i}.{l} for l >= 1, then extra_tensors(i) where given.
    expected.json: model, texts, ids, layers, hidden, extra_json's fields, and note followed by how the
    numbers were computed."""
    L, H = len(states) - 1, states[0].shape[-1]
    out = []
    for i, x in enumerate(ids):
        for l in range(L + 1):
            h = states[l][i, : len(x)]
            out.append((f"hidden.{i}.{l}", h.numpy().astype(np.float32)))
            if l == 0:
                continue
            out.append((f"mean.{i}.{l}", h.mean(0).numpy().astype(np.float32)))
            out.append((f"cls.{i}.{l}", h[0].numpy().astype(np.float32)))
        if extra_tensors is not None:
            out.extend(extra_tensors(i))
    mf.write_safetensors(os.path.join(folder, "expected.safetensors"), out)
    note += (
        "Computed in float64 from the stored weights (one right-padded batch, checked against each text alone "
        "and a second attention route), stored as F32."
    )
    mf.write_json(
        os.path.join(folder, "expected.json"),
        {"model": name, "texts": texts, "ids": ids, "layers": L, "hidden": H, **(extra_json or {}), "note": note},
    )


# --------------------------------------------------------------------------------------------------
# One fixture: the checks, the expected files and the summary line
# --------------------------------------------------------------------------------------------------


def run_fixture(name, folder, texts, ids, pad_id, forward, forward_functional, W, *args, mistakes, head, note,
                extra_checks=None, extra_json=None):
    """What every fixture of make_nomic.py, make_jina.py, make_mpnet.py and make_distilbert.py does once folder
    holds its config, tokenizer files and model.safetensors (W, as store_weights returned it). Route 1 is
    forward(W, *args, ids, mask, **mistake), route 2 forward_functional(W, *args, ids, mask). On one batch
    right-padded with pad_id: batch_states (each text alone, route 2), check_mistakes (mistakes: label ->
    forward's keyword arguments), check_q8 and mean_token_cosine on the last layer. extra_checks(last, run_last,
    lengths), where given, makes the script's own checks and returns a summary fragment (ending in "; ", placed
    after the mistakes) and write_expected's extra_tensors (or None). Then write_expected (note, extra_json) and
    the summary line: "<name>: <head>, <n> texts, lengths [...]; ..." and the figures."""
    lengths = [len(x) for x in ids]
    with torch.no_grad():
        states, inp, mask, route = batch_states(name, ids, pad_id, forward, forward_functional, W, *args)
        last = states[-1]
        run_last = lambda **kw: forward(W, *args, inp, mask, **kw)[-1]  # noqa: E731
        figures = check_mistakes(name, mistakes, run_last, last, lengths)
        cos_q8, cos_q8_mean = check_q8(name, forward(q8_rows(W), *args, inp, mask)[-1], last, lengths)
        pair = mean_token_cosine(last, lengths)
        extra, extra_tensors = extra_checks(last, run_last, lengths) if extra_checks else ("", None)
    write_expected(folder, name, texts, ids, states, note, extra_json, extra_tensors)
    moved = ", ".join(f"{k} {a:.4f}/{c:.4f}" for k, (a, c) in figures.items())
    print(
        f"{name}: {head}, {len(texts)} texts, lengths {lengths}; min cosine (last layer, mean/CLS) vs {moved}; "
        f"{extra}route 2 max diff {route:.1e}; q8 weights CLS {cos_q8:.5f} mean {cos_q8_mean:.5f}; "
        f"mean token cosine {pair:.2f}"
    )
