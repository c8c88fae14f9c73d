import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createEncoder, createIndex } from '../client/client.js';
import { ModelFormatError } from '../errors.js';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { openModelFolder } from '../node/model-folder.js';
import { parseIndex } from '../search/serialize.js';
import { tierSizes } from '../search/static/format.js';
import { type StaticWriteOptions, writeStaticIndex } from '../search/static/write.js';
import type { IndexDoc, IndexSignature, VectorIndex, VectorType } from '../search/types.js';
import { checkText } from '../tokenizer/check-text.js';
import type { ModelInfo } from '../types.js';
import { type CliIo, jsonLine, oneOf, parseFlags, positiveInt, UsageError } from './args.js';
import { modelFolder } from './hub-arg.js';
import { isPageFile, pageDocs, URL_FORMS, type UrlForm } from './page-files.js';

export const INDEX_USAGE = `Usage: m3web index --model DIR --docs FILE.jsonl|PAGES --out FILE [options]
       m3web index --static --model DIR --docs FILE.jsonl|PAGES --out DIR [options]

Embeds documents and writes a search index export that a page loads with
\`index.import(bytes)\`, so visitors search at once instead of embedding a corpus
on first visit. Each line of FILE.jsonl is one document: {"id", "text", "title"?,
"meta"?}; a folder of Markdown and HTML pages (a built site) is read as one
document per section.

With --static it writes a folder for a static host instead, which a page opens
with \`createIndex({ encoder, url })\`: a small coarse tier fetched once, then per
query only the row and postings shards it needs. An inference-free SPLADE model's
folder also holds its query side (tokenizer and weight per token), so
\`createIndex({ url })\` ranks by the model's weights with no model in the page.

Options:
  --model DIR      model pack or Hugging Face folder, or a hub id (the page must
                   load the same model)
  --revision R     hub branch, tag or commit (default main)
  --docs PATH      documents, one JSON object per line; or a site's pages: a
                   folder of Markdown (.md) and HTML (.html) files, or one such
                   file, each page cut into a document per section (h1-h3),
                   titled "Page › Heading", meta.url its path#anchor
  --urls FORM      how a page's file path becomes its address (pages only):
                   path (default: as named, index.html as its folder), html
                   (.md as .html: Jekyll, VitePress), clean (no extension:
                   Docusaurus, cleanUrls) or folder (guide/install/: MkDocs,
                   Hugo, Eleventy); index.md and README.md are their folder
                   in the last three
  --out FILE       where the export goes (written atomically; with --static, a
                   folder, replaced whole)
  --static         write a static tiered index folder (see above)
  --no-ngrams      the lexical ranker indexes no character 4-grams (the ngrams
                   index option, on by default): postings about 2.5 times smaller,
                   fewer bytes per query; --static only, where it is built in
  --symmetric      queries will be the same kind of text as the documents
                   (sentences, titles, translations): both embedded without the
                   model's query / passage prefixes (the symmetric index option)
  --no-sparse      on a model with a lexical-weights head (BGE-M3), store no
                   lexical weights (the sparse index option)
  --chunk-tokens N documents cut into chunks of at most N tokens (default: the
                   model's input length; the chunkTokens index option)
  --cache FILE     keep the index's export in FILE: the next run embeds only the
                   documents whose text, title or chunking changed since (by
                   content hash) and drops the ones gone, so a site's build
                   re-embeds what it edited; a cache of another model, layers,
                   dims or vector type is set aside (said) and rebuilt
  --shard-rows N   rows per row and text shard of --static (default 32): fewer
                   bytes per query with fewer, more files with more
  --layers L       encoder layers (default: all)
  --dims D         stored width: one of the model's dims (default: its widest)
  --vector V       f32, int8 or binary (default f32; a SPLADE model's index has no vectors)
  --backend B      cpu, webgpu or auto (default cpu)
  -h, --help       show this help
`;

const HINT = 'Run `m3web index --help` for usage.\n';
const VECTORS: readonly VectorType[] = ['f32', 'int8', 'binary'];
/** Documents per add(): each add is one embed call and one progress line. */
const ADD_BATCH = 256;

