/**
 * One runtime of `npm run bench -- rerank`, in its own process (each runtime's Dawn instance and
 * heap its own): opens the cross-encoder, times one short pair and one query against a batch of
 * documents, and prints one `RESULT {json}` line with the timings and the batch's scores.
 */
import { fileURLToPath } from 'node:url';
import { RESULT_MARK } from './common.js';
import { type Stats, timeCalls } from './measure.js';

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
  const { AutoModelForSequenceClassification, AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = spec.modelDir;
  const tokenizer = await AutoTokenizer.from_pretrained(spec.modelId);
  const model = await AutoModelForSequenceClassification.from_pretrained(spec.modelId, {
    device: spec.device,
    dtype: spec.dtype === 'f32' ? 'fp32' : spec.dtype,
  });
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
