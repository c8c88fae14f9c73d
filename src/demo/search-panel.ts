import type { Encoder, IndexDoc, LexiconData, SearchHit, SearchMode, VectorIndex } from '../index.js';
import { createIndex, fetchLexicons } from '../index.js';
import { markedNodes } from '../ui/index.js';
import corpusDocsUrl from './corpus/flores-dev.jsonl?url';
import corpusUrl from './corpus/flores-dev.m3index?url';
import { CORPUS_LANGUAGES } from './corpus/languages.js';
import { $, layersText } from './dom.js';
import { docsFromFiles, OWN_DOC_TYPES } from './own-docs.js';
import { type RerankBox, scoresOnly } from './rerank-box.js';

const EXAMPLE_QUERY = 'Which trips is the travel agent advertising?';

/**
 * The corpus is translated sentences, where m3-mini's vectors are strong (FLORES bitext
 * retrieval 62%): words and vectors weigh alike here. The model's own default (manifest
 * `search.fusion`) was measured on questions against paragraphs, where its vectors are not, and
 * would rank nearly by words alone: same-language hits only.
 */
const SENTENCE_FUSION = { method: 'ranks' as const, k: 60, weights: { vector: 1, lexical: 1 } };

/**
 * The database is named after the bundled export's file, whose name carries its content hash in a
 * build: a new model or corpus gets a fresh index instead of old vectors under the same model id.
 */
const INDEX_NAME = `playground-${corpusUrl.slice(corpusUrl.lastIndexOf('/') + 1)}`;

/** The corpus's languages that public/lexicons has (all but Finnish and Swahili). */
const LEXICON_LANGUAGES = 'ar bn de el es fa fr he hi id it ja ko pl pt ru th tr uk vi zh'.split(' ');

/**
 * The lexicons both indexes translate query words with (a query word no text holds also looks
 * for its translations), or undefined where they could not be fetched (offline: the service
 * worker keeps the site's build, not public/): search then goes on without.
 */
const playgroundLexicons = (): Promise<LexiconData[] | undefined> =>
  fetchLexicons(new URL('lexicons/', document.baseURI), LEXICON_LANGUAGES).catch(() => undefined);

/** The model the bundled corpus export was embedded with. */
export const CORPUS_MODEL_ID = 'm3-mini';
const ADD_BATCH = 64;

/** Adds `docs` in batches of ADD_BATCH, saying before each how many are done (`progress(done, total)`). */
async function addInBatches(
  index: VectorIndex,
  docs: readonly IndexDoc[],
  progress: (done: string, total: string) => void,
): Promise<void> {
  for (let i = 0; i < docs.length; i += ADD_BATCH) {
    progress(i.toLocaleString(), docs.length.toLocaleString());
    await index.add(docs.slice(i, i + ADD_BATCH));
  }
}

/** Embeds the corpus sentences with another model, in batches, saying how far it got. */
async function embedCorpus(index: VectorIndex, model: string, status: (text: string) => void): Promise<void> {
  const response = await fetch(corpusDocsUrl);
  if (!response.ok) throw new Error(`the corpus download failed (HTTP ${response.status})`);
  const docs = (await response.text())
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as IndexDoc);
  await addInBatches(index, docs, (done, total) =>
    status(`Embedding the corpus with ${model} on this device: ${done} of ${total} sentences…`),
  );
}

/**
 * Opens the IndexedDB index, filling it when it is empty (the first visit): from the bundled
 * export for the bundled model, else by embedding the sentences with the model in use.
 */
