#!/usr/bin/env node
// The m3web command. The TypeScript sources are compiled to dist/ by `npm run build:lib`,
// which `npm install` / `npm ci` run through the package's "prepare" script.
let cli;
try {
  cli = await import('../dist/cli/m3web.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/m3web.js')) {
    process.stderr.write('m3web: dist/ is missing; run `npm run build:lib` in the m3web folder first\n');
    process.exit(1);
  }
  throw err;
}
await cli.run();
