import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { TensorSource } from './safetensors.js';
import type { SentenceTransformersFiles } from './sentence-transformers.js';

/**
 * sentence-transformers' Router layout of an inference-free SPLADE model (opensearch-project's
 * doc-v2 / v3 encoders, the sparse-encoder collection's): modules.json names one Router at the
 * root, router_config.json routes queries through a SparseStaticEmbedding (a weight per token id)
 * and documents through an MLMTransformer and a SpladePooling, each in its own folder.
 */
export interface SpladeRoutes {
  /** The MLMTransformer's folder: config.json, the weights and the tokenizer. */
  document: string;
  /** The SpladePooling's folder (its config.json). */
  pooling: string;
  /** The SparseStaticEmbedding's folder (model.safetensors holding `weight`, one per token id). */
  query: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const FOLDER = /^[\w.-]+$/;

/** Whether modules.json's chain starts with a Router (whose routes are in router_config.json). */
export function hasRouter(modules: unknown): boolean {
  return Array.isArray(modules) && modules.some((m) => isObject(m) && String(m.type).endsWith('.Router'));
}

/**
 * The routes of an inference-free SPLADE model from modules.json and router_config.json. Any other
 * routing (two dense stacks for queries and documents, modules after the Router) is refused: m3web
 * runs one module chain for both, or this one.
 */
export function spladeRoutes(modules: unknown, routerConfig: unknown): SpladeRoutes {
  const refuse = (why: string) =>
    new UnsupportedError(
      `modules.json routes queries and documents through different modules (a Router): ${why}; m3web runs a Router only as inference-free SPLADE (queries: SparseStaticEmbedding; documents: MLMTransformer, SpladePooling)`,
    );
  if (!Array.isArray(modules) || modules.length !== 1) throw refuse('modules follow the Router');
  if (!isObject(routerConfig) || !isObject(routerConfig.types) || !isObject(routerConfig.structure))
    throw new ModelFormatError('router_config.json is missing or has no "types" and "structure"');
  const { types, structure } = routerConfig;
  const route = (name: string, classes: string[]): string[] => {
    const ids = structure[name];
    const got = Array.isArray(ids) ? ids.map((id) => String(types[String(id)] ?? '')) : [];
    const matches = got.length === classes.length && got.every((t, i) => t.endsWith(`.${classes[i]}`));
    if (!matches) throw refuse(`its "${name}" route is ${got.join(', ') || 'missing'}`);
    const folders = (ids as unknown[]).map(String);
    const bad = folders.find((f) => !FOLDER.test(f));
    if (bad !== undefined) throw new ModelFormatError(`router_config.json names a module folder ${JSON.stringify(bad)}`);
    return folders;
  };
  const routes = Object.keys(structure);
  if (routes.length !== 2 || !routes.includes('query') || !routes.includes('document'))
    throw refuse(`its routes are ${routes.join(', ') || 'none'}`);
  const [query] = route('query', ['SparseStaticEmbedding']) as [string];
  const [document, pooling] = route('document', ['MLMTransformer', 'SpladePooling']) as [string, string];
  return { document, pooling, query };
}

/** A Router folder's files, once its routes are read: where the document model lives and what stands for the rest. */
export interface RoutedSplade {
  /** The MLMTransformer's folder with a trailing slash, or '' where its files are at the root. */
  dir: string;
  /** The sentence-transformers files as one module chain: the masked LM and SpladePooling, with the query table beside them. */
  files: SentenceTransformersFiles;
}

/**
 * Reads an inference-free SPLADE folder's routes through `json` (undefined for a missing file) and
 * `tensors` (the query module's model.safetensors): null where modules.json has no Router. The
 * document model is read from its module folder, or from the root where that folder has no
 * config.json (repositories that keep the masked LM's files at the root for older code).
 */
export async function routedSplade(
  st: SentenceTransformersFiles,
  json: (name: string) => Promise<unknown>,
  tensors: (name: string) => Promise<TensorSource | undefined>,
): Promise<RoutedSplade | null> {
  if (!hasRouter(st.modules)) return null;
  const routes = spladeRoutes(st.modules, await json('router_config.json'));
  const [docConfig, pooling, queryWeights] = await Promise.all([
    json(`${routes.document}/config.json`),
    json(`${routes.pooling}/config.json`),
    tensors(`${routes.query}/model.safetensors`),
  ]);
  if (!queryWeights)
    throw new ModelFormatError(`${routes.query}/model.safetensors (the query route's weight per token) is missing`);
  const dir = docConfig === undefined ? '' : `${routes.document}/`;
  return {
    dir,
    files: {
      modules: [
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.sparse_encoder.models.MLMTransformer' },
        { idx: 1, name: '1', path: routes.pooling, type: 'sentence_transformers.sparse_encoder.models.SpladePooling' },
      ],
      bertConfig: await json(`${dir}sentence_bert_config.json`),
      stConfig: st.stConfig,
      splade: { config: pooling, queryWeights },
    },
  };
}
