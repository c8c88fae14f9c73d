import type { ModelFolder } from '../index.js';

// A model folder dropped on the model box or picked with its folder input, read into a
// ModelFolder for createEncoder. Browsers offer three ways in: File System Access handles
// (Chromium's DataTransferItem.getAsFileSystemHandle), the older entries API (webkitGetAsEntry,
// everywhere) and <input webkitdirectory> (a flat list with relative paths); each becomes a
// DirSource or goes through the same filter.

/** One directory as the walk sees it, whichever API it came from. */
export interface DirSource {
  readonly name: string;
  list(): Promise<DirItem[]>;
}

export type DirItem = { name: string; dir: DirSource } | { name: string; file: () => Promise<File> };

// What m3web reads from a model folder: JSON files, safetensors weights, ONNX exports and their
// external data (a transformers.js copy has only those; which graph is read, and why a quantized
// one is refused, is the hub reader's), GGUF files, a pack's shards, a slow tokenizer's files
// (vocab.txt, sentencepiece.bpe.model, spiece.model: read where a folder has no tokenizer.json) and
// the model card (README.md: the Matryoshka widths sentence-transformers trained) at its top, and
// torch.save checkpoints (pytorch_model.bin and its
// shards, a Dense module's), kept only where their folder has no safetensors: the folder is
// stored in IndexedDB, and a second copy of the weights would double that. Other files and
// dot-folders (.git) are left out; sentence-transformers modules and onnx/ sit one folder down
// (1_Pooling/config.json).
const PICKLED = /^pytorch_model(-\d+-of-\d+)?\.bin$/;
const WANTED_ANYWHERE = /\.(json|safetensors|onnx|onnx_data|onnx\.data|gguf)$/;
const WANTED_AT_TOP = /^((embeddings|layer-\d+)\.bin|vocab\.txt|sentencepiece\.bpe\.model|spiece\.model|README\.md)$/;
const SAFETENSORS = /^model(-\d+-of-\d+)?\.safetensors$/;

/** Whether the file at `path` (inside the folder, '/'-separated) is one m3web may read. */
export function wanted(path: string): boolean {
  const parts = path.split('/');
  const name = parts.at(-1) as string;
  if (parts.length > 2 || parts.some((p) => p.startsWith('.'))) return false;
  return WANTED_ANYWHERE.test(name) || PICKLED.test(name) || (parts.length === 1 && WANTED_AT_TOP.test(name));
}

/** Whether to look inside the folder at `path`: module folders one level down, no dot-folders. */
const wantedDir = (path: string) => !path.includes('/') && !path.startsWith('.');

/** Pickled checkpoints left out where their folder has safetensors weights too (read first anyway). */
function withoutSpareWeights(folder: ModelFolder): ModelFolder {
  const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/') + 1);
  const paths = Object.keys(folder.files);
  const withSafetensors = new Set(paths.filter((p) => SAFETENSORS.test(p.slice(dirOf(p).length))).map(dirOf));
  const spare = (p: string) => PICKLED.test(p.slice(dirOf(p).length)) && withSafetensors.has(dirOf(p));
  return { name: folder.name, files: Object.fromEntries(Object.entries(folder.files).filter(([p]) => !spare(p))) };
}

/** The wanted files of a directory tree, by path; Files are references, nothing is read yet. */
export async function walkFolder(root: DirSource): Promise<ModelFolder> {
  const files: Record<string, File> = {};
  const visit = async (dir: DirSource, prefix: string) => {
    for (const item of await dir.list()) {
      const path = prefix + item.name;
      if ('dir' in item) {
        if (wantedDir(path)) await visit(item.dir, `${path}/`);
      } else if (wanted(path)) {
        files[path] = await item.file();
      }
    }
  };
  await visit(root, '');
  return withoutSpareWeights({ name: root.name, files });
}

/** The files of an <input webkitdirectory>: each knows its path, the folder's name first. */
export function pickedFolder(list: Iterable<File>): ModelFolder | null {
  let name: string | null = null;
  const files: Record<string, File> = {};
  for (const file of list) {
    const [top, ...rest] = file.webkitRelativePath.split('/');
    name ??= top ?? null;
    if (rest.length > 0 && wanted(rest.join('/'))) files[rest.join('/')] = file;
  }
  return name === null ? null : withoutSpareWeights({ name, files });
}

// Chromium's handles API, not in TypeScript's DOM library yet.
interface HandleLike {
  kind: 'file' | 'directory';
  name: string;
}
interface FileHandleLike extends HandleLike {
  kind: 'file';
  getFile(): Promise<File>;
}
interface DirectoryHandleLike extends HandleLike {
  kind: 'directory';
  values(): AsyncIterable<FileHandleLike | DirectoryHandleLike>;
}
type WithHandles = DataTransferItem & { getAsFileSystemHandle?: () => Promise<HandleLike | null> };

export function handleSource(dir: DirectoryHandleLike): DirSource {
  return {
    name: dir.name,
    async list() {
      const items: DirItem[] = [];
      for await (const h of dir.values()) {
        items.push(h.kind === 'directory' ? { name: h.name, dir: handleSource(h) } : { name: h.name, file: () => h.getFile() });
      }
      return items;
    },
  };
}

export function entrySource(dir: FileSystemDirectoryEntry): DirSource {
  return {
    name: dir.name,
    async list() {
      const reader = dir.createReader();
      const items: DirItem[] = [];
      // readEntries answers in batches (100 in Chromium) until it answers an empty one.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) return items;
        for (const e of batch) {
          items.push(
            e.isDirectory
              ? { name: e.name, dir: entrySource(e as FileSystemDirectoryEntry) }
              : { name: e.name, file: () => new Promise<File>((ok, fail) => (e as FileSystemFileEntry).file(ok, fail)) },
          );
        }
      }
    },
  };
}

/**
 * The directory dropped as `item`, or null when it is not one. Must be called inside the drop
 * event: a DataTransfer's items are readable only until the handler returns.
 */
export function droppedDir(item: DataTransferItem): Promise<DirSource | null> {
  const handle = (item as WithHandles).getAsFileSystemHandle?.().catch(() => null);
  const entry = item.webkitGetAsEntry();
  return (async () => {
    const h = await handle;
    if (h?.kind === 'directory') return handleSource(h as DirectoryHandleLike);
    return entry?.isDirectory ? entrySource(entry as FileSystemDirectoryEntry) : null;
  })();
}

/**
 * A GGUF file dropped as `item` (llama.cpp's models are one file each; Ollama keeps them as blobs
 * named by digest, without an extension, so the first bytes decide) as a folder holding only it;
 * null for anything else. The file is taken inside the drop event, as droppedDir takes its handle.
 */
export function droppedGguf(item: DataTransferItem): Promise<ModelFolder | null> {
  const file = item.getAsFile();
  return (async () => {
    if (!file) return null;
    const named = /\.gguf$/i.test(file.name);
    // A dropped directory comes as a File too, one that cannot be read.
    const head = named
      ? 'GGUF'
      : await file
          .slice(0, 4)
          .text()
          .catch(() => '');
    if (head !== 'GGUF') return null;
    const path = named ? file.name : `${file.name}.gguf`;
    return { name: path.replace(/\.gguf$/i, ''), files: { [path]: file } };
  })();
}
