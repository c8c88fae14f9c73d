#!/usr/bin/env python3
"""pytorch_model.bin checkpoints of two oracle fixtures, as older Hugging Face repositories hold them.

Many repositories (community fine-tunes from before safetensors, BAAI/bge-m3's main weights) have no
model.safetensors, only `pytorch_model.bin` (or shards listed by `pytorch_model.bin.index.json`), written
by `torch.save(model.state_dict())`. m3web reads them through a restricted pickle interpreter
(src/checkpoint/torch-pickle.ts, torch-checkpoint.ts). These fixtures hold the weights of the float64
oracle's fixtures, so their expected outputs apply:

- fixtures/bert-tiny-bin/: bert-tiny's weights in torch's zip format (torch >= 1.6), one file, as
  transformers < 4.31 saved a BertForMaskedLM: the `position_ids` buffer (int64) included, the MLM
  decoder tied to the word embeddings (one storage, two names).
- fixtures/xlmr-tiny-bin/: xlmr-tiny's weights (f16) in torch's legacy format (before 1.6), split into
  two shards with `pytorch_model.bin.index.json` as transformers' `save_pretrained(max_shard_size=...)`
  writes them; the same buffer and tied decoder.
- fixtures/t5-st-tiny-dense-bin/2_Dense/: t5-st-tiny's Dense module as older sentence-transformers
  saved it (`pytorch_model.bin` with `linear.weight`, beside its config.json).

Each file is read back with torch.load and compared with the safetensors tensors before anything is
written. Run from the repository root:  /usr/bin/python3 test/oracle/make_torch_bin.py   (~2 s)
The zip file is byte-identical between runs (torch 1.13 stamps entries 1980-01-01); the legacy shards
are not (their storage keys are memory addresses).
"""

import json
import os
import shutil
import struct

import numpy as np
import torch

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
DTYPES = {'F32': (np.float32, torch.float32), 'F16': (np.float16, torch.float16)}
COPIED = ['config.json', 'tokenizer.json', 'tokenizer_config.json']


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (length,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8 : 8 + length])
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        begin, end = entry['data_offsets']
        np_dtype, _ = DTYPES[entry['dtype']]
        raw = np.frombuffer(data[8 + length + begin : 8 + length + end], dtype=np_dtype).reshape(entry['shape'])
        out[name] = torch.from_numpy(raw.copy())
    return out


def as_saved(source, prefix, decoder):
    """The state dict an older transformers saved: the position ids buffer, the decoder tied to the word table."""
    sd = dict(source)
    positions = sd[f'{prefix}.embeddings.position_embeddings.weight'].shape[0]
    sd[f'{prefix}.embeddings.position_ids'] = torch.arange(positions).unsqueeze(0)
    sd[f'{decoder}.weight'] = sd[f'{prefix}.embeddings.word_embeddings.weight']
    return sd


def check(path_or_paths, sd):
    loaded = {}
    for path in path_or_paths if isinstance(path_or_paths, list) else [path_or_paths]:
        loaded.update(torch.load(path))
    assert loaded.keys() == sd.keys(), sorted(set(loaded) ^ set(sd))
    for name, tensor in sd.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor), name


def new_folder(name, source):
    folder = os.path.join(FIXTURES, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for f in COPIED:
        shutil.copy(os.path.join(FIXTURES, source, f), folder)
    return folder


def main():
    bert = as_saved(read_safetensors(os.path.join(FIXTURES, 'bert-tiny', 'model.safetensors')), 'bert', 'cls.predictions.decoder')
    xlmr = as_saved(read_safetensors(os.path.join(FIXTURES, 'xlmr-tiny', 'model.safetensors')), 'roberta', 'lm_head.decoder')
    assert all(t.dtype == torch.float16 for n, t in xlmr.items() if not n.endswith('position_ids'))

    folder = new_folder('bert-tiny-bin', 'bert-tiny')
    path = os.path.join(folder, 'pytorch_model.bin')
    torch.save(bert, path)
    check(path, bert)
    # One storage, two names: what the reader must follow by key.
    reread = torch.load(path)
    assert reread['cls.predictions.decoder.weight'].data_ptr() == reread['bert.embeddings.word_embeddings.weight'].data_ptr()

    folder = new_folder('xlmr-tiny-bin', 'xlmr-tiny')
    names = list(xlmr)
    cut = next(i for i, n in enumerate(names) if n.startswith('roberta.encoder.layer.1.'))
    shards = [names[:cut], names[cut:]]
    weight_map, paths = {}, []
    for i, part in enumerate(shards):
        file = f'pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin'
        paths.append(os.path.join(folder, file))
        torch.save({n: xlmr[n] for n in part}, paths[-1], _use_new_zipfile_serialization=False)
        weight_map.update({n: file for n in part})
    check(paths, xlmr)
    total = sum(t.numel() * t.element_size() for n, t in xlmr.items() if not n.startswith('lm_head.decoder'))
    with open(os.path.join(folder, 'pytorch_model.bin.index.json'), 'w') as f:
        json.dump({'metadata': {'total_size': total}, 'weight_map': weight_map}, f, indent=2)
        f.write('\n')
    for p in paths:
        with open(p, 'rb') as f:
            assert f.read(2) == b'\x80\x02', 'legacy torch.save starts with a protocol-2 pickle'

    dense = read_safetensors(os.path.join(FIXTURES, 't5-st-tiny', '2_Dense', 'model.safetensors'))
    folder = os.path.join(FIXTURES, 't5-st-tiny-dense-bin', '2_Dense')
    shutil.rmtree(os.path.dirname(folder), ignore_errors=True)
    os.makedirs(folder)
    shutil.copy(os.path.join(FIXTURES, 't5-st-tiny', '2_Dense', 'config.json'), folder)
    torch.save(dense, os.path.join(folder, 'pytorch_model.bin'))
    check(os.path.join(folder, 'pytorch_model.bin'), dense)
    print('bert-tiny-bin: zip format,', len(bert), 'tensors; xlmr-tiny-bin: legacy format,', len(xlmr), 'tensors in 2 shards')


if __name__ == '__main__':
    main()
