/**
 * The layering of src/, checked by `npm run lint:layers` (part of `npm test`). Data flows one
 * way: each layer may import only from the layers listed before it (and from itself); no
 * import cycles anywhere. docs/ARCHITECTURE.md draws the same picture.
 */
const LAYERS = [
  ['errors.ts', 'serial-queue.ts'],
  ['tokenizer', 'weights'], // text -> ids; what a model is (config, weight tensors, quantization)
  ['checkpoint', 'gpu'], // Hugging Face checkpoint readers; WebGPU device and kernels
  ['pack', 'model'], // m3web packs (convert, read, write); forward backends (CPU, WebGPU graphs)
  ['store', 'budget', 'node'], // fetch + IndexedDB cache; device probe and planner; Node file readers
  ['types.ts'], // the public API's types
  ['search', 'source'], // the search index; model sources (pack URL, Node folder)
  ['engine'], // one engine per origin: model, device and indexes together
  ['worker'], // the engine's worker and its wire protocol
  ['client'], // the page side: createEncoder, createIndex proxies
  ['index.ts', 'internals.ts', 'eval', 'distill', 'cli'], // entries and tools (distill: static embedders from a model)
  ['ui'], // <m3web-search>, a search box for static sites: the public entry only
  ['demo'], // the playground: the public entry only (and the CLI, to build its corpus)
];

const path = (name) => `^src/${name.replace('.', '\\.')}${name.endsWith('.ts') ? '$' : '/'}`;
const below = (i) => LAYERS.slice(0, i + 1).flat();

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles (type-only ones included) make the layering meaningless.',
      from: {},
      to: { circular: true },
    },
    ...LAYERS.flat().map((name) => {
      const layer = LAYERS.findIndex((l) => l.includes(name));
      return {
        name: `layer:${name}`,
        severity: 'error',
        comment: `src/${name} may import only from: ${below(layer).join(', ')}`,
        from: { path: path(name) },
        to: { path: '^src/', pathNot: below(layer).map(path) },
      };
    }),
    {
      name: 'demo-uses-public-api',
      severity: 'error',
      comment: 'The playground is built on what users get: the main entry and m3web/ui (and the CLI for its corpus build).',
      from: { path: '^src/demo/' },
      to: { path: '^src/', pathNot: ['^src/demo/', '^src/index\\.ts$', '^src/ui/index\\.ts$', '^src/cli/'] },
    },
    {
      name: 'ui-uses-public-api',
      severity: 'error',
      comment: 'The search box is built on what users get: the main entry.',
      from: { path: '^src/ui/' },
      to: { path: '^src/', pathNot: ['^src/ui/', '^src/index\\.ts$'] },
    },
    {
      name: 'not-in-layers',
      severity: 'error',
      comment: 'Every file of src/ belongs to a layer above: add new folders to LAYERS.',
      from: { path: '^src/', pathNot: LAYERS.flat().map(path) },
      to: {},
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/model/wasm/kernels-wasm\\.ts$' },
  },
};
