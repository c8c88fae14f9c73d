import { InputError, ModelFormatError } from '../errors.js';
import type { ListwiseSpec } from '../weights/encoder-config.js';
import type { TextTokenizer } from './tokenizer.js';

/**
 * jina-reranker-v3's prompt (its modeling.py, format_docs_prompts_func): a system turn, then the
 * passages, each numbered and followed by the document token, and the query followed by the query
 * token, before an assistant turn with an empty think block.
 */
const SYSTEM =
  '<|im_start|>system\n' +
  'You are a search relevance expert who can determine a ranking of the passages based on how relevant they are to the query. ' +
  'If the query is a question, how relevant a passage is depends on how well it answers the question. ' +
  'If not, try to analyze the intent of the query and assess how well each passage satisfies the intent. ' +
  'If an instruction is provided, you should follow the instruction when determining the ranking.' +
  '<|im_end|>\n<|im_start|>user\n';
const ASSISTANT = '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n';

/** JinaForRanking.rerank's limits: tokens of the query, of a passage, and passages per prompt. */
const MAX_QUERY = 512;
const MAX_DOCUMENT = 2048;
const BLOCK_SIZE = 125;

export interface ListwiseBlock {
  /** The prompt's token ids. */
  ids: number[];
  /** The documents it reads, by index, in prompt order. */
  documents: number[];
  /** Where each document's token is, in the same order. */
  documentAt: number[];
  /** Where the query's token is. */
  queryAt: number;
}

export interface ListwisePrompts {
  blocks: ListwiseBlock[];
  /** Per document: it, or the query, was cut. */
  truncated: boolean[];
}

/**
 * The prompts a listwise reranker reads for `query` and `documents`, as JinaForRanking.rerank
 * builds them: each text without the model's two tokens, cut at its limit (and decoded back to
 * text); the documents in blocks of at most 125 that close when the room left, `maxTokens` less
 * twice the query and each document's tokens, is one document's limit or less. Two departures
 * keep a prompt within the model's positions, which the model's code leaves to its 131,072: the
 * limits shrink for a model of fewer positions (the query to an eighth of them, a document to
 * half), and a block whose prompt still passes them is split in halves until each fits (a block of
 * one document cuts the document further).
 */
export function listwisePrompts(
  tokenizer: TextTokenizer,
  spec: ListwiseSpec,
  query: string,
  documents: readonly string[],
  maxTokens: number,
  instruction?: string,
): ListwisePrompts {
  const documentToken = markerId(tokenizer, spec.documentToken);
  const queryToken = markerId(tokenizer, spec.queryToken);
  const maxQuery = Math.min(MAX_QUERY, Math.floor(maxTokens / 8));
  const maxDocument = Math.min(MAX_DOCUMENT, Math.floor(maxTokens / 2));
  const clean = (text: string) => text.split(spec.documentToken).join('').split(spec.queryToken).join('');
  const q = cut(tokenizer, clean(query), maxQuery);
  const docs = documents.map((d) => cut(tokenizer, clean(d), maxDocument));
  const room = maxTokens - 2 * q.length;
  const groups: number[][] = [];
  let group: number[] = [];
  let left = room;
  for (const [i, d] of docs.entries()) {
    group.push(i);
    left -= d.length;
    if (group.length >= BLOCK_SIZE || left <= maxDocument) {
      groups.push(group);
      group = [];
      left = room;
    }
  }
  if (group.length > 0) groups.push(group);
  const encode = (indices: number[]): ListwiseBlock[] => {
    const ids = tokenizer.tokenIds(
      prompt(
        q.text,
        indices.map((i) => (docs[i] as Cut).text),
        instruction,
        spec,
      ),
      true,
    );
    if (ids.length > maxTokens) {
      if (indices.length > 1) {
        const half = Math.floor(indices.length / 2);
        return [...encode(indices.slice(0, half)), ...encode(indices.slice(half))];
      }
      // One document, in a model of few positions: it gives up the tokens the prompt is over by.
      const i = indices[0] as number;
      const d = docs[i] as Cut;
      const keep = d.length - (ids.length - maxTokens);
      if (keep < 1) {
        throw new InputError(
          `the reranker's prompt takes ${ids.length - d.length} tokens without its document, the model reads ${maxTokens}` +
            (instruction ? ' (a shorter instruction leaves room)' : ''),
        );
      }
      docs[i] = { ...cut(tokenizer, d.text, keep), cut: true };
      return encode(indices);
    }
    const documentAt: number[] = [];
    const queryAt: number[] = [];
    ids.forEach((id, at) => {
      if (id === documentToken) documentAt.push(at);
      else if (id === queryToken) queryAt.push(at);
    });
    if (documentAt.length !== indices.length || queryAt.length !== 1) {
      throw new ModelFormatError(
        `the reranker's prompt reads ${documentAt.length} document tokens for ${indices.length} documents and ${queryAt.length} query tokens: ` +
          'its tokenizer does not keep them whole',
      );
    }
    return [{ ids, documents: indices, documentAt, queryAt: queryAt[0] as number }];
  };
  return { blocks: groups.flatMap(encode), truncated: docs.map((d) => q.cut || d.cut) };
}

interface Cut {
  text: string;
  length: number;
  cut: boolean;
}

/** JinaForRanking._truncate_texts for one text: at `limit` tokens or more it is cut there and decoded. */
function cut(tokenizer: TextTokenizer, text: string, limit: number): Cut {
  const ids = tokenizer.tokenIds(text, true);
  if (ids.length < limit) return { text, length: ids.length, cut: false };
  return { text: tokenizer.decode(ids.slice(0, limit)), length: limit, cut: ids.length > limit };
}

function prompt(query: string, documents: readonly string[], instruction: string | undefined, spec: ListwiseSpec): string {
  const passages = documents.map((d, i) => `<passage id="${i}">\n${d}${spec.documentToken}\n</passage>`).join('\n');
  return (
    SYSTEM +
    `I will provide you with ${documents.length} passages, each indicated by a numerical identifier. ` +
    `Rank the passages based on their relevance to query: ${query}\n` +
    (instruction ? `<instruct>\n${instruction}\n</instruct>\n` : '') +
    `${passages}\n<query>\n${query}${spec.queryToken}\n</query>` +
    ASSISTANT
  );
}

function markerId(tokenizer: TextTokenizer, token: string): number {
  const id = tokenizer.tokenId(token);
  if (id === null) throw new ModelFormatError(`the reranker's tokenizer has no ${token} token`);
  return id;
}
