/**
 * One runtime of `npm run bench -- rerank` (or `colbert`), in its own process (each runtime's
 * Dawn instance and heap its own): opens the reranker, times one short pair and one query against
 * a batch of documents, and prints one `RESULT {json}` line with the timings and the batch's scores.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '../src/checkpoint/safetensors.js';
import { RESULT_MARK } from './common.js';
import { type Stats, timeCalls } from './measure.js';
import type { LateBench } from './models.js';

export interface RerankSpec {
  runtime: 'm3web' | 'transformers.js';
  device: 'webgpu' | 'cpu';
  dtype: 'f32' | 'q8';
  /** m3web: the model folder (pack or HF). transformers.js: the folder holding `<modelId>/`. */
  modelDir: string;
  modelId: string;
  query: string;
  /** The short case's document. */
  shortDoc: string;
  documents: string[];
  plan: { minRuns: number; maxRuns: number; budgetMs: number };
  /** A late-interaction model (`colbert`): transformers.js runs its encoder and the ColBERT steps in JavaScript. */
  late?: LateBench;
}

export interface RerankResult {
  runtime: string;
  device: string;
  dtype: string;
  loadMs?: number;
  short?: Stats;
  batch?: Stats;
  /** The batch's scores, in the documents' order. */
  scores?: number[];
  error?: string;
}

type Rerank = (query: string, documents: string[]) => Promise<number[]>;

/** transformers.js's tokenizer and a model of class `Model` from the spec's local folder (nothing fetched). */
async function transformersModel<M>(
  spec: RerankSpec,
  Model: { from_pretrained(id: string, options: { device: 'webgpu' | 'cpu'; dtype: 'fp32' | 'q8' }): Promise<M> },
) {
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = spec.modelDir;
  const tokenizer = await AutoTokenizer.from_pretrained(spec.modelId);
  const model = await Model.from_pretrained(spec.modelId, {
    device: spec.device,
    dtype: spec.dtype === 'f32' ? 'fp32' : spec.dtype,
  });
  return { tokenizer, model };
}

async function open(spec: RerankSpec): Promise<{ rerank: Rerank; close(): Promise<void> }> {
  if (spec.runtime === 'm3web') {
    const { createEncoder } = await import('../src/index.js');
    const encoder = await createEncoder({ model: spec.modelDir, device: spec.device });
    const info = await encoder.info();
    if (info.backend !== spec.device) throw new Error(`m3web asked for ${spec.device} but runs on ${info.backend}`);
    return {
      rerank: async (query, documents) => {
        const scores = new Array<number>(documents.length);
        for (const hit of await encoder.rerank(query, documents)) scores[hit.index] = hit.score;
        return scores;
      },
      close: () => encoder.dispose(),
    };
  }
  if (spec.late) return openLate(spec, spec.late);
  const { AutoModelForSequenceClassification } = await import('@huggingface/transformers');
  const { tokenizer, model } = await transformersModel(spec, AutoModelForSequenceClassification);
  return {
    // CrossEncoder.predict's sigmoid over the one logit, pairs padded into one batch. The token
    // types asked for: the bench tokenizer's class (PreTrainedTokenizerFast) leaves them out in
    // transformers.js, where Python's BertTokenizer, a BERT cross-encoder's, returns them.
    rerank: async (query, documents) => {
      const inputs = tokenizer(new Array<string>(documents.length).fill(query), {
        text_pair: documents,
        padding: true,
        truncation: true,
        return_token_type_ids: true,
      });
      const { logits } = await model(inputs);
      return Array.from(logits.data as Float32Array, (l) => 1 / (1 + Math.exp(-l)));
    },
    close: async () => {
      await model.dispose();
    },
  };
}

/**
 * ColBERT on transformers.js as a page would write it (it has no late-interaction pipeline):
 * AutoModel's last_hidden_state for the query (marker after [CLS], mask tokens to the query
 * length, not attended) and for the documents (marker, cut, padded into one batch), then the
 * projection, L2 normalisation and MaxSim in JavaScript. No skiplist: the bench model has none
 * (mask_punctuation false).
 */
