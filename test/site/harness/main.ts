import * as m3web from '../../../src/index.js';

// A page that hands the public API to Playwright's page.evaluate, for tests that need several
// tabs of one origin (the shared engine, concurrent writers of one stored index).
(globalThis as { m3web?: typeof m3web }).m3web = m3web;
document.title = 'ready';
