import { InputError } from '../errors.js';
import type { CrossEncoderSpec, EncoderConfig } from '../weights/config.js';
import type { EncodedPair, TextTokenizer } from './tokenizer.js';

/** What ModelInfo.lateInteraction says of a late-interaction model. */
export interface LateInteractionInfo {
  /** Numbers per token vector. */
  dim: number;
  queryLength: number;
  documentLength: number;
  /** 'mean' where `rerank` averages MaxSim over the query's vectors (BGE-M3's colbert score); absent: the sum. */
  score?: 'mean';
  /** True where the model also makes one vector per text with `embed` (BGE-M3's dense output); absent: it only scores. */
  pooled?: true;
}

/**
 * Qwen3-Reranker's prompt, from its model card (format_instruction, prefix and suffix): the
 * model answers "yes" or "no" after it, and its score is how much more it leans to "yes".
 */
const QWEN3_RERANKER = {
  prefix:
    '<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. ' +
    'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n',
  suffix: '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  instruction: 'Given a web search query, retrieve relevant passages that answer the query',
};

/**
 * mxbai-rerank-v2's prompt, from mixedbread-ai/mxbai-rerank (MxbaiRerankV2): Qwen2's chat turns
 * around "query: ...", "document: ..." and a task that asks for 0 or 1; its score is the "1"
 * logit against the "0" one. The instruction, where given, goes before the query.
 */
const MXBAI_RERANK_V2 = {
  prefix:
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n',
  suffix: '<|im_end|>\n<|im_start|>assistant\n',
  task:
    'You are a search relevance expert who evaluates how well documents match search queries. For each query-document ' +
    'pair, carefully analyze the semantic relationship between them, then provide your binary relevance judgment ' +
    '(0 for not relevant, 1 for relevant).\nRelevance:',
  sep: '\n',
  /** MxbaiRerankV2's default max_length: the query, separator and document together. */
  maxLength: 8192,
};

/** A prompt's fixed pieces' ids, tokenized once per tokenizer: every document of every call shares them. */
const fixedIds = new WeakMap<TextTokenizer, Map<string, number[]>>();

function idsOf(tokenizer: TextTokenizer, text: string): number[] {
  let known = fixedIds.get(tokenizer);
  if (!known) {
    known = new Map();
    fixedIds.set(tokenizer, known);
  }
  let ids = known.get(text);
  if (!ids) {
    ids = tokenizer.tokenIds(text, false);
    known.set(text, ids);
  }
  return ids;
}

/**
 * What a reranker's model info says of it: that it is a cross-encoder (listwise or not), and the
 * instruction its prompt reads by default; or that it is a late-interaction model.
 */
export function rerankerInfo(config: Pick<EncoderConfig, 'crossEncoder' | 'lateInteraction' | 'listwise'>): {
  crossEncoder?: true;
  rerankInstruction?: string;
  listwise?: true;
  lateInteraction?: LateInteractionInfo;
} {
  // A listwise reranker reads the query with the documents, as a cross-encoder does; no instruction unless given one.
  if (config.listwise) return { crossEncoder: true, rerankInstruction: '', listwise: true };
  const late = config.lateInteraction;
  if (late) {
    const { dim, queryLength, documentLength, score, pooled } = late;
    return { lateInteraction: { dim, queryLength, documentLength, ...(score ? { score } : {}), ...(pooled ? { pooled } : {}) } };
  }
  const spec = config.crossEncoder;
  if (!spec) return {};
  if (spec.input === 'pair') return { crossEncoder: true };
  return { crossEncoder: true, rerankInstruction: spec.input === 'qwen3-reranker' ? QWEN3_RERANKER.instruction : '' };
}

/**
 * One (query, document) pair as the cross-encoder reads it, at most `maxTokens` ids each: by the
 * tokenizer's pair template (`segmentTypes`: whether the model reads its token types), or inside a
 * decoder reranker's prompt, whose fixed pieces are tokenized apart and kept whole while the text
 * between them is cut as the model's own code cuts it. One input, or with `windows` (pair
 * templates only) one per window of a document too long to fit.
 */
