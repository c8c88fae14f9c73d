"""What make_gguf_qwen3.py (gguf-qwen3) and make_gguf_gemma.py (gguf-gemma) share: both write a decoder embedder as
llama.cpp's converter writes it, with make_decoder_embedders.forward as the oracle. Here: Hugging Face's tokenizers
run from Node, the BPE merge loop, the folder's Hugging Face files, the decoder tensors' GGUF names, the KV list's
frame, the float64 oracle and its checks, one GGUF file written and checked, the deliberate mistakes' cosines and
expected.json.

Not run by itself; the writer, quantizers and dequantizers are make_gguf.py's.
"""

import json
import os
import subprocess
import tempfile

import make_fixtures as mf  # re-executes under /usr/bin/python3 when torch is missing
import make_decoder_embedders as mde
import make_gguf as mg
import numpy as np
import torch

RUST_TOKENIZERS = os.environ.get("HF_TOKENIZERS_NODE", "/tmp/hftok/node_modules/tokenizers")
HF_JS = os.path.join(mf.REPO, "node_modules", "@huggingface", "tokenizers", "dist", "tokenizers.mjs")

# --------------------------------------------------------------------------------------------------
# Hugging Face's own libraries, run from Node: the JS @huggingface/tokenizers and, where installed, the Rust
# tokenizers through its Node binding
# --------------------------------------------------------------------------------------------------

NODE_SCRIPT = r"""
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
const req = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const { Tokenizer } = await import(pathToFileURL(req.hf_js).href);
let Rust = null;
if (req.rust && fs.existsSync(req.rust)) Rust = createRequire(import.meta.url)(req.rust).Tokenizer;
const out = { js: [], rust: Rust ? [] : null };
for (const job of req.jobs) {
  const tj = JSON.parse(fs.readFileSync(job.tokenizer, 'utf8'));
  const tc = job.config ? JSON.parse(fs.readFileSync(job.config, 'utf8')) : {};
  const js = new Tokenizer(tj, tc);
  out.js.push(job.texts.map((t) => js.encode(t).ids));
  if (Rust) {
    const rust = Rust.fromFile(job.tokenizer);
    const ids = [];
    for (const t of job.texts) ids.push(Array.from((await rust.encode(t)).getIds()));
    out.rust.push(ids);
  }
}
process.stdout.write(JSON.stringify(out));
"""


def hf_encode(jobs):
    """jobs: [(tokenizer.json path, tokenizer_config.json path or None, texts)] -> (JS ids per job, Rust ids per job or
    None where the binding is not installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        req = os.path.join(tmp, "req.json")
        with open(req, "w", encoding="utf-8") as f:
            json.dump({"hf_js": HF_JS, "rust": RUST_TOKENIZERS,
                       "jobs": [{"tokenizer": t, "config": c, "texts": x} for t, c, x in jobs]}, f)
        res = subprocess.run(["node", "--input-type=module", "-e", NODE_SCRIPT, req], capture_output=True,
                             check=True, cwd=mf.REPO)
    out = json.loads(res.stdout)
    return out["js"], out["rust"]


# --------------------------------------------------------------------------------------------------
# The merge loop of this project's tokenizers (make_gguf_qwen3.ByteLevelBPE, make_gguf_gemma.LlamaSpm)
# --------------------------------------------------------------------------------------------------


def merge_pairs(text, rank):
    """The BPE merge loop of both tokenizers (Hugging Face's BPE by merge rank, llama.cpp's SPM by the merged piece's
    score, negated): the characters of text, then while some adjacent pair (a, b) has a rank(a, b) (None: it does not
    merge), the pair of the lowest rank, the leftmost on ties, merged into one. Returns the pieces."""
    parts = list(text)
    while len(parts) > 1:
        best = None
        for k in range(len(parts) - 1):
            r = rank(parts[k], parts[k + 1])
            if r is not None and (best is None or r < best[0]):
                best = (r, k)
        if best is None:
            break
        k = best[1]
        parts[k : k + 2] = [parts[k] + parts[k + 1]]
    return parts


# --------------------------------------------------------------------------------------------------
# The folder's Hugging Face files; the converter's vocabulary, names and KVs
# --------------------------------------------------------------------------------------------------


def write_hf_files(folder, tok, tok_cfg, cfg, readme):
    """tokenizer.json, tokenizer_config.json, config.json and README.md. Returns the two tokenizer files' paths."""
    tok_path, cfg_path = os.path.join(folder, "tokenizer.json"), os.path.join(folder, "tokenizer_config.json")
    mf.write_json(tok_path, tok)
    mf.write_json(cfg_path, tok_cfg)
    mf.write_json(os.path.join(folder, "config.json"), cfg)
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(readme)
    return tok_path, cfg_path


