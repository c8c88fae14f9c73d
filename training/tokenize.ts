/**
 * Tokenises texts for training with the tokenizer m3web itself runs (tokenizer.json through
 * @huggingface/tokenizers), so training and inference cannot disagree on ids.
 *
 *   npx tsx training/tokenize.ts TOKENIZER_JSON IN.jsonl OUT.bin [MAX_TOKENS]
 *
 * IN: one JSON string per line. OUT: little-endian int32 [count, len_0..len_{n-1}, ids...],
 * ids without special tokens, each text cut to MAX_TOKENS (default 510).
 */
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { TextTokenizer } from '../src/tokenizer/tokenizer.js';

const [tokenizerPath, input, output, max = '510'] = process.argv.slice(2);
if (!tokenizerPath || !input || !output)
  throw new Error('usage: tsx training/tokenize.ts TOKENIZER_JSON IN.jsonl OUT.bin [MAX_TOKENS]');
const maxTokens = Number(max);
const tokenizer = TextTokenizer.fromJson(JSON.parse(await readFile(tokenizerPath, 'utf8')));
const lengths: number[] = [];
const chunks: Int32Array[] = [];
for await (const line of createInterface({ input: createReadStream(input, 'utf8'), crlfDelay: Infinity })) {
  const ids = tokenizer.tokenIds(JSON.parse(line) as string, false).slice(0, maxTokens);
  lengths.push(ids.length);
  chunks.push(Int32Array.from(ids));
}
const total = chunks.reduce((n, c) => n + c.length, 0);
const out = new Int32Array(1 + lengths.length + total);
out[0] = lengths.length;
out.set(lengths, 1);
let at = 1 + lengths.length;
for (const c of chunks) {
  out.set(c, at);
  at += c.length;
}
await writeFile(output, new Uint8Array(out.buffer));
console.log(`${lengths.length} texts, ${total} tokens -> ${output}`);
