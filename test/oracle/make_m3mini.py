"""Oracle outputs of the bundled, trained m3-mini model, for the quantisation parity tests.

Random-weight fixtures (make_fixtures.py) are harsh on 4-bit weights: nothing in them is smooth,
so q4 error there says little about a real model. This fixture runs the shipped model instead.
Its f32 weights are the q8 pack's values dequantised here, with numpy, straight from the pack
files (public/models/m3-mini/manifest.json + *.bin), so nothing of the runtime's TypeScript is on
the oracle's path; the forward is make_fixtures.py's float64 BERT.

  /usr/bin/python3 test/oracle/make_m3mini.py      # ~10 s; rerun when the bundled model changes

Writes fixtures/m3-mini/expected.json (texts, token ids, the manifest's SHA-256) and
expected.safetensors (mean-pooled, unnormalised outputs after every layer, [texts, layers, H]).
Token ids come from @huggingface/tokenizers (node), the library the runtime uses; the
tokenizer itself is checked against SentencePiece by test/unit/m3-tokenizer.test.ts.
"""

import hashlib
import json
import os
import subprocess

# First: make_fixtures re-runs this script under /usr/bin/python3 when torch is missing here.
from make_fixtures import LANGS, REPO, forward, read_flores, write_json, write_safetensors

import numpy as np
import torch

PACK = os.path.join(REPO, "public", "models", "m3-mini")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "m3-mini")
PER_LANG = 3
LONG_TOKENS = 250

HF_NAMES = {"attnOut": "attention.output.dense", "attnNorm": "attention.output.LayerNorm",
            "ffnIn": "intermediate.dense", "ffnOut": "output.dense", "ffnNorm": "output.LayerNorm"}


def read_pack():
    """The pack's tensors dequantised to float64, under Hugging Face BertModel names."""
    with open(os.path.join(PACK, "manifest.json"), "rb") as f:
        raw = f.read()
    manifest = json.loads(raw)
    W, P = {}, {}
    for shard in manifest["shards"]:
        with open(os.path.join(PACK, shard["file"]), "rb") as f:
            data = f.read()
        t = {e["name"]: e for e in shard["tensors"]}

        def arr(name):
            e = t[name]
            buf = data[e["offset"]: e["offset"] + e["bytes"]]
            if e["dtype"] == "f32":
                return np.frombuffer(buf, "<f4").reshape(e["shape"]).astype(np.float64)
            if e["dtype"] == "f16":
                return np.frombuffer(buf, "<f2").reshape(e["shape"]).astype(np.float64)
            if e["dtype"] == "q8":
                rows, cols = e["shape"]
                q = np.frombuffer(buf, np.int8)[: rows * cols].reshape(rows, cols).astype(np.float64)
                return q * arr(name[: -len(".weight")] + ".scales")[:, None]
            raise ValueError(f"{name}: dtype {e['dtype']} not handled (the bundled pack is q8)")

        for name in t:
            base, _, kind = name.rpartition(".")
            if kind == "scales":
                continue
            if shard["kind"] == "head":
                # projection.{exit}.weight: the matrix prompted text is mapped by after pooling.
                P[int(name.split(".")[1])] = torch.from_numpy(arr(name).copy())
                continue
            if shard["kind"] == "embeddings":
                hf = {"word.weight": "embeddings.word_embeddings.weight",
                      "position": "embeddings.position_embeddings.weight",
                      "tokenType": "embeddings.token_type_embeddings.weight",
                      "embNorm.gamma": "embeddings.LayerNorm.weight",
                      "embNorm.beta": "embeddings.LayerNorm.bias"}[name]
                W[hf] = arr(name)
                continue
            _, layer, part, kind = name.split(".")
            at = f"encoder.layer.{layer}."
            suffix = {"gamma": "weight", "beta": "bias"}.get(kind, kind)
            value = arr(name)
            if part == "qkv":
                for i, qkv in enumerate(("query", "key", "value")):
                    h = value.shape[0] // 3
                    W[f"{at}attention.self.{qkv}.{suffix}"] = value[i * h: (i + 1) * h]
            else:
                W[f"{at}{HF_NAMES[part]}.{suffix}"] = value
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in W.items()}
    return manifest, hashlib.sha256(raw).hexdigest(), weights, P


