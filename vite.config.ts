import { defineConfig } from 'vite';

// The playground site (index.html at the root). Its build goes to site/ so it never mixes with
// the library build in dist/.
export default defineConfig({
  build: { outDir: 'site', target: 'es2022' },
  worker: { format: 'es' },
  server: { port: 5173 },
});
