import { readFile, rename, writeFile } from 'node:fs/promises';
import { createEncoder, createIndex } from '../client/client.js';
import type { IndexDoc, VectorIndex, VectorType } from '../search/types.js';
import { checkText } from '../tokenizer/check-text.js';
import { type CliIo, jsonLine, oneOf, parseFlags, positiveInt, UsageError } from './args.js';

export const INDEX_USAGE = `Usage: m3web index --model DIR --docs FILE.jsonl --out FILE [options]

Embeds documents and writes a search index export that a page loads with
\`index.import(bytes)\`, so visitors search at once instead of embedding a corpus
on first visit. Each line of FILE.jsonl is one document: {"id", "text", "meta"?}.

Options:
  --model DIR      model pack or Hugging Face folder (the page must load the same model)
  --docs FILE      documents, one JSON object per line
  --out FILE       where the export goes (written atomically)
  --layers L       encoder layers (default: all)
  --dims D         stored width: one of the model's dims (default: its widest)
  --vector V       f32, int8 or binary (default f32)
  --backend B      cpu, webgpu or auto (default cpu)
  -h, --help       show this help
`;

const HINT = 'Run `m3web index --help` for usage.\n';
const VECTORS: readonly VectorType[] = ['f32', 'int8', 'binary'];
const BACKENDS = ['cpu', 'webgpu', 'auto'] as const;
/** Documents per add(): each add is one embed call and one progress line. */
const ADD_BATCH = 256;

export interface IndexArgs {
  model: string;
  docs: string;
  out: string;
  layers: number | undefined;
  dims: number | undefined;
  vector: VectorType;
  backend: (typeof BACKENDS)[number];
}

export function parseIndexArgs(args: string[]): IndexArgs | 'help' {
  const f = parseFlags(
    args,
    { model: 'string', docs: 'string', out: 'string', layers: 'string', dims: 'string', vector: 'string', backend: 'string' },
    HINT,
  );
  if (f.help) return 'help';
  const { str } = f;
  const required = (name: string) => {
    const v = str(name);
    if (!v) throw new UsageError(`--${name} is required`, HINT);
    return v;
  };
  return {
    model: required('model'),
    docs: required('docs'),
    out: required('out'),
    layers: positiveInt('layers', str('layers'), HINT),
    dims: positiveInt('dims', str('dims'), HINT),
    vector: oneOf('vector', str('vector'), VECTORS, 'f32', HINT),
    backend: oneOf('backend', str('backend'), BACKENDS, 'cpu', HINT),
  };
}

/** Parses the documents file, naming the line of the first bad document. */
export function parseDocs(text: string): IndexDoc[] {
  const docs: IndexDoc[] = [];
  text.split('\n').forEach((raw, i) => {
    const doc = jsonLine(raw, i + 1, 'documents');
    if (doc === undefined) return;
    const d = doc as Partial<IndexDoc> | null;
    if (typeof d !== 'object' || d === null || typeof d.id !== 'string' || typeof d.text !== 'string') {
      throw new UsageError(`documents line ${i + 1} must be an object with string "id" and "text"`);
    }
    checkText(d.text, `documents line ${i + 1}: "text"`);
    docs.push(d.meta === undefined ? { id: d.id, text: d.text } : { id: d.id, text: d.text, meta: d.meta });
  });
  if (docs.length === 0) throw new UsageError('the documents file has no documents');
  return docs;
}

export async function indexCommand(args: IndexArgs, io: CliIo): Promise<void> {
  const docs = parseDocs(await readFile(args.docs, 'utf8'));
  const started = performance.now();
  const encoder = await createEncoder({ model: args.model, device: args.backend, cache: false });
  let index: VectorIndex | null = null;
  try {
    index = await createIndex({
      encoder,
      name: 'cli',
      vector: args.vector,
      ...(args.layers === undefined ? {} : { layers: args.layers }),
      ...(args.dims === undefined ? {} : { dims: args.dims }),
    });
    for (let i = 0; i < docs.length; i += ADD_BATCH) {
      await index.add(docs.slice(i, i + ADD_BATCH));
      io.stderr.write(`m3web: indexed ${Math.min(i + ADD_BATCH, docs.length)} of ${docs.length} documents\n`);
    }
    const bytes = await index.export();
    const tmp = `${args.out}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, args.out);
    const s = index.signature;
    io.stderr.write(
      `m3web: wrote ${args.out} (${docs.length} documents, ${s.model} at ${s.layers} layers x ${s.dims} dims ${s.vector}, ` +
        `${(bytes.byteLength / 1e6).toFixed(2)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  } finally {
    index?.close();
    await encoder.dispose();
  }
}