def tokenize(texts):
    script = (
        "import { readFileSync } from 'node:fs';"
        "import { Tokenizer } from '@huggingface/tokenizers';"
        "const m = JSON.parse(readFileSync(process.argv[1] + '/manifest.json', 'utf8'));"
        "const t = new Tokenizer(JSON.parse(readFileSync(process.argv[1] + '/tokenizer.json', 'utf8')), m.tokenizer.config ?? {});"
        "const texts = JSON.parse(readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(texts.map((x) => t.encode(x).ids)));"
    )
    out = subprocess.run(["node", "--input-type=module", "-e", script, PACK], input=json.dumps(texts),
                         capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(out.stdout)


def main():
    manifest, sha, W, P = read_pack()
    cfg = manifest["config"]
    texts = [text for lang in LANGS[:8] for _, text in read_flores(lang)[10: 10 + PER_LANG]]
    texts.append("Hi!")
    # One long text near the positions the model was trained for.
    long_text = " ".join(text for _, text in read_flores("eng_Latn")[20:40])
    words = long_text.split(" ")
    while len(tokenize([" ".join(words)])[0]) > LONG_TOKENS:
        words = words[:-1]
    texts.append(" ".join(words))
    # Behind the pack's query / passage prefixes (prompt tokens: embedding rows no plain text uses).
    prefixes = manifest.get("prefixes", {})
    prompted = []  # [kind, text without the prefix, index in texts]
    if "query" in prefixes:
        prompted.append(["query", "When did the first Olympic Games take place?", len(texts)])
        texts.append(prefixes["query"] + prompted[-1][1])
    if "passage" in prefixes:
        prompted.append(["passage", read_flores("eng_Latn")[5][1], len(texts)])
        texts.append(prefixes["passage"] + prompted[-1][1])
    ids = tokenize(texts)

    S = max(len(x) for x in ids)
    inp = torch.zeros(len(ids), S, dtype=torch.long)
    mask = torch.zeros(len(ids), S, dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    with torch.no_grad():
        states = forward(W, cfg, "", inp, mask, roberta=False)
    m = mask[..., None].double()
    pooled = torch.stack([(s * m).sum(1) / m.sum(1) for s in states[1:]], dim=1)  # [T, L, H]
    # What embed(text, { kind }) returns unnormalised: the prompted text's pooled vector after each
    # layer, mapped by that exit's projection (the manifest's projection.kinds).
    kinds = manifest.get("projection", {}).get("kinds", [])
    projected = [[P[l + 1] @ pooled[i, l] for l in range(pooled.shape[1])] for kind, _, i in prompted if kind in kinds]

    os.makedirs(OUT, exist_ok=True)
    write_json(os.path.join(OUT, "expected.json"), {
        "pack": "public/models/m3-mini",
        "manifestSha256": sha,
        "texts": texts,
        "ids": ids,
        "pooled": "expected.safetensors: mean-pooled [texts, layers, hidden], layers 1..N",
        "prompted": [p for p in prompted if p[0] in kinds],
        "projected": "expected.safetensors: the prompted texts' pooled vectors after each exit's projection [prompted, layers, hidden]",
    })
    tensors = [("pooled", pooled.numpy().astype(np.float32))]
    if projected:
        tensors.append(("projected", torch.stack([torch.stack(p) for p in projected]).numpy().astype(np.float32)))
    write_safetensors(os.path.join(OUT, "expected.safetensors"), tensors)
    print(f"m3-mini: {len(texts)} texts, longest {S} tokens, {pooled.shape[1]} layers -> {OUT}")


if __name__ == "__main__":
    main()
