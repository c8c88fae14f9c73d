/**
 * What decides a document's vectors: its text and the chunk budget it was split with. Equal
 * hashes mean upsert and sync may keep the stored vectors; SHA-256 (Web Crypto, in pages,
 * workers and Node alike) so that no two texts ever share one.
 */
export async function docHash(text: string, chunkBudget: number): Promise<string> {
  const bytes = new TextEncoder().encode(`${chunkBudget}\u0000${text}`);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}