export interface IndexArgs {
  model: string;
  revision: string | undefined;
  docs: string;
  out: string;
  layers: number | undefined;
  dims: number | undefined;
  /** Undefined where not given: the index's default (f32; none for a SPLADE model). */
  vector: VectorType | undefined;
  backend: BackendChoice;
  static: boolean;
  ngrams: boolean;
  symmetric: boolean;
  sparse: boolean;
  chunkTokens: number | undefined;
  shardRows: number | undefined;
  /** How a page's path becomes its address, where --docs names pages. */
  urls: UrlForm;
  /** Where the index's export is kept between runs, so that a run embeds only what changed. */
  cache: string | undefined;
}

export function parseIndexArgs(args: string[]): IndexArgs | 'help' {
  const f = parseFlags(
    args,
    {
      model: 'string',
      revision: 'string',
      docs: 'string',
      out: 'string',
      layers: 'string',
      dims: 'string',
      vector: 'string',
      backend: 'string',
      static: 'boolean',
      'no-ngrams': 'boolean',
      symmetric: 'boolean',
      'no-sparse': 'boolean',
      'chunk-tokens': 'string',
      cache: 'string',
      'shard-rows': 'string',
      urls: 'string',
    },
    HINT,
  );
  if (f.help) return 'help';
  const { str, flag } = f;
  if (flag('no-ngrams') && !flag('static'))
    throw new UsageError('--no-ngrams needs --static (an export does not carry it)', HINT);
  if (str('shard-rows') !== undefined && !flag('static')) throw new UsageError('--shard-rows needs --static', HINT);
  const required = (name: string) => {
    const v = str(name);
    if (!v) throw new UsageError(`--${name} is required`, HINT);
    return v;
  };
  return {
    model: required('model'),
    revision: str('revision'),
    docs: required('docs'),
    out: required('out'),
    layers: positiveInt('layers', str('layers'), HINT),
    dims: positiveInt('dims', str('dims'), HINT),
    vector: str('vector') === undefined ? undefined : oneOf('vector', str('vector'), VECTORS, 'f32', HINT),
    backend: oneOf('backend', str('backend'), BACKEND_CHOICES, 'cpu', HINT),
    static: flag('static'),
    ngrams: !flag('no-ngrams'),
    symmetric: flag('symmetric'),
    sparse: !flag('no-sparse'),
    chunkTokens: positiveInt('chunk-tokens', str('chunk-tokens'), HINT),
    cache: str('cache'),
    shardRows: positiveInt('shard-rows', str('shard-rows'), HINT),
    urls: oneOf('urls', str('urls'), URL_FORMS, 'path', HINT),
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
    if (d.title !== undefined) checkText(d.title, `documents line ${i + 1}: "title"`);
    docs.push({
      id: d.id,
      text: d.text,
      ...(d.title === undefined ? {} : { title: d.title }),
      ...(d.meta === undefined ? {} : { meta: d.meta }),
    });
  });
  if (docs.length === 0) throw new UsageError('the documents file has no documents');
  return docs;
}

/** The documents --docs names: a JSON Lines file, or a site's pages (a folder, or one .md / .html file) cut into sections. */
async function readDocs(path: string, urls: UrlForm, io: CliIo): Promise<IndexDoc[]> {
  if (!(await stat(path)).isDirectory() && !isPageFile(path)) {
    if (urls !== 'path')
      throw new UsageError('--urls is for pages (a folder, or one .md / .html file), not a documents file', HINT);
    return parseDocs(await readFile(path, 'utf8'));
  }
  const { docs, pages } = await pageDocs(path, urls);
  io.stderr.write(`m3web: ${docs.length} sections from ${pages} pages\n`);
  return docs;
}

