import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { readSentencePieceModel } from '../../src/checkpoint/sentencepiece-model.js';
import { folderTokenizer, wordPieceTokenizer } from '../../src/checkpoint/tokenizer-files.js';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { readHfFolder } from '../../src/node/hf-folder.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { expectHubLikeOracle, readOracleJson, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// Older BERT and XLM-R repositories have no tokenizer.json, only the slow tokenizer's files: BERT's
// vocab.txt (one token per line, the line its id) or XLM-R's sentencepiece.bpe.model, beside
// tokenizer_config.json. m3web builds tokenizer.json from them as transformers' BertConverter and
// XLMRobertaConverter do. Oracles: the Hugging Face tokenizer's ids for bert-base-uncased on
// llama.cpp's 46 test strings (tokenizer-bge); bert-tiny's PyTorch oracle through a folder that has
// vocab.txt and pytorch_model.bin only, as a 2019 repository would; sentencepiece's own ids on
// gguf-xlmr's model (make_gguf.py, make_charsmap_cases.py).

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const vocabTxt = (tokenizerJson: string) => {
  const vocab = (JSON.parse(readFileSync(tokenizerJson, 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
  const lines: string[] = [];
  for (const [token, id] of Object.entries(vocab)) lines[id] = token;
  return `${lines.join('\n')}\n`;
};
const BGE_VOCAB = vocabTxt(join(FIXTURES, 'tokenizer-bge', 'tokenizer.json'));
const BERT_VOCAB = vocabTxt(join(FIXTURES, 'bert-tiny', 'tokenizer.json'));
const files = (map: Record<string, string>) => async (name: string) =>
  map[name] === undefined ? undefined : new TextEncoder().encode(map[name]);

describe("tokenizer.json from BERT's vocab.txt", () => {
  it('tokenizes as the Hugging Face tokenizer does (bert-base-uncased: accents, CJK, Cyrillic, emoji, whitespace)', async () => {
    const config = readFileSync(join(FIXTURES, 'tokenizer-bge', 'tokenizer_config.json'), 'utf8');
    const bytes = await folderTokenizer(files({ 'vocab.txt': BGE_VOCAB, 'tokenizer_config.json': config }), undefined);
    const tokenizer = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(bytes)), undefined, { specialTokens: false });
    const cases = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer-bge', 'cases.json'), 'utf8')) as {
      text: string;
      ids: number[];
    }[];
    expect(cases.length).toBe(46);
    for (const c of cases) expect(tokenizer.encode(c.text, 10_000).ids, JSON.stringify(c.text)).toEqual(c.ids);
    // With the special tokens: [CLS] ... [SEP], and a literal "[SEP]" in the text is the token, not split.
    const full = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(bytes)));
    expect(full.encode('hello [SEP] world', 100).ids).toEqual([101, 7592, 102, 2088, 102]);
  });

  it("follows tokenizer_config.json's case and BertTokenizer's defaults where it says nothing", () => {
    const json = (settings: Record<string, unknown>) =>
      (wordPieceTokenizer(BGE_VOCAB, settings) as { normalizer: Record<string, unknown> }).normalizer;
    expect(json({})).toMatchObject({ lowercase: true, strip_accents: null, handle_chinese_chars: true });
    expect(json({ do_lower_case: false, strip_accents: false })).toMatchObject({ lowercase: false, strip_accents: false });
    expect(json({ do_basic_tokenize: false })).toMatchObject({
      lowercase: false,
      strip_accents: false,
      handle_chinese_chars: false,
    });
    // A listed-twice token keeps its last line, as BertTokenizer's dict does.
    const vocab = (wordPieceTokenizer('[UNK]\n[CLS]\n[SEP]\na\na\n', {}) as { model: { vocab: Record<string, number> } }).model
      .vocab;
    expect(vocab).toEqual({ '[UNK]': 0, '[CLS]': 1, '[SEP]': 2, a: 4 });
  });

  it('prefers tokenizer.json, and refuses what it cannot build', async () => {
    expect(
      new TextDecoder().decode(await folderTokenizer(files({ 'tokenizer.json': '{"a":1}', 'vocab.txt': 'x' }), undefined)),
    ).toBe('{"a":1}');
    expect(await folderTokenizer(files({}), undefined)).toBeUndefined();
    const mpnet = files({ 'vocab.txt': BERT_VOCAB, 'tokenizer_config.json': '{"tokenizer_class": "MPNetTokenizer"}' });
    await expect(folderTokenizer(mpnet, { model_type: 'mpnet' })).rejects.toThrow(UnsupportedError);
    await expect(folderTokenizer(files({ 'vocab.txt': BERT_VOCAB }), { model_type: 'roberta' })).rejects.toThrow(
      /T5's SentencePiece only, not model_type "roberta"/,
    );
    await expect(folderTokenizer(files({ 'vocab.txt': 'a\nb\n' }), { model_type: 'bert' })).rejects.toThrow(ModelFormatError);
  });

  describe('a 2019-style folder (vocab.txt, pytorch_model.bin, no tokenizer.json) embeds like the oracle', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'm3web-vocab-'));
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));
    for (const f of ['config.json', 'tokenizer_config.json', 'pytorch_model.bin'])
      copyFileSync(join(FIXTURES, 'bert-tiny-bin', f), join(tmp, f));
    writeFileSync(join(tmp, 'vocab.txt'), BERT_VOCAB);
    const expected = readOracleJson(join(FIXTURES, 'bert-tiny', 'expected.json'));

    it('as a Node folder, with the oracle tokens', async () => {
      const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(FIXTURES, 'bert-tiny', 'expected.safetensors'))));
      const folder = await readHfFolder(tmp);
      const tokenizer = TextTokenizer.fromJson(folder.tokenizer, folder.tokenizerConfig);
      expect(expected.texts.map((t) => [...tokenizer.encode(t, 160).ids])).toEqual(expected.ids);
      const enc = await createEncoder({ model: tmp, device: 'cpu', dtype: 'f32', cache: false });
      try {
        (await enc.embed(expected.texts, { normalize: false })).forEach((v, i) => {
          expect(cosine(v, oracle.get(`mean.${i}.${expected.layers}`, [expected.hidden]))).toBeGreaterThan(0.99999);
        });
      } finally {
        await enc.dispose();
      }
    });

    const hub = serveFakeHub(
      'vocab-txt',
      () =>
        new Map([
          [
            'old/bert-vocab',
            {
              files: new Map(
                ['config.json', 'tokenizer_config.json', 'pytorch_model.bin', 'vocab.txt'].map((f) => [
                  f,
                  new Uint8Array(readFileSync(join(tmp, f))),
                ]),
              ),
              commit: '0c1',
            },
          ],
        ]),
    );
    it('by hub id, tokenizer_config.json fetched once', { timeout: 120_000 }, async () => {
      await expectHubLikeOracle(hub.url, 'old/bert-vocab', join(FIXTURES, 'bert-tiny'));
      expect(hub.log.filter((r) => r.method === 'GET' && r.path.endsWith('/tokenizer_config.json'))).toHaveLength(1);
    });
  });
});

