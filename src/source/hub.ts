import { openGguf, pickGgufFile } from '../checkpoint/gguf-model.js';
import { withJinaV5Adapter } from '../checkpoint/lora-merge.js';
import { ONNX_WEIGHT_FILES, OnnxTensors } from '../checkpoint/onnx.js';
import { routedSplade } from '../checkpoint/router.js';
import { type ByteSource, SafetensorsFile, SafetensorsReader } from '../checkpoint/safetensors.js';
import { type SentenceTransformersFiles, staticEmbeddingPath } from '../checkpoint/sentence-transformers.js';
import { folderTokenizer } from '../checkpoint/tokenizer-files.js';
import { checkpointWeights } from '../checkpoint/weight-files.js';
import { AccessDeniedError, ModelFormatError, ModelNotFoundError, NetworkError, UnsupportedError } from '../errors.js';
import { type HfCheckpoint, sentenceTransformersFiles } from '../pack/convert.js';
import { type FetchLike, fetchFile } from '../store/fetch.js';
import { sentenceTransformersStaticConfig } from '../weights/static-config.js';
import type { HubModelId } from './hub-id.js';
import type { WeightMeter } from './weight-meter.js';

/** Files a slow tokenizer's conversion reads beside its vocabulary, which the hub reader also reads as JSON. */
const SETTINGS_FILES = new Set(['tokenizer_config.json', 'special_tokens_map.json']);

/** Where a hub is and how to get in: a mirror or a self-hosted copy works as well as huggingface.co. */
export interface HubOptions {
  /** Default https://huggingface.co (in Node, the M3WEB_HUB_URL environment variable first). */
  url?: string;
  /** An access token, for gated or private models; sent to the hub's host only. */
  token?: string;
}

export const DEFAULT_HUB = 'https://huggingface.co';

/**
 * One model repository on a hub, read in the Hub's layout (`{url}/{repo}/resolve/{revision}/{file}`,
 * redirects followed to wherever the weights live). The commit the revision resolved to is taken
 * from the first answer (X-Repo-Commit, else its ETag), so a cache can tell versions apart.
 */
export class HubRepo {
  /** The hub's address, without a trailing slash. */
  readonly hubUrl: string;
  readonly base: string;
  private resolvedCommit: string | null = null;
  /** JSON files read so far: the source checks config.json before the checkpoint reads it. */
  private readonly jsonFiles = new Map<string, Promise<unknown>>();

  constructor(
    readonly id: HubModelId,
    private readonly options: HubOptions = {},
    private readonly doFetch: FetchLike = (u, init) => globalThis.fetch(u, init),
  ) {
    this.hubUrl = (options.url ?? DEFAULT_HUB).replace(/\/+$/, '');
    this.base = `${this.hubUrl}/${id.repo}/resolve/${encodeURIComponent(id.revision)}`;
  }

  /** The commit `revision` resolved to, once a file has been read. */
  get commit(): string | null {
    return this.resolvedCommit;
  }

  /** The Hub API's listing of the repository's files at this revision (some keep each quantization in a folder). */
  get treeUrl(): string {
    return `${this.hubUrl}/api/models/${this.id.repo}/tree/${encodeURIComponent(this.id.revision)}?recursive=true`;
  }