def looks_special(t):  # TextModel.does_token_look_special
    return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
            or (t.startswith("<\uff5c") and t.endswith("\uff5c>")) or (t.startswith("<unused") and t.endswith(">")))


def config_add_flags(add, tok_cfg, types):
    """SpecialVocab: tokenizer_config.json's add_<type>_token booleans set (or override) add[type], in types' order."""
    for t in types:
        if isinstance(tok_cfg.get(f"add_{t}_token"), bool):
            add[t] = tok_cfg[f"add_{t}_token"]
    return add


# gguf-py tensor_mapping.py: a decoder checkpoint without the "model." prefix (the converter maps "embed_tokens" as
# "model.embed_tokens"); the attention and MLP modules every architecture here shares, its norms its own
FIXED = {"embed_tokens": "token_embd", "norm": "output_norm"}
ATTENTION = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
}
MLP = {"mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def gguf_name(hf, norms):
    """HF -> GGUF tensor name; norms: the layer norms' names besides input_layernorm."""
    return mg.mapped_name(hf, FIXED, {**ATTENTION, **norms, **MLP}, "layers")


def metadata(arch, name, cfg, n_params, file_type, vkv, rope=(), after_file_type=()):
    """KV list in the converter's order: mg.kv_head (GGUFWriter, prepare_metadata, TextModel.set_gguf_parameters'
    first five), then set_gguf_parameters' head_count_kv, rope.freq_base (rope_theta), rope (more rope KVs),
    layer_norm_rms_epsilon, key_length / value_length (head_dim) and file_type; after_file_type (what the
    architecture's own set_gguf_parameters and _try_set_pooling_type add), quantization_version, then the
    vocabulary's vkv."""
    a = arch
    return [
        *mg.kv_head(a, name, n_params, cfg["num_hidden_layers"], cfg["max_position_embeddings"], cfg["hidden_size"],
                    cfg["intermediate_size"], cfg["num_attention_heads"]),
        (f"{a}.attention.head_count_kv", mg.UINT32, cfg["num_key_value_heads"]),
        (f"{a}.rope.freq_base", mg.FLOAT32, float(cfg["rope_theta"])),
        *rope,
        (f"{a}.attention.layer_norm_rms_epsilon", mg.FLOAT32, cfg["rms_norm_eps"]),
        (f"{a}.attention.key_length", mg.UINT32, cfg["head_dim"]),
        (f"{a}.attention.value_length", mg.UINT32, cfg["head_dim"]),
        ("general.file_type", mg.UINT32, file_type),
        *after_file_type,
        ("general.quantization_version", mg.UINT32, mg.GGML_QUANT_VERSION),
        *vkv,
    ]


def write_file(folder, fname, kind, ftype, tensors, kvs, cfg, tokens):
    """mg.write_file, and what every decoder file holds: its tokens, no output.weight (tied embeddings), attn_q of
    [heads * head_dim, hidden]. Returns mg.write_file's tuple."""
    out = mg.write_file(folder, fname, kind, ftype, tensors, kvs)
    kv, stored = out[2], out[3]
    assert "output.weight" not in stored and kv["tokenizer.ggml.tokens"] == tokens
    assert stored["blk.0.attn_q.weight"][1] == (cfg["num_attention_heads"] * cfg["head_dim"], cfg["hidden_size"])
    return out


# --------------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------------


def weights64(W):
    return {n: torch.from_numpy(np.asarray(a, np.float64)) for n, a in W.items()}


def run_oracle(W, cfg, ids, pad, gemma, mistake=None, check=True, left_pool=None):
    """float64 hidden states [embeddings, layer 1..L (the last after the final norm)] of one right-padded batch (pad:
    the padding id) by make_decoder_embedders.forward (gemma: its Gemma semantics, else Qwen3's), checked against
    each text alone and, with left_pool, a left-padded batch pooled that way. mistake: forward's (a mutant; no
    checks then). Returns (states, mask)."""
    Wt = weights64(W)
    inp, mask = mde.batch(ids, pad)
    with torch.no_grad():
        states = mde.forward(Wt, cfg, inp, mask, gemma, mistake)
        if mistake is not None or not check:
            return states, mask
        for i, x in enumerate(ids):
            alone = mde.forward(Wt, cfg, torch.tensor([x]), torch.ones((1, len(x)), dtype=torch.long), gemma)
            d = max((alone[l][0] - states[l][i, : len(x)]).abs().max().item() for l in range(len(states)))
            assert d < 1e-9, ("alone", i, d)
        if left_pool is not None:
            linp, lmask = mde.batch(ids, pad, left=True)
            left = mde.pool(mde.forward(Wt, cfg, linp, lmask, gemma)[-1], lmask, left_pool)
            d = (left - mde.pool(states[-1], mask, left_pool)).abs().max().item()
            assert d < 1e-9, ("left padding", d)
    return states, mask


def pooled(states, mask, mode):
    """The last layer pooled per text (mde.pool: "last" or "mean"), float64 numpy vectors."""
    return [v.numpy() for v in mde.pool(states[-1], mask, mode)]


def last_pooled(states, mask):
    """The last token's state of the last layer per text, rounded to 7 significant digits."""
    return [mg.r7(v) for v in pooled(states, mask, "last")]


def gate_up_swapped(W, layers):
    """W with each layer's mlp.gate_proj and mlp.up_proj exchanged (a reader mixing up ffn_gate and ffn_up)."""
    out = dict(W)
    for l in range(layers):
        out[f"layers.{l}.mlp.gate_proj.weight"] = W[f"layers.{l}.mlp.up_proj.weight"]
        out[f"layers.{l}.mlp.up_proj.weight"] = W[f"layers.{l}.mlp.gate_proj.weight"]
    return out


def naive_check(W, cfg, ids, gemma):
    """The shortest text once more through make_decoder_embedders' explicit-loop attention (naive=True). Returns its
    length."""
    x = min(ids, key=len)
    Wt = weights64(W)
    one = torch.ones((1, len(x)), dtype=torch.long)
    with torch.no_grad():
        a = mde.forward(Wt, cfg, torch.tensor([x]), one, gemma)[-1]
        b = mde.forward(Wt, cfg, torch.tensor([x]), one, gemma, naive=True)[-1]
    d = (a - b).abs().max().item()
    assert d < 1e-9, ("naive attention", d)
    return len(x)


def mutant_cosines(cases, good, every=None):
    """cases: {label: a function giving a deliberate mistake's vectors}. Returns {label: (min, max)} over the texts of
    their cosines with good. The mistakes in every (all of them where every is None) must move every text under
    0.999, the others at least one."""
    moved = {}
    for label, f in cases.items():
        c = [mg.cos(a, b) for a, b in zip(f(), good)]
        moved[label] = (min(c), max(c))
        assert (max(c) if every is None or label in every else min(c)) < 0.999, (label, c)
    return moved


def write_expected(folder, fields, states, pooling, oracle, files, extra, n_naive, moved, vectors, detail=""):
    """Writes expected.json: fields (model, texts, ids, tokens, ...), layers, hidden and pooling (states: the float32
    oracle's [embeddings, layer 1, ...]), oracle (its vectors), files, extra (the note last). Prints the fixture's
    summary line: detail after the text count, the naive-attention text's length, the mistakes' cosines (moved)
    with the oracle's vectors."""
    expected = {**fields, "layers": len(states) - 1, "hidden": states[-1].shape[-1], "pooling": pooling, **oracle,
                "files": files, **extra}
    path = os.path.join(folder, "expected.json")
    mf.write_json(path, expected)
    moved_txt = ", ".join(f"{k} {lo:.4f}..{hi:.4f}" for k, (lo, hi) in moved.items())
    print(f"{fields['model']}: {len(fields['ids'])} texts{detail}; naive attention agrees on a {n_naive}-id text; "
          f"cosine of the {vectors} with: {moved_txt}; expected.json {os.path.getsize(path)} bytes")
