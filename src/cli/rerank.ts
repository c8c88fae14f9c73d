import { createInterface } from 'node:readline';
import { createEncoder } from '../client/client.js';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { checkText } from '../tokenizer/check-text.js';
import { QUANTS, type Quant } from '../weights/weights.js';
import { type CliIo, jsonLine, oneOf, parseFlags, positiveInt, UsageError, write } from './args.js';
import { modelFolder } from './hub-arg.js';

export const RERANK_USAGE = `Usage: m3web rerank --model DIR --query TEXT [options] < documents.jsonl

Scores the query against each document with a cross-encoder (a reranker: a BERT,
XLM-R, GTE, ModernBERT, DistilBERT, JinaBERT or Qwen3 *ForSequenceClassification checkpoint
with one label, e.g. cross-encoder/ms-marco-MiniLM-L-6-v2, BAAI/bge-reranker-base,
Qwen3-Reranker or mxbai-rerank-base-v2; XLM-R, RoBERTa and Qwen3-Reranker ones also as
llama.cpp's GGUF files, e.g. bge-reranker-v2-m3's), with a listwise reranker
(jinaai/jina-reranker-v3: the query and up to 125 documents in one prompt), or with a
late-interaction (ColBERT) model (stanford-futuredata or PyLate checkpoints, e.g.
answerdotai/answerai-colbert-small-v1).
Documents are read as JSON strings, one per line; one JSON object per document goes
to stdout, best first: {"index": line's document number from 0, "score": as
sentence-transformers' CrossEncoder.predict gives it, jina-reranker-v3's cosine,
or ColBERT's MaxSim}.

Options:
  --model DIR       Hugging Face folder, model pack, .gguf file, or hub id (hf:org/name)
  --revision R      hub branch, tag or commit (default main)
  --query TEXT      the query every document is scored against
  --top N           print only the best N
  --instruction T   what relevance means, for a reranker whose prompt takes one
                    (Qwen3-Reranker, default: its web search instruction;
                    mxbai-rerank-v2 and jina-reranker-v3, default: none)
  --windows         score a document too long for the model in overlapping windows
                    and keep the best (default: cut it, as sentence-transformers does)
  --layers L        run the first L layers (default: all)
  --backend B       webgpu, cpu or auto (default auto)
  --quant Q         weight storage for a hub id: f32, f16, q8 or q4 (default q8;
                    a Hugging Face folder runs in f32, a pack as it is stored)
  -h, --help        show this help

Exit status: 0 success, 1 model or runtime error, 2 usage or input error.
`;

const HINT = 'Run `m3web rerank --help` for usage.\n';

interface RerankArgs {
  model: string;
  revision: string | undefined;
  query: string;
  top: number | undefined;
  layers: number | undefined;
  instruction: string | undefined;
  windows: boolean;
  backend: BackendChoice;
  quant: Quant | undefined;
}

export function parseRerankArgs(args: string[]): RerankArgs | 'help' {
  const f = parseFlags(
    args,
    {
      model: 'string',
      revision: 'string',
      query: 'string',
      top: 'string',
      layers: 'string',
      instruction: 'string',
      windows: 'boolean',
      backend: 'string',
      quant: 'string',
    },
    HINT,
  );
  if (f.help) return 'help';
  const { str } = f;
  const model = str('model');
  if (!model) throw new UsageError('--model DIR is required', HINT);
  const query = str('query');
  if (query === undefined) throw new UsageError('--query TEXT is required', HINT);
  return {
    model,
    revision: str('revision'),
    query,
    top: positiveInt('top', str('top'), HINT),
    layers: positiveInt('layers', str('layers'), HINT),
    instruction: str('instruction'),
    windows: f.flag('windows'),
    backend: oneOf('backend', str('backend'), BACKEND_CHOICES, 'auto', HINT),
    quant: str('quant') === undefined ? undefined : oneOf('quant', str('quant'), QUANTS, 'f32', HINT),
  };
}

export async function rerankCommand(args: RerankArgs, io: CliIo): Promise<void> {
  checkText(args.query, '--query');
  const documents: string[] = [];
  let lineNo = 0;
  for await (const raw of createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNo++;
    const text = jsonLine(raw, lineNo, 'stdin', ' (expected one JSON string per line)');
    if (text === undefined) continue;
    if (typeof text !== 'string') throw new UsageError(`stdin line ${lineNo} is not a JSON string`);
    checkText(text, `stdin line ${lineNo}`);
    documents.push(text);
  }
  const folder = await modelFolder(args.model, io, { dtype: args.quant ?? 'q8', revision: args.revision });
  const reranker = await createEncoder({ model: folder, device: args.backend });
  try {
    const hits = await reranker.rerank(args.query, documents, {
      ...(args.layers === undefined ? {} : { layers: args.layers }),
      ...(args.instruction === undefined ? {} : { instruction: args.instruction }),
      ...(args.windows ? { long: 'windows' as const } : {}),
    });
    for (const { index, score } of hits.slice(0, args.top ?? hits.length))
      await write(io.stdout, `${JSON.stringify({ index, score })}\n`);
    const cut = hits.filter((h) => h.truncated).length;
    if (cut > 0) io.stderr.write(`m3web: ${cut} of ${hits.length} pairs were longer than the model's limit and were truncated\n`);
  } finally {
    await reranker.dispose();
  }
}
