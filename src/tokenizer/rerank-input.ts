import { InputError } from '../errors.js';
import type { CrossEncoderSpec } from '../weights/config.js';
import type { EncodedPair, TextTokenizer } from './tokenizer.js';

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

/** The prompt's prefix and suffix ids, tokenized once per tokenizer: every document of every call shares them. */
const promptEnds = new WeakMap<TextTokenizer, { before: number[]; after: number[] }>();

function qwen3PromptEnds(tokenizer: TextTokenizer): { before: number[]; after: number[] } {
  let ends = promptEnds.get(tokenizer);
  if (!ends) {
    ends = { before: tokenizer.tokenIds(QWEN3_RERANKER.prefix, false), after: tokenizer.tokenIds(QWEN3_RERANKER.suffix, false) };
    promptEnds.set(tokenizer, ends);
  }
  return ends;
}

/** What a cross-encoder's model info says of it: that it is one, and the instruction its prompt reads by default. */
export function crossEncoderInfo(spec: CrossEncoderSpec | undefined): { crossEncoder?: true; rerankInstruction?: string } {
  if (!spec) return {};
  return spec.input === 'pair' ? { crossEncoder: true } : { crossEncoder: true, rerankInstruction: QWEN3_RERANKER.instruction };
}

/**
 * One (query, document) pair as the cross-encoder reads it, at most `maxTokens` ids each: by the
 * tokenizer's pair template (`segmentTypes`: whether the model reads its token types), or inside
 * Qwen3-Reranker's prompt, whose prefix and suffix are tokenized apart and kept whole while the
 * instruction, query and document between them lose their end (the model card's truncation).
 * One input, or with `windows` (pair templates only) one per window of a document too long to fit.
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
  const instruction = options.instruction ?? QWEN3_RERANKER.instruction;
  const { before, after } = qwen3PromptEnds(tokenizer);
  const body = tokenizer.tokenIds(`<Instruct>: ${instruction}\n<Query>: ${query}\n<Document>: ${document}`, false);
  const room = maxTokens - before.length - after.length;
  if (room < 1) throw new InputError(`maxTokens ${maxTokens} leaves no room inside the reranker's prompt`);
  const kept = body.slice(0, room);
  const ids = [...before, ...kept, ...after];
  return [{ ids, secondSegment: ids.length, truncated: kept.length < body.length }];
}
