import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { Pooling } from '../weights/config.js';

/** The sentence-transformers files of a model folder, parsed (each may be absent). */
export interface SentenceTransformersFiles {
  /** modules.json */
  modules?: unknown;
  /** The Pooling module's config.json (1_Pooling/config.json in most folders). */
  pooling?: unknown;
  /** sentence_bert_config.json */
  bertConfig?: unknown;
  /** config_sentence_transformers.json */
  stConfig?: unknown;
}

/** What the sentence-transformers files decide about a converted model. */
export interface SentenceTransformersSettings {
  pooling?: Pooling;
  prefixes?: { query?: string; passage?: string };
  maxTokens?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The path of the Pooling module from modules.json (default 1_Pooling), where its config.json lives. */
export function poolingPath(modules: unknown): string {
  if (!Array.isArray(modules)) return '1_Pooling';
  const pooling = modules.find((m) => isObject(m) && String(m.type).endsWith('.Pooling'));
  return isObject(pooling) && typeof pooling.path === 'string' && /^[\w.-]+$/.test(pooling.path) ? pooling.path : '1_Pooling';
}

function poolingOf(raw: unknown): Pooling | undefined {
  if (!isObject(raw)) return undefined;
  if (raw.pooling_mode_cls_token === true) return 'cls';
  if (raw.pooling_mode_mean_tokens === true) return 'mean';
  const asked = Object.entries(raw)
    .filter(([k, v]) => k.startsWith('pooling_mode_') && v === true)
    .map(([k]) => k.slice('pooling_mode_'.length));
  throw new UnsupportedError(`the Pooling module asks for ${asked.join(', ') || 'no pooling'}; m3web pools by mean or CLS`);
}

/**
 * Reads the modules a sentence-transformers model applies after the transformer. Modules m3web
 * does not run (Dense projections, other poolings) are refused rather than skipped: skipping
 * one would return vectors unlike the model's without a word.
 */
export function sentenceTransformersSettings(files: SentenceTransformersFiles): SentenceTransformersSettings {
  const out: SentenceTransformersSettings = {};
  if (files.modules !== undefined) {
    if (!Array.isArray(files.modules)) throw new ModelFormatError('modules.json must be a list of modules');
    for (const m of files.modules) {
      const type = isObject(m) ? String(m.type) : '';
      if (/\.(Transformer|Pooling|Normalize)$/.test(type)) continue;
      throw new UnsupportedError(
        `modules.json lists a ${type || 'module'} after the transformer; m3web runs the transformer, Pooling and Normalize modules only`,
      );
    }
  }
  const pooling = poolingOf(files.pooling);
  if (pooling) out.pooling = pooling;
  const length = isObject(files.bertConfig) ? files.bertConfig.max_seq_length : undefined;
  // sentence-transformers truncates the tokenized input, special tokens included, to it.
  if (typeof length === 'number' && Number.isInteger(length) && length > 1) out.maxTokens = length;
  const prompts = isObject(files.stConfig) && isObject(files.stConfig.prompts) ? files.stConfig.prompts : {};
  const prompt = (...names: string[]) => names.map((n) => prompts[n]).find((p): p is string => typeof p === 'string' && p !== '');
  const query = prompt('query');
  const passage = prompt('passage', 'document');
  if (query !== undefined || passage !== undefined) {
    out.prefixes = { ...(query === undefined ? {} : { query }), ...(passage === undefined ? {} : { passage }) };
  }
  return out;
}
