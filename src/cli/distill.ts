import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { safetensorsBytes } from '../checkpoint/safetensors.js';
import {
  DISTILL_DIMS,
  DISTILL_SIF,
  distillStatic,
  STATIC_TEACHER,
  type StaticTable,
  type Teacher,
} from '../distill/static-distill.js';
import { UnsupportedError } from '../errors.js';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { openModelFolder } from '../node/model-folder.js';
import { type CliIo, oneOf, parseFlags, positiveInt, UsageError } from './args.js';
import { CliBackends, probeModelKey } from './backends.js';
import { modelFolder } from './hub-arg.js';
import { writeFolder } from './out-folder.js';

export const DISTILL_USAGE = `Usage: m3web distill --model DIR|hf:org/name --out DIR [options]

Distils a static embedder from any model m3web runs, as model2vec does: every token of the
vocabulary, between the model's special tokens, through its layers and pooling;
the rows centred and projected onto their principal axes, so any leading width is a good cut;
each row weighted by SIF, a / (a + p), p the token's probability by Zipf's law from its id.
Writes a model2vec folder (config.json, model.safetensors, tokenizer.json, modules.json) that
m3web (createEncoder, m3web convert, embed, eval), model2vec and sentence-transformers open:
a text's vector is then the mean of its tokens' rows, microseconds on any device.

Options:
  --model DIR     model pack or Hugging Face folder, or a hub id (as for embed)
  --out DIR       the folder to write (replaced if it exists)
  --revision R    hub branch, tag or commit (default main)
  --dims N        principal axes to keep (default: the model's width, at most ${DISTILL_DIMS})
  --sif A         SIF coefficient of the token weights (default ${DISTILL_SIF}; 0 for none)
  --layers N      the teacher's depth (default: all its layers)
  --backend B     where the teacher runs: cpu, webgpu or auto (default auto: as embed chooses)
  -h, --help      show this help
`;

const HINT = 'Run `m3web distill --help` for usage.\n';

export interface DistillArgs {
  model: string;
  out: string;
  revision: string | undefined;
  dims: number | undefined;
  sif: number | undefined;
  layers: number | undefined;
  backend: BackendChoice;
}

export function parseDistillArgs(args: string[]): DistillArgs | 'help' {
  const f = parseFlags(
    args,
    { model: 'string', out: 'string', revision: 'string', dims: 'string', sif: 'string', layers: 'string', backend: 'string' },
    HINT,
  );
  if (f.help) return 'help';
  const { str } = f;
  const model = str('model');
  const out = str('out');
  if (!model) throw new UsageError('--model DIR is required', HINT);
  if (!out) throw new UsageError('--out DIR is required', HINT);
  const sif = str('sif');
  if (sif !== undefined && !(Number(sif) >= 0))
    throw new UsageError(`--sif must be a number >= 0, got ${JSON.stringify(sif)}`, HINT);
  return {
    model,
    out,
    revision: str('revision'),
    dims: positiveInt('dims', str('dims'), HINT),
    sif: sif === undefined ? undefined : Number(sif),
    layers: positiveInt('layers', str('layers'), HINT),
    backend: oneOf('backend', str('backend'), BACKEND_CHOICES, 'auto', HINT),
  };
}

export async function distillCommand(args: DistillArgs, io: CliIo): Promise<void> {
  const started = performance.now();
  const folder = await modelFolder(args.model, io, { revision: args.revision });
  const model = await openModelFolder(folder, { quant: 'f32', ...(args.layers ? { layers: args.layers } : {}) });
  if (model.weights.family === 'static') throw new UnsupportedError(STATIC_TEACHER);
  const pooling = model.manifest?.pooling ?? model.sentenceTransformers?.pooling ?? 'mean';
  const layers = model.weights.layers.length;
  const backends = await CliBackends.open(model.weights, args.backend, probeModelKey(folder, model.manifest, 'f32'), layers);
  io.stderr.write(`m3web: backend ${backends.summary()}\n`);
  let reported = 0;
  let distilled: StaticTable;
  try {
    const teacher: Teacher = {
      tokenizer: model.tokenizer,
      hiddenSize: model.config.hiddenSize,
      pool: (ids) => backends.run(ids, layers, async (b) => (await b.pooledAtExits(ids, [layers], pooling))[0] as Float32Array[]),
    };
    distilled = await distillStatic(teacher, {
      ...(args.dims ? { dims: args.dims } : {}),
      ...(args.sif !== undefined ? { sif: args.sif } : {}),
      onProgress: (done, total) => {
        if (done - reported >= 8192 || done === total) {
          io.stderr.write(`m3web: distilled ${done}/${total} tokens\n`);
          reported = done;
        }
      },
    });
  } finally {
    backends.dispose();
  }
  const tokenizer = await readFile(join(folder, 'tokenizer.json'));
  const { table, rows, dims, explained } = distilled;
  const config = {
    model_type: 'model2vec',
    architectures: ['StaticModel'],
    tokenizer_name: args.model,
    apply_pca: dims,
    sif_coefficient: args.sif ?? DISTILL_SIF,
    hidden_dim: dims,
    seq_length: 1000000,
    normalize: true,
    distilled_with: { tool: 'm3web distill', layers, pooling },
  };
  const modules = [
    { idx: 0, name: '0', path: '.', type: 'sentence_transformers.models.StaticEmbedding' },
    { idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' },
  ];
  await writeFolder(args.out, async (dir) => {
    await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    await writeFile(join(dir, 'modules.json'), `${JSON.stringify(modules, null, 2)}\n`);
    await writeFile(join(dir, 'tokenizer.json'), tokenizer);
    await writeFile(
      join(dir, 'model.safetensors'),
      safetensorsBytes(new Map([['embeddings', { shape: [rows, dims], data: table }]])),
    );
  });
  io.stderr.write(
    `m3web: wrote a static embedder to ${args.out} (${rows} tokens x ${dims} dims, ${(100 * explained).toFixed(1)}% of the variance, ` +
      `${(table.byteLength / 1e6).toFixed(1)} MB f32) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}
