/**
 * The benchmark pages, built with Vite (production mode, one page per runtime so a cold start
 * loads only that runtime's code) and served on localhost with the models and onnxruntime-web's
 * runtime files beside them; nothing comes from the network.
 */
import type { Server } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { serveStatic } from '../../test/support/static-server.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const OUT_DIR = join(ROOT, 'bench', 'work', 'browser-site');
const PAGES = ['m3web', 'transformers', 'auto'] as const;

/**
 * Cross-origin isolation on every response: onnxruntime-web may then use wasm threads (its
 * default count is min(4, ceil(cores / 2))), the best setting a deployment can give it. m3web
 * ignores it.
 */
const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

export async function buildSite(): Promise<void> {
  await build({
    configFile: false, // the root vite.config.ts is the playground's
    root: HERE,
    base: '/',
    mode: 'production',
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir: OUT_DIR,
      emptyOutDir: true,
      target: 'es2022',
      // transformers.js and onnxruntime-web are megabytes by themselves; the warning says nothing here.
      chunkSizeWarningLimit: 1 << 20,
      rollupOptions: { input: Object.fromEntries(PAGES.map((p) => [p, join(HERE, `${p}.html`)])) },
    },
    // m3web's worker is a module Worker (src/client.ts), as in the playground build.
    worker: { format: 'es' },
  });
}

export interface Site {
  server: Server;
  /** Page URLs: `${origin}m3web.html`, ... */
  origin: string;
  /** m3web's pack of the model. */
  packUrl: string;
  /**
   * transformers.js's env.localModelPath: the folder holding `<model id>/` with onnx/. A path, not
   * a URL: transformers.js 4.3.1 probes which files exist only for local paths, and given a URL
   * (with remote models off) decides there is no tokenizer.
   */
  hfModelsPath: string;
  /** onnxruntime-web's dist/ (the .wasm and .mjs runtime files). */
  ortUrl: string;
}

/** Serves the built pages, `packDir` and the Hugging Face folder `hfDir` (whose name is the model id). */
export async function serveSite(packDir: string, hfDir: string): Promise<Site> {
  const mounts = {
    '/pack/': packDir,
    '/hf/': dirname(hfDir),
    '/ort/': join(ROOT, 'node_modules', 'onnxruntime-web', 'dist'),
  };
  const { server, url } = await serveStatic(OUT_DIR, { mounts, headers: ISOLATION_HEADERS });
  return { server, origin: url, packUrl: `${url}pack/`, hfModelsPath: '/hf/', ortUrl: `${url}ort/` };
}
