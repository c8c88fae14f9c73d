/** Reads a committed file by repository-relative path: from disk in Node, from the dev server in the browser. */
export async function readFixtureBytes(path: string): Promise<Uint8Array> {
  if (typeof window === 'undefined') {
    const fs = process.getBuiltinModule('node:fs/promises') as typeof import('node:fs/promises');
    return new Uint8Array(await fs.readFile(new URL(`../../${path}`, import.meta.url)));
  }
  const res = await fetch(`/${path}`);
  if (!res.ok) throw new Error(`fixture ${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function readFixtureJson<T = unknown>(path: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await readFixtureBytes(path))) as T;
}