export function encodeRerankInput(
  tokenizer: TextTokenizer,
  spec: CrossEncoderSpec,
  query: string,
  document: string,
  maxTokens: number,
  options: { segmentTypes: boolean; instruction?: string | undefined; windows?: { overlap: number } | undefined },
): EncodedPair[] {
  if (spec.input === 'pair') {
    return options.windows
      ? tokenizer.encodePairWindows(query, document, maxTokens, options.segmentTypes, options.windows.overlap)
      : [tokenizer.encodePair(query, document, maxTokens, options.segmentTypes)];
  }
  if (options.windows) {
    throw new InputError(
      `windows apply to rerankers that read a pair template; this one reads its prompt up to ${maxTokens} tokens`,
    );
  }
  const ids =
    spec.input === 'qwen3-reranker'
      ? qwen3Input(tokenizer, query, document, maxTokens, options.instruction)
      : mxbaiInput(tokenizer, query, document, maxTokens, options.instruction);
  return [ids];
}

/** Qwen3-Reranker (its model card): the instruction, query and document between prefix and suffix lose their end. */
function qwen3Input(
  tokenizer: TextTokenizer,
  query: string,
  document: string,
  maxTokens: number,
  instruction: string | undefined,
): EncodedPair {
  const [before, after] = [idsOf(tokenizer, QWEN3_RERANKER.prefix), idsOf(tokenizer, QWEN3_RERANKER.suffix)];
  const body = tokenizer.tokenIds(
    `<Instruct>: ${instruction ?? QWEN3_RERANKER.instruction}\n<Query>: ${query}\n<Document>: ${document}`,
    false,
  );
  const room = maxTokens - before.length - after.length;
  if (room < 1) throw new InputError(`maxTokens ${maxTokens} leaves no room inside the reranker's prompt`);
  const kept = body.slice(0, room);
  const ids = [...before, ...kept, ...after];
  return { ids, secondSegment: ids.length, truncated: kept.length < body.length };
}

/**
 * mxbai-rerank-v2 (MxbaiRerankV2.prepare_inputs): the query keeps at most 3/4 of the room, the
 * document what the model's limit leaves after the query (at most the room), and the separator
 * and document together are cut to the room the query leaves; the room is max_length, less the
 * fixed pieces where the model's limit would not hold both.
 */
function mxbaiInput(
  tokenizer: TextTokenizer,
  query: string,
  document: string,
  maxTokens: number,
  instruction: string | undefined,
): EncodedPair {
  const m = MXBAI_RERANK_V2;
  const [prefix, suffix, task, sep] = [m.prefix, m.suffix, m.task, m.sep].map((t) => idsOf(tokenizer, t)) as [
    number[],
    number[],
    number[],
    number[],
  ];
  const fixed = prefix.length + task.length + suffix.length + sep.length;
  const room = Math.min(m.maxLength, maxTokens - fixed);
  if (room < 4) throw new InputError(`maxTokens ${maxTokens} leaves no room inside the reranker's prompt`);
  const queryText = `${instruction === undefined ? '' : `instruction: ${instruction}${m.sep}`}query: ${query}`;
  const queryAll = tokenizer.tokenIds(queryText, false);
  const q = queryAll.slice(0, Math.floor((room * 3) / 4));
  const docAll = tokenizer.tokenIds(`document: ${document}`, false);
  const d = docAll.slice(0, Math.min(maxTokens - q.length, room));
  const second = [...sep, ...d].slice(0, room - q.length);
  const ids = [...prefix, ...q, ...second, ...sep, ...task, ...suffix];
  const truncated = q.length < queryAll.length || second.length < sep.length + docAll.length;
  return { ids, secondSegment: ids.length, truncated };
}
