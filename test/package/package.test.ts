import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright';
import { afterAll, describe, expect, it } from 'vitest';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.js';
import { serveStatic } from '../support/static-server.js';

const ROOT = join(import.meta.dirname, '../..');
/**
 * What a user of the published package does: `npm pack`, install the tarball into a fresh Vite
 * app, build it, open it in Chromium. Proves the worker, the shaders and the types resolve from
 * node_modules, not only inside this repository.
 */
describe('the packed package in a separate Vite app', { timeout: 300_000 }, () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  it('builds, embeds and defines <m3web-search> in Chromium', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'm3web-consumer-'));
    execFileSync('npm', ['pack', '--pack-destination', tmp, '--silent'], { cwd: ROOT, stdio: 'pipe' });
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz')) as string;
    const app = join(tmp, 'app');
    mkdirSync(join(app, 'public', 'pack'), { recursive: true });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { m3web: `file:../${tarball}` } }),
    );
    writeFileSync(join(app, 'index.html'), '<!doctype html><title>loading</title><script type="module" src="/main.ts"></script>');
    writeFileSync(
      join(app, 'main.ts'),
      `import { createEncoder, type Encoder } from 'm3web';
import 'm3web/ui';
const enc: Encoder = await createEncoder({ model: '/pack', cache: false });
try {
  const [v] = await enc.embed(['hello world']);
  const ui = customElements.get('m3web-search') ? 'ui' : 'no ui';
  document.title = 'ok ' + v.length + ' ' + (await enc.info()).backend + ' ' + ui;
} catch (e) {
  document.title = 'error ' + (e as Error).message;
}
`,
    );
    // The package comes from the tarball; its dependencies as a user gets them: from the registry,
    // through the npm cache. `npm ci` caches tarballs but not the registry metadata that resolving
    // a fresh app needs, so `--offline` fails wherever the cache started empty.
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent'], { cwd: app, stdio: 'pipe' });
    // The lexicons come with the package, for a site to serve (fetchLexicons).
    expect(JSON.parse(readFileSync(join(app, 'node_modules/m3web/public/lexicons/de.json'), 'utf8')).language).toBe('de');
    const ckpt = await openHfCheckpoint(join(ROOT, 'test/oracle/fixtures/bert-tiny'));
    const pack = await convertCheckpoint(ckpt, { id: 'tiny', quant: 'q8' });
    await ckpt.close();
    for (const [name, bytes] of pack.files) writeFileSync(join(app, 'public', 'pack', name), bytes);
    execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'], {
      cwd: app,
      stdio: 'pipe',
    });
    cpSync(join(app, 'public', 'pack'), join(app, 'dist', 'pack'), { recursive: true });
    const served = await serveStatic(join(app, 'dist'));
    server = served.server;
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage();
      await page.goto(served.url);
      await page.waitForFunction(() => document.title !== 'loading', null, { timeout: 120_000 });
      expect(await page.title()).toMatch(/^ok 48 (webgpu|cpu) ui$/);
    } finally {
      await browser.close();
    }
  });
});
