import { describe, expect, it } from 'vitest';
import { droppedGguf, entrySource, handleSource, pickedFolder, walkFolder, wanted } from '../../src/demo/model-drop.js';

// The playground's dropped-folder reading (src/demo/model-drop.ts) on stand-ins for the
// browser's directory handles: which files of a model folder it keeps, and under which paths.

type Tree = { [name: string]: Tree | string };

const fileOf = (name: string, text: string) => new File([text], name);

/** A FileSystemDirectoryHandle stand-in over a tree of names (folders) and texts (files). */
function handle(name: string, tree: Tree): Parameters<typeof handleSource>[0] {
  return {
    kind: 'directory',
    name,
    async *values() {
      for (const [n, v] of Object.entries(tree)) {
        yield typeof v === 'string' ? { kind: 'file' as const, name: n, getFile: async () => fileOf(n, v) } : handle(n, v);
      }
    },
  };
}

const HF: Tree = {
  'config.json': '{}',
  'tokenizer.json': '{}',
  'model.safetensors': 'weights',
  'pytorch_model.bin': 'pickle',
  'README.md': '# model',
  '1_Pooling': { 'config.json': '{"pooling_mode_cls_token": true}' },
  '2_Dense': { 'config.json': '{}', 'model.safetensors': 'dense', 'pytorch_model.bin': 'pickle' },
  '3_Dense': { 'config.json': '{}', 'pytorch_model.bin': 'pickle' },
  onnx: { 'model.onnx': 'onnx', deeper: { 'config.json': '{}' } },
  '.git': { 'config.json': 'no' },
  '.cache': { 'x.json': 'no' },
};

describe('reading a dropped model folder', () => {
  it('keeps what m3web reads: JSON, safetensors and ONNX, module folders one level down, pack shards, pickled checkpoints, slow tokenizers and the model card at the top', () => {
    for (const path of [
      'config.json',
      '1_Pooling/config.json',
      '2_Dense/model.safetensors',
      'embeddings.bin',
      'layer-03.bin',
      'onnx/model.onnx',
      'onnx/model_fp16.onnx',
      'onnx/model.onnx_data',
      'model.onnx',
      'model.onnx.data',
      'nomic-embed-text-v1.5.Q8_0.gguf',
      'pytorch_model.bin',
      'pytorch_model-00002-of-00003.bin',
      'vocab.txt',
      'sentencepiece.bpe.model',
      'spiece.model',
      'README.md',
      '2_Dense/pytorch_model.bin',
    ])
      expect(wanted(path), path).toBe(true);
    for (const path of [
      '1_Pooling/vocab.txt',
      'training_args.bin',
      'optimizer.bin',
      'onnx/deeper/model.onnx',
      'a/b/config.json',
      '.git/config.json',
      'x/layer-00.bin',
      'onnx/README.md',
    ])
      expect(wanted(path), path).toBe(false);
  });

  it('walks a directory handle into a ModelFolder by path, leaving the rest out', async () => {
    const folder = await walkFolder(handleSource(handle('e5-small', HF)));
    expect(folder.name).toBe('e5-small');
    expect(Object.keys(folder.files).sort()).toEqual([
      '1_Pooling/config.json',
      '2_Dense/config.json',
      '2_Dense/model.safetensors',
      '3_Dense/config.json',
      '3_Dense/pytorch_model.bin',
      'README.md',
      'config.json',
      'model.safetensors',
      'onnx/model.onnx',
      'tokenizer.json',
    ]);
    expect(await folder.files['1_Pooling/config.json']?.text()).toBe('{"pooling_mode_cls_token": true}');
    // The folder is stored in IndexedDB: a second copy of the weights, never read, would double it.
    const { 'model.safetensors': _, ...pickledOnly } = HF;
    const older = await walkFolder(handleSource(handle('old-model', pickledOnly)));
    expect(Object.keys(older.files)).toContain('pytorch_model.bin');
    expect(Object.keys(older.files)).not.toContain('model.safetensors');
  });

  it('reads every batch of an entries-API listing (webkitGetAsEntry), as browsers answer 100 at a time', async () => {
    const names = Array.from({ length: 250 }, (_, i) => `layer-${String(i).padStart(3, '0')}.bin`);
    const entries = names.map((name) => ({ isDirectory: false, name, file: (ok: (f: File) => void) => ok(fileOf(name, '')) }));
    let at = 0;
    const reader = {
      readEntries(ok: (batch: unknown[]) => void) {
        ok(entries.slice(at, at + 100));
        at += 100;
      },
    };
    const dir = { name: 'pack', createReader: () => reader } as unknown as FileSystemDirectoryEntry;
    expect(Object.keys((await walkFolder(entrySource(dir))).files)).toEqual(names);
  });

  it('takes the flat list of an <input webkitdirectory>, the folder named by the first path part', () => {
    const picked = ['m3/manifest.json', 'm3/layer-00.bin', 'm3/.git/config.json', 'm3/1_Pooling/config.json'].map((p) =>
      Object.assign(fileOf(p.split('/').pop() as string, ''), { webkitRelativePath: p }),
    );
    const folder = pickedFolder(picked);
    expect(folder?.name).toBe('m3');
    expect(Object.keys(folder?.files ?? {})).toEqual(['manifest.json', 'layer-00.bin', '1_Pooling/config.json']);
    expect(pickedFolder([])).toBeNull();
  });

  it('takes a single dropped GGUF file (by its name, or by its first bytes: an Ollama blob) as a folder of one file', async () => {
    const item = (name: string, bytes = new Uint8Array(4)) =>
      ({ getAsFile: () => new File([bytes], name) }) as unknown as DataTransferItem;
    const folder = await droppedGguf(item('bge-small-en-v1.5-Q8_0.gguf'));
    expect(folder?.name).toBe('bge-small-en-v1.5-Q8_0');
    expect(Object.keys(folder?.files ?? {})).toEqual(['bge-small-en-v1.5-Q8_0.gguf']);
    const blob = await droppedGguf(item('sha256-970aa74c', new TextEncoder().encode('GGUF\x03\x00\x00\x00')));
    expect(Object.keys(blob?.files ?? {})).toEqual(['sha256-970aa74c.gguf']);
    expect(await droppedGguf(item('config.json', new TextEncoder().encode('{"a": 1}')))).toBeNull();
  });
});