  fileUrl(file: string): string {
    return `${this.base}/${file.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Headers for the hub; fetch drops Authorization itself when a redirect leaves the hub's origin. */
  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.options.token ? { ...extra, Authorization: `Bearer ${this.options.token}` } : extra;
  }

  /** A file's bytes; undefined for a missing optional one. */
  async bytes(file: string, required: boolean): Promise<Uint8Array | undefined> {
    const res = await this.get(file, required);
    return res && new Uint8Array(await res.arrayBuffer());
  }

  json(file: string, required: boolean): Promise<unknown> {
    let read = this.jsonFiles.get(file);
    if (!read) {
      read = this.readJson(file, required);
      this.jsonFiles.set(file, read);
      // A failed read is not remembered: asked again, the file is fetched again.
      read.catch(() => this.jsonFiles.delete(file));
    }
    return read;
  }

  private async readJson(file: string, required: boolean): Promise<unknown> {
    const bytes = await this.bytes(file, required);
    if (!bytes) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (cause) {
      throw new ModelFormatError(`${this.fileUrl(file)} is not valid JSON`, { cause });
    }
  }

  /** Whether the file exists, asking for its first byte only. */
  async has(file: string): Promise<boolean> {
    const res = await this.get(file, false, { Range: 'bytes=0-0' });
    void res?.body?.cancel().catch(() => {});
    return res !== undefined;
  }

  /**
   * Random access to a large file by Range requests (each resumed if it breaks off), so a
   * checkpoint is read tensor by tensor and never held whole. A server that ignores Range gets
   * the file read once into memory instead. `onBytes` hears of bytes as they arrive.
   */
  async byteSource(file: string, onBytes?: (bytes: number) => void): Promise<ByteSource> {
    const url = this.fileUrl(file);
    const probe = (await this.get(file, true, { Range: 'bytes=0-0' })) as Response;
    const total = /\/(\d+)$/.exec(probe.headers.get('content-range') ?? '')?.[1];
    if (probe.status !== 206 || total === undefined) {
      const whole = new Uint8Array(await probe.arrayBuffer());
      const read = async (offset: number, length: number) => {
        onBytes?.(length);
        return whole.subarray(offset, offset + length);
      };
      return { name: file, size: whole.byteLength, read };
    }
    void probe.body?.cancel().catch(() => {});
    const headers = this.headers();
    return {
      name: file,
      size: Number(total),
      read: (offset, length, into) => {
        // fetchFile reports a running count that restarts if the server starts over: pass on growth only.
        let seen = 0;
        const onProgress = (loaded: number) => {
          if (loaded > seen) onBytes?.(loaded - seen);
          seen = Math.max(seen, loaded);
        };
        return fetchFile(url, {
          expectedBytes: length,
          offset,
          headers,
          fetch: this.doFetch,
          onProgress,
          ...(into ? { into } : {}),
        });
      },
    };
  }

  /**
   * The paths of the repository's files, from the Hub's tree API (what a GGUF repository must be
   * asked, since nothing in it names the file to read); [] where the hub has none.
   */
  async listFiles(): Promise<string[]> {
    const url = this.treeUrl;
    const res = await this.getUrl(url, 'the file list', false, {}, false);
    if (!res) return [];
    const list: unknown = await res.json().catch(() => null);
    if (!Array.isArray(list)) throw new ModelFormatError(`${url} did not answer with a list of files`);
    return (list as { path?: unknown; type?: unknown }[])
      .filter((e) => typeof e?.path === 'string' && e.type !== 'directory')
      .map((e) => e.path as string);
  }

  private get(file: string, required: boolean, extra: Record<string, string> = {}): Promise<Response | undefined> {
    return this.getUrl(this.fileUrl(file), file, required, extra);
  }

  private async getUrl(
    url: string,
    file: string,
    required: boolean,
    extra: Record<string, string> = {},
    // The API's answers carry no commit (an ETag there is the listing's, not the commit's).
    fromRepo = true,
  ): Promise<Response | undefined> {
    let res: Response;
    try {
      res = await this.doFetch(url, { headers: this.headers(extra) });
    } catch (cause) {
      throw new NetworkError(`cannot reach ${url} (${String(cause)})`, { cause });
    }
    if (fromRepo)
      this.resolvedCommit ??=
        res.headers.get('x-repo-commit') ?? res.headers.get('etag')?.replace(/^W\//, '').replace(/"/g, '') ?? null;
    if (res.ok) return res;
    void res.body?.cancel().catch(() => {});
    if (res.status === 401 || res.status === 403) {
      throw new AccessDeniedError(
        `${url}: HTTP ${res.status}: ${this.id.repo} is gated, private or missing for this account; ` +
          (this.options.token
            ? 'the token passed has no access to it'
            : 'pass hub: { token } with an access token that can read it'),
      );
    }
    if (res.status === 404) {
      if (!required) return undefined;
      throw new ModelNotFoundError(`${url}: HTTP 404: no ${file} in ${this.id.repo} at revision ${this.id.revision}`);
    }
    throw new NetworkError(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
}

/**
 * Opens a repository's checkpoint for conversion, the weights read lazily by Range requests
 * (single or sharded safetensors, else pytorch_model.bin, else a float ONNX export: the Xenova/
 * and onnx-community/ repositories; else a GGUF file). Refuses quantized-ONNX-only repositories.
 * `meter` counts the weight bytes as they stream in (see WeightMeter).
 */
export async function openHubCheckpoint(repo: HubRepo, meter?: WeightMeter): Promise<HfCheckpoint> {
  // A GGUF file carries its config, vocabulary and pooling: nothing else of the repository is read.
  if (repo.id.ggufTag !== undefined) return (await openHubGguf(repo, meter)) as HfCheckpoint;
  const json = (name: string) => repo.json(name, false);
  // Dense modules' and an inference-free SPLADE query table's weights are small (a few MB): read whole, not by Range.
  const smallTensors = async (name: string) => {
    const bytes = await repo.bytes(name, false);
    return bytes && new SafetensorsFile(bytes, name);
  };
  const [config, sentenceTransformers] = await Promise.all([
    json('config.json'),
    sentenceTransformersFiles(json, smallTensors, (name) => repo.bytes(name, false)),
  ]);
  const routed = await routedSplade(sentenceTransformers, json, smallTensors);
  if (routed) {
    const docConfig = await repo.json(`${routed.dir}config.json`, true);
    return transformerCheckpoint(repo, routed.dir, docConfig, routed.files, meter);
  }
  if (config === undefined) {
    const path = staticEmbeddingPath(sentenceTransformers.modules);
    if (path) return openStaticModule(repo, path, sentenceTransformers, meter);
    const gguf = await openHubGguf(repo, meter);
    if (gguf) return gguf;
    // Asked again as required: its 404 names the missing file and repository.
    await repo.bytes('config.json', true);
  }
  return transformerCheckpoint(repo, '', config, sentenceTransformers, meter);
}

/**
 * A transformer's checkpoint whose config.json, tokenizer and weights are in the folder `dir` of
 * the repository ('' for its root, else with a trailing slash), with the sentence-transformers
 * files read already.
 */
async function transformerCheckpoint(
  repo: HubRepo,
  dir: string,
  config: unknown,
  sentenceTransformers: SentenceTransformersFiles,
  meter?: WeightMeter,
): Promise<HfCheckpoint> {
  // The slow tokenizer's settings files are small and read as JSON below too: fetched once.
  const tokenizer = await folderTokenizer(async (name) => {
    const file = `${dir}${name}`;
    if (!SETTINGS_FILES.has(name)) return repo.bytes(file, false);
    const json = await repo.json(file, false);
    return json === undefined ? undefined : new TextEncoder().encode(JSON.stringify(json));
  }, config);
  if (!tokenizer) {
    const gguf = await openHubGguf(repo, meter);
    if (gguf) return gguf;
    throw new ModelFormatError(
      `${repo.fileUrl(`${dir}tokenizer.json`)}: HTTP 404: m3web needs the fast tokenizer's tokenizer.json (or BERT's vocab.txt, XLM-R's sentencepiece.bpe.model, ALBERT's or T5's spiece.model)`,
    );
  }
  const json = (name: string) => repo.json(`${dir}${name}`, false);
  // A file is opened straight away: its first ranged request also says whether it exists.
  const open = async (name: string) => {
    const file = `${dir}${name}`;
    const source = await repo
      .byteSource(file, (bytes) => meter?.count(file, bytes))
      .catch((err: unknown) => {
        if (err instanceof ModelNotFoundError) return undefined;
        throw err;
      });
    if (source) meter?.add(file, source.size);
    return source;
  };
  const [tokenizerConfig, weights] = await Promise.all([
    repo.json(`${dir}tokenizer_config.json`, false),
    checkpointWeights({ json, open }),
  ]);
  if (!weights) {
    const onnx = await onnxWeights(repo, meter);
    if (onnx) return { config, tokenizer, tokenizerConfig, sentenceTransformers, weights: onnx, name: repo.id.repo };
    const gguf = await openHubGguf(repo, meter);
    if (gguf) return gguf;
    const quantized = 'onnx/model_quantized.onnx';
    if (await repo.has(quantized)) {
      throw new UnsupportedError(
        `${repo.id.repo} has ${quantized} but no model.safetensors, pytorch_model.bin or float ONNX weights: m3web reads float weights and quantizes them itself`,
      );
    }
    throw new ModelFormatError(
      `${repo.id.repo} at ${repo.id.revision} has no model.safetensors, pytorch_model.bin (or their index.json), onnx/model.onnx or .gguf file`,
    );
  }
  const tensors = async (name: string) => {
    const source = await open(name);
    return source && SafetensorsReader.open(source);
  };
  const adapted = await withJinaV5Adapter(config, weights, { json, tensors });
  return { config, tokenizer, tokenizerConfig, sentenceTransformers, weights: adapted, name: repo.id.repo };
}

