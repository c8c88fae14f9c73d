/**
 * What decides a document's vectors: its text, its title and the chunk budget it was split with.
 * Equal hashes mean upsert and sync may keep the stored vectors; SHA-256 (Web Crypto, in pages,
 * workers and Node alike) so that no two texts ever share one. An untitled document hashes as
 * before titles existed, so indexes stored then keep their vectors.
 */
export async function docHash(text: string, chunkBudget: number, title?: string): Promise<string> {
  // A titled document's bytes start with "t" and its title's length, an untitled one's with the budget's digits: never the same bytes.
  const head = title ? `t${chunkBudget}:${title.length}\u0000${title}` : `${chunkBudget}`;
  const bytes = new TextEncoder().encode(`${head}\u0000${text}`);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}
