#!/usr/bin/env python3
"""Small torch.save files for m3web's restricted state-dict reader (src/checkpoint/torch-state-dict.ts).

Writes fixtures/torch-state-dicts/ (see README.md next to this file):

- loadable: linear-f32.pt (nn.Linear(6, 1).state_dict(), an OrderedDict with `_metadata` set by BUILD, as
  BGE-M3's sparse_linear.pt / colbert_linear.pt are), linear-f16.pt (Linear(5, 3).half()), bf16.pt, f64.pt,
  transposed.pt (`w.t()` of a 3x4: torch.save keeps the strides (1, 4), checked below), offset.pt (four views
  of one 12-element storage, at storage offsets 0, 2, 5 and 5, one of them strided), scalar.pt (a 0-d tensor),
  parameters.pt (state_dict(keep_vars=True): nn.Parameters, through _rebuild_parameter), protocol4.pt
  (pickle_protocol=4: FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL; and strides that need BININT and LONG1),
  byteorder-little.pt (linear-f32.pt's entries rewritten with a `byteorder` record, as torch >= 2.1 writes),
  int64.pt (a LongTensor: older pytorch_model.bin files hold the `position_ids` buffer), legacy.pt (the
  pre-1.6 format: pickles of the magic number, protocol and sizes, the dict, the storage keys, then the
  storages; f32, a transposed view of the same storage, f16 and int64);
- refused: complex.pt (a complex tensor), evil.pt (an object whose __reduce__ is (print, ('hi',)): the pickle
  names it as __builtin__.print, protocol 2's spelling), byteorder-big.pt (a `byteorder` record saying big),
  bare-tensor.pt (a tensor saved alone, not in a dict);
- expected.json: each loadable file's tensors as {name: {shape, values}}, values flattened in row-major
  logical order as float64 (for f16 / bf16 / f64 the stored values exactly, as Python reads them back).

Run from the repository root:  /usr/bin/python3 test/oracle/make_torch_state_dicts.py   (~2 s)
Output is byte-identical between runs (torch 1.13 stamps zip entries 1980-01-01), except legacy.pt, whose
storage keys are memory addresses.
"""

import collections
import json
import os
import pickletools
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'torch-state-dicts')


class Evil:
    def __reduce__(self):
        return (print, ('hi',))


def save(name, obj, **kwargs):
    torch.save(obj, os.path.join(OUT, name), **kwargs)


def opcodes(name):
    with zipfile.ZipFile(os.path.join(OUT, name)) as z:
        return {op.name for op, _, _ in pickletools.genops(z.read(f'{name[:-3]}/data.pkl'))}


def with_byteorder(source, name, order):
    """`source`'s entries, stored and dated 1980 as torch does, plus the `<prefix>/byteorder` record torch >= 2.1 adds."""
    with zipfile.ZipFile(os.path.join(OUT, source)) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    prefix = entries[0][0].filename.split('/')[0]
    with zipfile.ZipFile(os.path.join(OUT, name), 'w', zipfile.ZIP_STORED) as dst:
        for info, data in entries:
            dst.writestr(zipfile.ZipInfo(info.filename.replace(prefix, name[:-3], 1)), data)
        dst.writestr(zipfile.ZipInfo(f'{name[:-3]}/byteorder'), order)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    loadable = {
        'linear-f32.pt': torch.nn.Linear(6, 1).state_dict(),
        'linear-f16.pt': torch.nn.Linear(5, 3).half().state_dict(),
        'bf16.pt': {'w': torch.randn(2, 3).bfloat16(), 'b': torch.tensor([1e-3, -65504.0, 3e38]).bfloat16()},
        'f64.pt': {'w': torch.randn(4, 2, dtype=torch.float64) / 3},
    }
    w = torch.randn(3, 4)
    loadable['transposed.pt'] = {'t': w.t(), 'w': w}
    base = torch.randn(12)
    loadable['offset.pt'] = collections.OrderedDict(
        [('all', base), ('mid', base[2:5]), ('cols', base.view(3, 4)[1:, 1:3]), ('tail', base[5:].view(7, 1))]
    )
    loadable['scalar.pt'] = {'s': torch.tensor(2.5), 'v': torch.randn(2)}
    loadable['parameters.pt'] = torch.nn.Linear(2, 1).state_dict(keep_vars=True)
    # Strides of size-1 dimensions are free: they bring in BININT and LONG1, which small heads never need.
    loadable['protocol4.pt'] = {
        'x': torch.arange(3.0).as_strided((1, 3, 1), (70000, 1, 2**40)),
        'y': torch.arange(300, dtype=torch.float16),
    }
    loadable['int64.pt'] = {'ids': torch.arange(4)}
    v = torch.randn(2, 3)
    loadable['legacy.pt'] = {'w': v, 't': v.t(), 'h': torch.randn(3).half(), 'ids': torch.arange(3)}
    options = {'protocol4.pt': {'pickle_protocol': 4}, 'legacy.pt': {'_use_new_zipfile_serialization': False}}
    for name, obj in loadable.items():
        save(name, obj, **options.get(name, {}))
    assert {'FRAME', 'MEMOIZE', 'SHORT_BINUNICODE', 'STACK_GLOBAL', 'BININT', 'BININT2', 'LONG1'} <= opcodes('protocol4.pt')
    assert 'BUILD' in opcodes('linear-f32.pt') and 'NEWTRUE' in opcodes('parameters.pt')
    with_byteorder('linear-f32.pt', 'byteorder-little.pt', 'little')
    with_byteorder('linear-f32.pt', 'byteorder-big.pt', 'big')
    loadable['byteorder-little.pt'] = loadable['linear-f32.pt']

    # The strided cases only test strides if torch.save kept them.
    reread = torch.load(os.path.join(OUT, 'transposed.pt'))['t']
    assert reread.stride() == (1, 4) and torch.equal(reread, w.t()), reread.stride()
    reread = torch.load(os.path.join(OUT, 'offset.pt'))['cols']
    assert reread.storage_offset() == 5 and reread.stride() == (4, 1), (reread.storage_offset(), reread.stride())

    reread = torch.load(os.path.join(OUT, 'legacy.pt'))
    assert reread['t'].stride() == (1, 3) and reread['t'].data_ptr() == reread['w'].data_ptr()

    save('complex.pt', {'z': torch.zeros(2, dtype=torch.complex64)})
    save('evil.pt', {'weight': torch.zeros(1), 'payload': Evil()})
    save('bare-tensor.pt', torch.ones(2))

    expected = {
        name: {k: {'shape': list(t.shape), 'values': t.detach().double().flatten().tolist()} for k, t in obj.items()}
        for name, obj in loadable.items()
    }
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        f.write('{\n' + ',\n'.join(f'{json.dumps(k)}: {json.dumps(v)}' for k, v in expected.items()) + '\n}\n')


if __name__ == '__main__':
    main()
