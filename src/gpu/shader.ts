import type { Elem } from './resources.js';

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
  return assemble(names, []);
}

/** Element types of the activation buffers a kernel reads (`x`) and writes (`y`). */
export interface ElemIO {
  readonly x: Elem;
  readonly y: Elem;
}

/** Every (read, write) pair of the given element types. */
export function elemPairs(elems: readonly Elem[]): ElemIO[] {
  const set = [...new Set(elems)];
  return set.flatMap((x) => set.map((y) => ({ x, y })));
}

export const ioKey = (io: ElemIO): string => `${io.x}-${io.y}`;

/**
 * wgsl() for kernels that declare their activation bindings as `array<XElem>` (read) and
 * `array<YElem>` (written, or read and written in place): the two aliases are declared here,
 * with `enable f16;` where either is f16, so one WGSL source serves every precision.
 */
export async function elemWgsl(io: ElemIO, ...names: string[]): Promise<string> {
  const f16 = io.x === 'f16' || io.y === 'f16';
  return assemble(names, [...(f16 ? ['enable f16;'] : []), `alias XElem = ${io.x};`, `alias YElem = ${io.y};`]);
}

async function assemble(names: string[], prelude: string[]): Promise<string> {
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
  const source = [...prelude, ...parts].join('\n');
  const directives = [...new Set(source.match(ENABLE))];
  return [...directives, source.replace(ENABLE, '')].join('\n');
}
