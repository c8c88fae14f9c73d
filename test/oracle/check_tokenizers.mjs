// Checks that @huggingface/tokenizers (the JS library the runtime uses) reproduces the oracle's ids.
// Run from the repository root: node test/oracle/check_tokenizers.mjs
// Exit code 1 if a tiny-model fixture mismatches; bge mismatches are reported (they are real
// differences between the JS library and the reference Hugging Face tokenizer) but do not fail.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const load = (dir, name) => JSON.parse(readFileSync(join(fixtures, dir, name), 'utf8'));
const tokenizer = (dir) => new Tokenizer(load(dir, 'tokenizer.json'), load(dir, 'tokenizer_config.json'));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

let failed = false;
for (const dir of [
  'bert-tiny',
  'xlmr-tiny',
  'modernbert-tiny',
  'modernbert-bias-tiny',
  'distilbert-tiny',
  'distilbert-mlm-tiny',
  'mpnet-tiny',
  'mpnet-mlm-tiny',
]) {
  const tok = tokenizer(dir);
  const { texts, ids } = load(dir, 'expected.json');
  const bad = texts.flatMap((t, i) => {
    const got = tok.encode(t).ids;
    return same(got, ids[i]) ? [] : [{ i, text: t, want: ids[i], got }];
  });
  console.log(`js ${dir}: ${texts.length - bad.length}/${texts.length} texts match`);
  for (const b of bad) console.log(JSON.stringify(b));
  if (bad.length > 0) failed = true;
}

const bge = tokenizer('tokenizer-bge');
const cases = load('tokenizer-bge', 'cases.json');
const bad = cases.flatMap((c, i) => {
  const got = bge.encode(c.text, { add_special_tokens: false }).ids;
  return same(got, c.ids) ? [] : [{ i, text: c.text, want: c.ids, got }];
});
console.log(`js tokenizer-bge: ${cases.length - bad.length}/${cases.length} cases match`);
for (const b of bad) console.log(JSON.stringify(b));
process.exit(failed ? 1 : 0);