async function openLate(spec: RerankSpec, late: LateBench): Promise<{ rerank: Rerank; close(): Promise<void> }> {
  const { AutoModel, Tensor } = await import('@huggingface/transformers');
  const { tokenizer, model } = await transformersModel(spec, AutoModel);
  const weights = new SafetensorsFile(new Uint8Array(await readFile(join(spec.modelDir, spec.modelId, 'model.safetensors'))));
  const H = (weights.shape('linear.weight') as number[])[1] as number;
  const w = await weights.get('linear.weight', [late.dim, H]);
  const ids = (text: string, length: number, marker: number) => {
    const all = tokenizer.encode(text) as number[];
    const cut = all.length > length - 1 ? [...all.slice(0, length - 2), all.at(-1) as number] : all;
    return [cut[0] as number, marker, ...cut.slice(1)];
  };
  /** Each text's normalised token vectors ([n, dim], n its own length). */
  const vectors = async (seqs: number[][], attended: number[]): Promise<Float32Array[]> => {
    const S = Math.max(...seqs.map((q) => q.length));
    const flat = (f: (q: number[], j: number, i: number) => number) =>
      BigInt64Array.from(seqs.flatMap((q, i) => Array.from({ length: S }, (_, j) => BigInt(f(q, j, i)))));
    const dims = [seqs.length, S];
    const out = await model({
      input_ids: new Tensor(
        'int64',
        flat((q, j) => q[j] ?? 0),
        dims,
      ),
      attention_mask: new Tensor(
        'int64',
        flat((_, j, i) => (j < (attended[i] as number) ? 1 : 0)),
        dims,
      ),
      token_type_ids: new Tensor(
        'int64',
        flat(() => 0),
        dims,
      ),
    });
    const h = out.last_hidden_state.data as Float32Array;
    return seqs.map((q, i) => {
      const v = new Float32Array(q.length * late.dim);
      for (let t = 0; t < q.length; t++) {
        const x = h.subarray((i * S + t) * H, (i * S + t + 1) * H);
        let norm = 0;
        for (let r = 0; r < late.dim; r++) {
          let y = 0;
          for (let c = 0; c < H; c++) y += (x[c] as number) * (w[r * H + c] as number);
          v[t * late.dim + r] = y;
          norm += y * y;
        }
        const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
        for (let r = 0; r < late.dim; r++) v[t * late.dim + r] = (v[t * late.dim + r] as number) * inv;
      }
      return v;
    });
  };
  return {
    rerank: async (query, documents) => {
      const q = ids(query, late.queryLength, late.queryMarker);
      const expanded = [...q, ...new Array<number>(late.queryLength - q.length).fill(late.mask)];
      const [qv] = await vectors([expanded], [q.length]);
      const docs = documents.map((d) => ids(d, late.documentLength, late.documentMarker));
      const dv = await vectors(
        docs,
        docs.map((d) => d.length),
      );
      return dv.map((d) => {
        let total = 0;
        for (let a = 0; a < late.queryLength; a++) {
          let best = Number.NEGATIVE_INFINITY;
          for (let b = 0; b < d.length / late.dim; b++) {
            let s = 0;
            for (let c = 0; c < late.dim; c++) s += (qv?.[a * late.dim + c] as number) * (d[b * late.dim + c] as number);
            best = Math.max(best, s);
          }
          total += best;
        }
        return total;
      });
    },
    close: async () => {
      await model.dispose();
    },
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] as string) as RerankSpec;
  const base = { runtime: spec.runtime, device: spec.device, dtype: spec.dtype };
  let result: RerankResult;
  try {
    const t0 = performance.now();
    const m = await open(spec);
    const scores = await m.rerank(spec.query, spec.documents);
    const loadMs = performance.now() - t0;
    const short = await timeCalls(() => m.rerank(spec.query, [spec.shortDoc]), spec.plan);
    const batch = await timeCalls(() => m.rerank(spec.query, spec.documents), { ...spec.plan, maxRuns: spec.plan.minRuns });
    await m.close();
    result = { ...base, loadMs, short, batch, scores };
  } catch (err) {
    result = { ...base, error: err instanceof Error ? err.message : String(err) };
  }
  console.log(`${RESULT_MARK}${JSON.stringify(result)}`);
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main();