describe("tokenizer.json from XLM-R's sentencepiece.bpe.model", () => {
  const dir = join(FIXTURES, 'gguf-xlmr');
  const fromFolder = async (name: string) =>
    existsSync(join(dir, name)) ? new Uint8Array(readFileSync(join(dir, name))) : undefined;
  const json = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

  it('tokenizes as sentencepiece does, framed as XLMRobertaTokenizer frames it (piece + 1, <unk> 3), the character map included', async () => {
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(false);
    const bytes = await folderTokenizer(fromFolder, json('config.json'));
    const tokenizer = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(bytes)), json('tokenizer_config.json'));
    // make_gguf.py's texts (sentencepiece's ids) and make_charsmap_cases.py's (texts its character map changes).
    const expected = json('expected.json') as { texts: string[]; ids: number[][] };
    const cases = json('charsmap-cases.json') as { texts: string[]; ids: number[][] };
    const texts = [...expected.texts, ...cases.texts];
    const ids = [...expected.ids, ...cases.ids];
    expect(texts.length).toBe(15);
    for (const [i, text] of texts.entries())
      expect([...tokenizer.encode(text, 10_000).ids], JSON.stringify(text)).toEqual(ids[i]);
  });

  it("CamemBERT's: fairseq's four specials and SentencePiece's pieces from id 5 (offset 4, XLM-R's is 1), <s> 5 ... </s> 6", async () => {
    const camembert = async (name: string) =>
      name === 'tokenizer_config.json' ? new TextEncoder().encode('{"tokenizer_class": "CamembertTokenizer"}') : fromFolder(name);
    const bytes = await folderTokenizer(camembert, { model_type: 'camembert' });
    const tokenizer = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(bytes)), {});
    // CamembertTokenizer's ids from sentencepiece's (the XLM-R fixture's, framed and shifted by one
    // there): piece p -> p + 4, its unknown piece -> <unk> 3, framed by its own <s> and </s>.
    const expected = json('expected.json') as { texts: string[]; ids: number[][] };
    const cases = json('charsmap-cases.json') as { texts: string[]; ids: number[][] };
    const texts = [...expected.texts, ...cases.texts];
    const ids = [...expected.ids, ...cases.ids].map((xlmr) => [5, ...xlmr.slice(1, -1).map((t) => (t === 3 ? 3 : t + 3)), 6]);
    for (const [i, text] of texts.entries())
      expect([...tokenizer.encode(text, 10_000).ids], JSON.stringify(text)).toEqual(ids[i]);
    expect(tokenizer.tokenId('<mask>')).toBe(tokenizer.maxTokenId);
  });

  it('refuses the SentencePiece tokenizers whose converters it does not follow', async () => {
    const barthez = async (name: string) =>
      name === 'tokenizer_config.json' ? new TextEncoder().encode('{"tokenizer_class": "BarthezTokenizer"}') : fromFolder(name);
    await expect(folderTokenizer(barthez, { model_type: 'mbart' })).rejects.toThrow(UnsupportedError);
    await expect(folderTokenizer(barthez, { model_type: 'mbart' })).rejects.toThrow(/not BarthezTokenizer/);
  });
});

