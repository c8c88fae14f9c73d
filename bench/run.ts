/**
 * `npm run bench [subcommand] [options]`. Each subcommand is a module exporting
 * `main(args): Promise<number>` (the exit code), loaded only when chosen; adding one means adding
 * a line to SUBCOMMANDS below.
 */
import { type AdapterName, ensureAdapter, isAdapterName } from './adapter.js';

export interface BenchModule {
  main(args: string[]): Promise<number>;
}

interface Subcommand {
  summary: string;
  /** Runs WebGPU in this Node process through Dawn, so the Vulkan driver is chosen before it starts. */
  usesDawn: boolean;
  load(): Promise<BenchModule>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  auto: {
    summary: "device 'auto' vs forced cpu / webgpu on m3-mini through the public API (1x16, 32x128), and the probe's time",
    usesDawn: true,
    load: () => import('./auto.js'),
  },
  browser: {
    summary: 'm3web vs transformers.js in headless Chromium (WebGPU and CPU/wasm), same model and texts',
    usesDawn: false,
    load: () => import('./browser.js'),
  },
  rerank: {
    summary: 'm3web rerank vs transformers.js text-classification on the same cross-encoder (Node: Dawn and CPU)',
    usesDawn: true,
    load: () => import('./rerank.js'),
  },
  'rerank-deberta': {
    summary: 'm3web rerank vs transformers.js text-classification on a DeBERTa-v3 reranker (mxbai-rerank-xsmall-v1 shape)',
    usesDawn: true,
    load: async () => ({ main: (await import('./rerank.js')).debertaMain }),
  },
  colbert: {
    summary: 'm3web rerank vs transformers.js (AutoModel + MaxSim in JavaScript) on the same late-interaction model',
    usesDawn: true,
    load: async () => ({ main: (await import('./rerank.js')).colbertMain }),
  },
  lexical: {
    summary: 'BM25 alone on xquad-dev (R@1 / MRR@10, monolingual and against English) beside MiniSearch and Orama, no model',
    usesDawn: false,
    load: () => import('./lexical-xquad.js'),
  },
  'lexical-flores': {
    summary: 'BM25 alone on FLORES dev bitext (xx -> English R@1 / MRR@10, 22 languages) beside MiniSearch and Orama, no model',
    usesDawn: false,
    load: () => import('./lexical-flores.js'),
  },
  decoders: {
    summary: 'tokens/s of Qwen3-Embedding-0.6B and EmbeddingGemma-300m shapes (random weights, q8 / q4) on WebGPU and the CPU',
    usesDawn: true,
    load: () => import('./decoders.js'),
  },
  experts: {
    summary: "a mixture-of-experts layer against a dense one at nomic-embed-text-v2-moe's shape (random q8), WebGPU and the CPU",
    usesDawn: true,
    load: () => import('./experts.js'),
  },
  engine: {
    summary: 'tokens/s of GpuEncoder.embed (and the CPU fallback) on a random 12-layer 384-wide BERT',
    usesDawn: true,
    load: () => import('./engine.js'),
  },
  'hub-heap': {
    summary: 'peak JS heap of Chromium converting a random 12 x 384 BERT opened by hub id, against the pack it makes',
    usesDawn: false,
    load: () => import('./hub-heap.js'),
  },
  node: {
    summary: 'm3web vs transformers.js in Node, both on Dawn over the same adapter, same model and texts',
    usesDawn: true,
    load: () => import('./node.js'),
  },
  profile: {
    summary: 'GPU time per kernel for one forward (timestamp queries) on a random BERT',
    usesDawn: true,
    load: () => import('./profile.js'),
  },
  static: {
    summary: 'static tiered index over 100k synthetic passages: tier sizes, bytes per query, latency, recall@10',
    usesDawn: false,
    load: () => import('./static.js'),
  },
  search: {
    summary: 'exact vs Matryoshka funnel latency and recall@10 of index.search on 10k / 100k synthetic 384-dim vectors',
    usesDawn: true,
    load: () => import('./search.js'),
  },
};
const DEFAULT = 'engine';

function usage(): string {
  const names = Object.entries(SUBCOMMANDS)
    .map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}${name === DEFAULT ? ' (default)' : ''}`)
    .join('\n');
  return `usage: npm run bench -- [subcommand] [options]

subcommands:
${names}

common options:
  --adapter lavapipe|swiftshader   Vulkan driver for Dawn (default: $VK_ICD_FILENAMES, else lavapipe, else swiftshader)
  --help                           this text; \`npm run bench -- <subcommand> --help\` for a subcommand's options`;
}

/** Takes `--adapter X` / `--adapter=X` out of args. */
function takeAdapter(args: string[]): { adapter?: AdapterName; rest: string[]; error?: string } {
  const rest: string[] = [];
  let adapter: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--adapter') adapter = args[++i] ?? '';
    else if (a.startsWith('--adapter=')) adapter = a.slice('--adapter='.length);
    else rest.push(a);
  }
  if (adapter === undefined) return { rest };
  if (!isAdapterName(adapter)) return { rest, error: `--adapter must be lavapipe or swiftshader, got "${adapter}"` };
  return { adapter, rest };
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const explicit = first !== undefined && !first.startsWith('-');
  const name = explicit ? first : DEFAULT;
  if (!explicit && (argv.includes('--help') || argv.includes('-h'))) {
    console.log(usage());
    return 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    console.error(`unknown subcommand "${name}"\n\n${usage()}`);
    return 2;
  }
  const { adapter, rest, error } = takeAdapter(explicit ? argv.slice(1) : argv);
  if (error) {
    console.error(`${error}\n\n${usage()}`);
    return 2;
  }
  if (sub.usesDawn) {
    const childCode = await ensureAdapter(adapter);
    if (childCode !== null) return childCode;
  }
  const mod = await sub.load();
  return mod.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  },
);