async function openCorpus(
  encoder: Encoder,
  lexicons: LexiconData[] | undefined,
  status: (text: string) => void,
): Promise<VectorIndex> {
  const started = performance.now();
  const { model } = await encoder.info();
  const bundled = model.id === CORPUS_MODEL_ID;
  const name = bundled ? INDEX_NAME : `${INDEX_NAME}-${model.id}-${model.quantization}`;
  // Sentences searched by sentences: no query / passage prefixes (the bundled export's setting too).
  // A SPLADE model's index holds its weights and no vectors.
  const rows = model.sparseOnly ? {} : { vector: 'int8' as const };
  const index = await createIndex({
    encoder,
    name,
    store: 'indexeddb',
    ...rows,
    symmetric: true,
    ...(lexicons ? { lexicons } : {}),
  });
  // Stored vectors of other weights under the same model id (a new Hub revision) are not searched.
  if (index.needsRebuild) await index.clear();
  if (index.size > 0) {
    status(`${index.size.toLocaleString()} sentences, loaded from this browser's IndexedDB.`);
    return index;
  }
  if (!bundled) {
    await embedCorpus(index, model.id, status);
    const ms = performance.now() - started;
    status(`${index.size.toLocaleString()} sentences embedded by ${model.id} in ${ms.toFixed(0)} ms and kept in IndexedDB.`);
    return index;
  }
  status('Importing the bundled corpus into IndexedDB…');
  const response = await fetch(corpusUrl);
  if (!response.ok) throw new Error(`the corpus download failed (HTTP ${response.status})`);
  await index.import(new Uint8Array(await response.arrayBuffer()));
  const ms = performance.now() - started;
  status(
    `${index.size.toLocaleString()} sentences indexed in ${ms.toFixed(0)} ms and kept in IndexedDB for your next visit ` +
      '(vectors precomputed by `m3web index` with this model).',
  );
  return index;
}

/** Which rankers found the hit, and where: "vector #3 · words #1". */
function rankBadge(hit: SearchHit): HTMLSpanElement {
  const badge = document.createElement('span');
  badge.className = 'ranks';
  const parts = [
    hit.ranks.vector === undefined ? null : `vector #${hit.ranks.vector}`,
    hit.ranks.lexical === undefined ? null : `words #${hit.ranks.lexical}`,
    hit.ranks.sparse === undefined ? null : `lexical weights #${hit.ranks.sparse}`,
  ].filter((p) => p !== null);
  badge.textContent = parts.join(' · ');
  return badge;
}

const HOW: Record<SearchMode, (s: { layers: number; dims: number; size: string; where: string; fusion: string }) => string> = {
  hybrid: (s) =>
    `embedding the query at ${layersText(s.layers)}, scoring ${s.size} at ${s.dims} dims on ${s.where} and by BM25, fused ${s.fusion}`,
  vector: (s) => `embedding the query at ${layersText(s.layers)}, scoring ${s.size} at ${s.dims} dims on ${s.where}`,
  lexical: (s) => `BM25 over the words of ${s.size}, no model call`,
  sparse: (s) => `embedding the query at ${layersText(s.layers)}, scoring ${s.size} by the model's lexical weights`,
};

/**
 * What the panel searches: the bundled sentences (symmetric, words and vectors weighed alike,
 * filtered by language), or the user's own files (sections of pages against questions: the
 * model's measured fusion).
 */
interface Corpus {
  index: VectorIndex;
  sentences: boolean;
}

/** "1 document", "2,376 sentences". */
const counted = (n: number, noun: string) => `${n.toLocaleString()} ${noun}${n === 1 ? '' : 's'}`;

/** How long typing pauses before a lexical search runs. */
const TYPING_PAUSE_MS = 120;

function hitRow(hit: SearchHit, sentences: boolean): HTMLLIElement {
  const li = document.createElement('li');
  const lang = String(hit.meta.lang);
  const tag = document.createElement('span');
  tag.className = 'tag';
  tag.textContent = sentences ? (CORPUS_LANGUAGES[lang] ?? lang) : String(hit.meta.page ?? hit.id);
  const score = document.createElement('span');
  score.className = 'score';
  // A reranked hit shows the cross-encoder's relevance; the first stage's score stays in the tooltip.
  score.textContent = (hit.rerankScore ?? hit.score).toFixed(3);
  score.title = hit.rerankScore === undefined ? 'first-stage score' : `reranker's score (first stage: ${hit.score.toFixed(3)})`;
  const text = document.createElement('span');
  if (hit.title) {
    const title = document.createElement('strong');
    title.className = 'hit-title';
    title.append(...markedNodes(hit.title.text, hit.title.highlights));
    text.append(title, ' ');
  }
  text.append(...markedNodes(hit.chunk.text, hit.chunk.highlights));
  if (sentences) text.lang = lang.slice(0, 3);
  li.append(score, tag, text, rankBadge(hit));
  li.title = sentences ? `${hit.id} · topic: ${String(hit.meta.topic)}` : String(hit.meta.url ?? hit.id);
  return li;
}

/**
 * Embeds the picked files into an index of their own, kept in memory for the visit, saying how
 * far it got; documents as passages and queries as queries (the model's prefixes), as a site's
 * search would.
 */