describe("tokenizer.json from ALBERT's and T5's spiece.model", () => {
  const tokenizerOf = async (name: string) => {
    const dir = join(FIXTURES, name);
    const fromFolder = async (file: string) =>
      existsSync(join(dir, file)) ? new Uint8Array(readFileSync(join(dir, file))) : undefined;
    const json = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8'));
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(false);
    const bytes = await folderTokenizer(fromFolder, json('config.json'));
    return {
      tokenizer: TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(bytes)), json('tokenizer_config.json')),
      expected: json('expected.json') as { texts: string[]; ids: number[][] },
    };
  };

  // make_spiece.py's slow-tokenizer oracles (AlbertTokenizer, T5Tokenizer over sentencepiece). The
  // one text its emulation of the fast tokenizer reads otherwise (a tab and a newline, kept by this
  // test model's plain-NFKC map) follows the slow tokenizer here too: the library honours
  // tokenizer_config.json's remove_space, as AlbertTokenizer does.
  it.each([
    [
      'spiece-albert',
      'AlbertConverter: [CLS] ... [SEP], quotes, accents and case folded, "9," split from its comma, [MASK] swallowing the space before it',
    ],
    ['spiece-t5', 'T5Converter: ... </s>, the sentinels <extra_id_N> counted down from the last id'],
  ])('%s tokenizes as %s', async (name) => {
    const { tokenizer, expected } = await tokenizerOf(name);
    expect(expected.texts.length).toBe(18);
    for (const [i, text] of expected.texts.entries())
      expect([...tokenizer.encode(text, 10_000).ids], JSON.stringify(text)).toEqual(expected.ids[i]);
  });
});

describe('SentencePiece model protobufs', () => {
  const read = (bytes: number[]) => readSentencePieceModel(Uint8Array.from(bytes), 'spiece.model');

  it("reads negative int32 fields (T5's trainer_spec bos_id: -1, ten bytes of two's complement)", async () => {
    // pieces { piece: "a" } and trainer_spec { model_type: 1, bos_id: -1 }: fields 1 and 2 of ModelProto, 3 and 41 inside.
    const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const trainer = [0x18, 0x01, 0xc8, 0x02, ...minusOne];
    const model = await read([0x0a, 3, 0x0a, 1, 0x61, 0x12, trainer.length, ...trainer]);
    expect(model.modelType).toBe(1);
    expect(model.pieces.map((p) => p.piece)).toEqual(['a']);
  });

  it('refuses a negative length instead of reading backwards', async () => {
    const minusTwo = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    await expect(read([0x12, ...minusTwo, 0x18, 0x01])).rejects.toThrow(ModelFormatError);
    await expect(read([0x12, ...minusTwo, 0x18, 0x01])).rejects.toThrow(/negative length/);
  });
});
