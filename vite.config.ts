import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const SW_ENTRY = 'sw';

/** Hands the service worker the list of files this build emitted, for its offline precache. */
function precacheList(): Plugin {
  return {
    name: 'm3web-precache',
    apply: 'build',
    generateBundle(_options, bundle) {
      const sw = bundle[`${SW_ENTRY}.js`];
      if (sw?.type !== 'chunk') throw new Error('the service worker chunk is missing from the build');
      const files = Object.keys(bundle).filter((f) => f !== sw.fileName && !f.endsWith('.map'));
      sw.code = sw.code.replace('__PRECACHE__', JSON.stringify(['./', ...files]));
    },
  };
}

// The playground site (index.html at the root). Its build goes to site/ so it never mixes with
// the library build in dist/; relative base so the copy works from any folder of a static host.
export default defineConfig({
  base: './',
  build: {
    outDir: 'site',
    target: 'es2022',
    rollupOptions: {
      input: { main: resolve(import.meta.dirname, 'index.html'), [SW_ENTRY]: resolve(import.meta.dirname, 'src/demo/sw.ts') },
      output: { entryFileNames: (chunk) => (chunk.name === SW_ENTRY ? `${SW_ENTRY}.js` : 'assets/[name]-[hash].js') },
    },
  },
  worker: { format: 'es' },
  server: { port: 5173 },
  preview: { port: 5173 },
  plugins: [precacheList()],
});
