/**
 * Loads WGSL sources from shaders/. The URL form lets Vite emit the files as assets for the
 * browser build, while Node reads them from disk next to the package.
 */
const cache = new Map<string, Promise<string>>();

function load(name: string): Promise<string> {
  const url = new URL(`../../shaders/${name}.wgsl`, import.meta.url);
  if (url.protocol === 'file:') {
    const fs = process.getBuiltinModule('node:fs/promises') as typeof import('node:fs/promises');
    return fs.readFile(url, 'utf8');
  }
  return fetch(url).then((r) => {
    if (!r.ok) throw new Error(`loading shader ${name}.wgsl failed: HTTP ${r.status}`);
    return r.text();
  });
}

const ENABLE = /^enable [\w, ]+;$/gm;

/**
 * The concatenation of the named WGSL files (helpers first), each fetched once per page. WGSL
 * wants `enable` directives before any declaration, so those of every file are moved to the top.
 */
export async function wgsl(...names: string[]): Promise<string> {
  const parts = await Promise.all(
    names.map((n) => {
      let p = cache.get(n);
      if (!p) {
        p = load(n);
        p.catch(() => cache.delete(n));
        cache.set(n, p);
      }
      return p;
    }),
  );
  const source = parts.join('\n');
  const directives = [...new Set(source.match(ENABLE))];
  return [...directives, source.replace(ENABLE, '')].join('\n');
}