export async function indexCommand(args: IndexArgs, io: CliIo): Promise<void> {
  const docs = await readDocs(args.docs, args.urls, io);
  const started = performance.now();
  const encoder = await createEncoder({
    model: args.model,
    ...(args.revision ? { revision: args.revision } : {}),
    device: args.backend,
    cache: false,
  });
  let index: VectorIndex | null = null;
  try {
    index = await createIndex({
      encoder,
      name: 'cli',
      ...(args.vector === undefined ? {} : { vector: args.vector }),
      symmetric: args.symmetric,
      // The index's default (a model's lexical weights where it has a head) unless told not to.
      ...(args.sparse ? {} : { sparse: false }),
      ...(args.chunkTokens === undefined ? {} : { chunkTokens: args.chunkTokens }),
      ...(args.layers === undefined ? {} : { layers: args.layers }),
      ...(args.dims === undefined ? {} : { dims: args.dims }),
    });
    if (args.cache && (await fromCache(index, args.cache, io))) {
      const r = await index.sync(docs);
      io.stderr.write(
        `m3web: from ${args.cache}: ${r.unchanged} unchanged, ${r.updated} changed, ${r.added} new, ${r.removed} gone; ${r.embedded} embedded\n`,
      );
    } else {
      for (let i = 0; i < docs.length; i += ADD_BATCH) {
        await index.add(docs.slice(i, i + ADD_BATCH));
        io.stderr.write(`m3web: indexed ${Math.min(i + ADD_BATCH, docs.length)} of ${docs.length} documents\n`);
      }
    }
    const bytes = await index.export();
    if (args.cache && args.cache !== args.out) await writeExport(args.cache, bytes);
    const { model } = await encoder.info();
    // A hub id's folder is its converted pack.
    const query =
      args.static && model.staticQuery
        ? await staticQuerySide(await modelFolder(args.model, io, { revision: args.revision }), model)
        : undefined;
    const written = args.static
      ? await writeFolder(args.out, bytes, model.dims, args, query)
      : await writeExport(args.out, bytes);
    io.stderr.write(
      `m3web: wrote ${args.out} (${docs.length} documents, ${signatureLine(index.signature)}, ${written}) ` +
        `in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  } finally {
    index?.close();
    await encoder.dispose();
  }
}

/**
 * Loads the cache into the empty `index` where there is one it can take: false where there is
 * none yet, or it was built otherwise (another model, layers, dims or vector type: the index
 * refuses it, and this run embeds everything and replaces it).
 */
async function fromCache(index: VectorIndex, cache: string, io: CliIo): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(cache));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    await index.import(bytes);
    return true;
  } catch (err) {
    io.stderr.write(`m3web: not using the cache ${cache}: ${(err as Error).message}; embedding every document\n`);
    return false;
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const signatureLine = (s: IndexSignature) =>
  `${s.model} at ${s.layers} layers x ${s.dims} dims ${s.vector}${s.symmetric ? ', symmetric' : ''}${s.sparse ? ', lexical weights' : ''}`;

async function writeExport(out: string, bytes: Uint8Array): Promise<string> {
  const tmp = `${out}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, out);
  return mb(bytes.byteLength);
}

/**
 * An inference-free SPLADE model's query side for its static folder: the tokenizer's files and
 * the weight per token id, read from the model's `folder` (a pack or Hugging Face folder), with
 * the query prefix and length the engine that runs `model` applies.
 */
export async function staticQuerySide(folder: string, model: ModelInfo): Promise<NonNullable<StaticWriteOptions['query']>> {
  const { tokenizer, weights } = await openModelFolder(folder);
  const table = weights.mlmHead?.queryWeights;
  if (!table) throw new ModelFormatError(`${folder}: an inference-free SPLADE model without its query weights`);
  return { tokenizer: tokenizer.files, weights: table, prefix: model.prefixes.query ?? '', maxTokens: model.maxTokens };
}

/** Writes the static folder beside `out`, then swaps it in: a failed write leaves the old folder as it was. */
async function writeFolder(
  out: string,
  bytes: Uint8Array,
  trainedDims: number[],
  o: Pick<IndexArgs, 'ngrams' | 'shardRows'>,
  query: StaticWriteOptions['query'],
): Promise<string> {
  const { signature, segment } = parseIndex(bytes);
  const tmp = `${out}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  const m = await writeStaticIndex(signature, segment, {
    trainedDims,
    ngrams: o.ngrams,
    ...(query ? { query } : {}),
    ...(o.shardRows === undefined ? {} : { shardRows: o.shardRows }),
    put: async (path, data) => {
      await mkdir(dirname(join(tmp, path)), { recursive: true });
      await writeFile(join(tmp, path), data);
    },
  });
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  const t = tierSizes(m);
  const s = m.sizes;
  return (
    `coarse tier ${mb(t.coarse)} (${m.coarse.dims} dims ${m.coarse.vector}), postings ${mb(t.postings)} in ${s.terms.length} shards${s.sparse ? ` + ${s.sparse.length} of lexical weights` : ''}, ` +
    `rows ${mb(t.rows)} in ${s.rows.length} shards, texts ${mb(t.texts)} in ${s.texts.length} shards`
  );
}