/**
 * A GGUF repository's model (no config.json: llama.cpp's files carry their own): the file
 * `hf:org/name:TAG` names, else the best quantization there (pickGgufFile), read by Range
 * requests; null where the repository has no .gguf file.
 */
async function openHubGguf(repo: HubRepo, meter?: WeightMeter): Promise<HfCheckpoint | null> {
  const file = pickGgufFile(await repo.listFiles(), repo.id.ggufTag);
  if (!file) {
    if (repo.id.ggufTag === undefined) return null;
    throw new ModelNotFoundError(`${repo.id.repo} at ${repo.id.revision} lists no .gguf file for ${repo.id.ggufTag}`);
  }
  const source = await repo.byteSource(file, (bytes) => meter?.count(file, bytes));
  meter?.add(file, source.size);
  return { ...(await openGguf(source)), name: repo.id.repo };
}

/**
 * sentence-transformers' static layout: the StaticEmbedding module's folder `path` holds the
 * tokenizer and the table; its config is made when converted (completeStaticConfig).
 */
async function openStaticModule(
  repo: HubRepo,
  path: string,
  sentenceTransformers: SentenceTransformersFiles,
  meter?: WeightMeter,
): Promise<HfCheckpoint> {
  const tokenizer = (await repo.bytes(`${path}/tokenizer.json`, true)) as Uint8Array;
  const file = `${path}/model.safetensors`;
  const source = await repo.byteSource(file, (bytes) => meter?.count(file, bytes));
  meter?.add(file, source.size);
  const weights = await SafetensorsReader.open(source);
  return { config: sentenceTransformersStaticConfig(), tokenizer, sentenceTransformers, weights };
}

/**
 * The weights of a repository without safetensors that carries an ONNX export (the Xenova/ and
 * onnx-community/ repositories transformers.js loads), read through the graph by Range requests;
 * an external data file beside it is opened when a tensor lives there.
 */
async function onnxWeights(repo: HubRepo, meter?: WeightMeter): Promise<OnnxTensors | null> {
  for (const file of ONNX_WEIGHT_FILES) {
    if (!(await repo.has(file))) continue;
    const dir = file.slice(0, file.lastIndexOf('/') + 1);
    const open = async (name: string) => {
      const source = await repo.byteSource(name, (bytes) => meter?.count(name, bytes));
      meter?.add(name, source.size);
      return source;
    };
    return OnnxTensors.open(await open(file), (external) => open(`${dir}${external}`));
  }
  return null;
}