async function ownCorpus(
  encoder: Encoder,
  files: File[],
  lexicons: LexiconData[] | undefined,
  status: (text: string) => void,
): Promise<VectorIndex> {
  const started = performance.now();
  status(`Reading ${files.length} files…`);
  const { docs, read } = await docsFromFiles(files);
  const index = await createIndex({ encoder, name: 'playground-own', ...(lexicons ? { lexicons } : {}) });
  try {
    await addInBatches(index, docs, (done, total) =>
      status(`Embedding your files on this device: ${done} of ${total} documents…`),
    );
  } catch (err) {
    index.close();
    throw err;
  }
  const ms = performance.now() - started;
  status(
    `${counted(docs.length, 'document')} from ${counted(read, 'file')} (a document per section of a page) embedded in ${ms.toFixed(0)} ms, kept in memory for this visit.`,
  );
  return index;
}

/** What the lexical ranker read a query's words as: `byWord` from corrections() or translations(), after `lead`. */
function wordsNote(lead: string, byWord: Record<string, string[]>): string {
  const read = Object.entries(byWord).map(([typed, words]) => `“${typed}” as ${words.map((w) => `“${w}”`).join(' or ')}`);
  return read.length ? ` ${lead}: ${read.join('; ')}.` : '';
}

/** The search panel: the bundled FLORES sentences in 24 languages, queried at the chosen width. */
export async function setupSearchPanel(
  encoder: Encoder,
  shape: () => { layers: number; dims: number },
  rerank: RerankBox,
): Promise<void> {
  const status = (text: string) => {
    $('search-status').textContent = text;
  };
  const input = $('search-input') as HTMLInputElement;
  const button = $('search-run') as HTMLButtonElement;
  const langSelect = $('search-lang') as HTMLSelectElement;
  const modeSelect = $('search-mode') as HTMLSelectElement;
  langSelect.replaceChildren(
    new Option('any language', ''),
    ...Object.entries(CORPUS_LANGUAGES).map(([code, name]) => new Option(name, code)),
  );
  const { model } = await encoder.info();
  const measuredFusion = `by ${model.search?.fusion.method === 'scores' ? 'score' : 'rank'} with the model's measured weights`;
  if (scoresOnly(model)) {
    $('rerank-form').hidden = true;
    $('rerank-status').hidden = true;
    const kind = model.crossEncoder ? 'a cross-encoder' : 'a late-interaction (ColBERT) model';
    status(
      `This model is ${kind} (a reranker): it scores a query against documents (the compare panel shows it) and makes no single vector per text to search with. Open an embedding model here, and pass this one to index.search as its rerank step.`,
    );
    return;
  }
  let sentences: VectorIndex;
  const lexicons = await playgroundLexicons();
  try {
    sentences = await openCorpus(encoder, lexicons, status);
  } catch (err) {
    $('search-status').classList.add('error');
    const storage = (err as { code?: string }).code === 'STORAGE_QUOTA';
    status(
      `The search corpus could not be set up: ${(err as Error).message}.` +
        (storage ? ' Browser storage is full: free some space for this site and reload.' : ''),
    );
    return;
  }
  let corpus: Corpus = { index: sentences, sentences: true };
  const sentencesStatus = $('search-status').textContent ?? '';
  // An index of the model's lexical weights (BGE-M3's, SPLADE's) can rank by them alone too;
  // a SPLADE model's has no vectors to rank by.
  if (sentences.signature.sparse && !modeSelect.querySelector('option[value="sparse"]'))
    modeSelect.append(new Option("lexical weights (the model's sparse output)", 'sparse'));
  if (sentences.signature.dims === 0) modeSelect.querySelector('option[value="vector"]')?.remove();
  // Each search takes a ticket; only the latest one shows its hits (typing starts one per key).
  let latest = 0;
  let pending: ReturnType<typeof setTimeout> | undefined;
  /** `typing`: a lexical search on each keystroke, its last word completed while it is typed. */
  const run = async (typing = false) => {
    // Any other search (Enter, a menu) supersedes a keystroke's that has not started yet.
    if (!typing) clearTimeout(pending);
    const ticket = ++latest;
    // A finished word ends in a space: typing keeps it, so that word is not completed.
    const query = typing ? input.value.trimStart() : input.value.trim();
    if (!query.trim()) {
      $('search-time').textContent = 'Type a query in any language.';
      return;
    }
    // While typing, the last hits stay until the next ones replace them, and the button stays
    // live: a click then is the user's and must not land on a button a keystroke disabled.
    if (!typing) {
      button.disabled = true;
      $('search-time').textContent = 'Searching…';
      $('search-hits').replaceChildren();
    }
    try {
      const { index } = corpus;
      // The corpus is stored at full depth; the chosen width narrows the search.
      const dims = Math.min(shape().dims, index.signature.dims);
      const lang = corpus.sentences ? langSelect.value : '';
      const mode = modeSelect.value as SearchMode;
      const step = rerank.step();
      const started = performance.now();
      const byWords = mode === 'lexical' || mode === 'hybrid';
      const [hits, corrected, translated] = await Promise.all([
        index.search(query, {
          k: 10,
          dims,
          mode,
          ...(corpus.sentences ? { fusion: SENTENCE_FUSION } : {}),
          ...(lang ? { filter: { lang } } : {}),
          ...(step ? { rerank: step } : {}),
          ...(typing ? { prefix: true } : {}),
        }),
        byWords ? index.corrections(query, { prefix: typing }) : {},
        byWords ? index.translations(query) : {},
      ]);
      if (ticket !== latest) return;
      const ms = performance.now() - started;
      const how = HOW[mode]({
        layers: index.signature.layers,
        dims,
        size: counted(index.size, corpus.sentences ? 'sentence' : 'document'),
        where: index.backend === 'webgpu' ? 'the GPU' : 'the CPU',
        fusion: corpus.sentences ? 'by rank with equal weights' : measuredFusion,
      });
      const second = step ? `; the best ${step.top} read again with the query by the cross-encoder` : '';
      const completing = typing ? ', its last word completed as you type' : '';
      $('search-time').textContent =
        `${hits.length} hits in ${ms.toFixed(0)} ms (${how}${second}${completing}).` +
        wordsNote('Words no text holds, read as the nearest spellings found', corrected) +
        wordsNote('Also searched as their translations', translated);
      $('search-hits').replaceChildren(...hits.map((hit) => hitRow(hit, corpus.sentences)));
    } catch (err) {
      if (ticket === latest) $('search-time').textContent = `Search failed: ${(err as Error).message}`;
    } finally {
      // An earlier search ending must not re-enable the button while the latest still runs.
      if (ticket === latest) button.disabled = false;
    }
  };
  /** Searches `next` from now on (the sentences, or the user's files), closing the files' index it replaces. */
  const use = (next: Corpus) => {
    if (!corpus.sentences && corpus.index !== next.index) corpus.index.close();
    corpus = next;
    langSelect.hidden = !next.sentences;
    $('search-own-reset').hidden = next.sentences;
    $('search-title').textContent = next.sentences
      ? '4. Search 2,376 sentences in 24 languages'
      : `4. Search your ${counted(next.index.size, 'document')}`;
  };
  const pickers = [$('search-files'), $('search-folder')] as HTMLInputElement[];
  ($('search-files') as HTMLInputElement).accept = OWN_DOC_TYPES;
  for (const picker of pickers) {
    picker.disabled = false;
    picker.addEventListener('change', async () => {
      const picked = [...(picker.files ?? [])];
      if (picked.length === 0) return;
      for (const p of pickers) p.disabled = true;
      $('search-status').classList.remove('error');
      try {
        use({ index: await ownCorpus(encoder, picked, lexicons, status), sentences: false });
        await run();
      } catch (err) {
        $('search-status').classList.add('error');
        status(
          `Your files could not be indexed: ${(err as Error).message}. The panel still searches ${corpus.sentences ? 'the sentences' : 'your earlier files'}.`,
        );
      } finally {
        for (const p of pickers) p.disabled = false;
        picker.value = '';
      }
    });
  }
  $('search-own-reset').addEventListener('click', () => {
    use({ index: sentences, sentences: true });
    $('search-status').classList.remove('error');
    status(sentencesStatus);
    void run();
  });
  input.value = EXAMPLE_QUERY;
  button.addEventListener('click', () => void run());
  modeSelect.addEventListener('change', () => void run());
  // Lexical search needs no model call: it answers as the user types.
  input.addEventListener('input', () => {
    if (modeSelect.value !== 'lexical') return;
    clearTimeout(pending);
    pending = setTimeout(() => void run(true), TYPING_PAUSE_MS);
  });
  rerank.onChange(() => void run());
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') void run();
  });
  button.disabled = false;
  await run();
}
