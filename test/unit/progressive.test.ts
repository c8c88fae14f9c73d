import { cpSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder, createIndex, type Encoder } from '../../src/client/client.js';
import { NetworkError } from '../../src/errors.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseIndex } from '../../src/search/serialize.js';
import { cosine } from '../support/random.js';
import { rejection } from '../support/rejection.js';
import { serveStatic } from '../support/static-server.js';

// A progressive start over a slow connection: bert-tiny (4 layers) as a pack with exits 1, 2
// and 4, served with its deeper layer shards trickling in, 5 parts 80 ms apart each (~0.4 s a
// shard, ~1.2 s for the three).

const HF = join(import.meta.dirname, '../oracle/fixtures/bert-tiny');
const TEXTS = ['Die Katze schläft auf dem Sofa.', 'the cat sleeps on the sofa'];
const DOCS = [
  { id: 'cat', text: 'Die Katze schläft auf dem Sofa.' },
  { id: 'dog', text: 'A dog runs in the park.' },
  { id: 'time', text: 'What time is it?' },
  { id: 'rain', text: 'It is raining in Berlin today.' },
];
const THROTTLE = { paths: /layer-0[1-3]\.bin$/, chunks: 5, ms: 80 };
const LAST_SHARD = '/layer-03.bin';

async function packDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-progressive-'));
  const ckpt = await openHfCheckpoint(HF);
  try {
    const pack = await convertCheckpoint(ckpt, { id: 'tiny', quant: 'f32', dims: [16, 48], exits: [1, 2, 4] });
    for (const [name, bytes] of pack.files) writeFileSync(join(dir, name), bytes);
  } finally {
    await ckpt.close();
  }
  return dir;
}

/** Polls `done` (the index's state, updated as each slice commits) until it holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 1000) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A throttled server for the pack, the time (performance.now) each file's last byte went out, and a close. */
async function slowServer(dir: string) {
  const sent = new Map<string, number>();
  const { server, url } = await serveStatic(dir, { throttle: THROTTLE, onSent: (p) => sent.set(p, performance.now()) });
  return { url, sent, server };
}

/** A progressive encoder and the exits its onUpgrade heard; `full` resolves once exit 4 is announced. */
async function progressive(url: string) {
  const upgrades: number[] = [];
  let reached: () => void = () => {};
  const full = new Promise<void>((resolve) => (reached = resolve));
  const encoder = await createEncoder({
    model: url,
    device: 'cpu',
    progressive: true,
    onUpgrade: (layers) => {
      upgrades.push(layers);
      if (layers === 4) reached();
    },
  });
  return { encoder, upgrades, full };
}

describe('createEncoder({ progressive: true }) over a slow connection', () => {
  let dir: string;
  let reference: Encoder;
  const servers: Server[] = [];
  const open: Encoder[] = [];

  beforeAll(async () => {
    dir = await packDir();
    reference = await createEncoder({ model: dir, device: 'cpu' });
  });
  afterAll(async () => {
    for (const e of [...open, reference]) await e?.dispose();
    for (const s of servers) s.close();
  });

  it('answers at the first exit before the last shard is sent, then upgrades to full depth', async () => {
    const { url, sent, server } = await slowServer(dir);
    servers.push(server);
    const started = performance.now();
    const { encoder, upgrades, full } = await progressive(url);
    open.push(encoder);
    const ready = performance.now();

    const first = await encoder.embedDetailed(TEXTS);
    const firstAt = performance.now();
    expect(first.layers).toEqual([1, 1]);
    expect(sent.has(LAST_SHARD)).toBe(false);
    const shallow = await reference.embed(TEXTS, { layers: 1 });
    for (const [i, v] of first.vectors.entries()) expect(cosine(v, shallow[i] as Float32Array)).toBeGreaterThanOrEqual(0.99999);

    await full;
    const lastShard = sent.get(LAST_SHARD) as number;
    expect(firstAt).toBeLessThan(lastShard);
    expect(upgrades).toEqual([2, 4]);
    console.log(
      `progressive: ready ${(ready - started).toFixed(0)} ms, first vector (exit 1) ${(firstAt - started).toFixed(0)} ms, ` +
        `last shard sent ${(lastShard - started).toFixed(0)} ms after the start`,
    );

    const after = await encoder.embedDetailed(TEXTS);
    expect(after.layers).toEqual([4, 4]);
    const deep = await reference.embed(TEXTS);
    for (const [i, v] of after.vectors.entries()) expect(cosine(v, deep[i] as Float32Array)).toBeGreaterThanOrEqual(0.99999);
    // Never deeper than asked.
    expect((await encoder.embedDetailed(TEXTS, { layers: 2, dims: 16 })).layers).toEqual([2, 2]);
    expect((await encoder.info()).loadedLayers).toBe(4);
  });

  it('an index made during the download adds at once, searches each row at its exit, and ends at its own', async () => {
    const { url, sent, server } = await slowServer(dir);
    servers.push(server);
    const { encoder, full } = await progressive(url);
    open.push(encoder);

    const index = await createIndex({ encoder, name: 'during', dims: 48 });
    await index.add(DOCS);
    expect(sent.has(LAST_SHARD)).toBe(false);
    // Stored at the exit loaded (1, or 2 had it arrived), each row's exit recorded.
    expect(index.shallowRows).toBe(DOCS.length);
    const { segment } = parseIndex(await index.export());
    const exits = new Map(segment.docs.map((d) => [d.id, d.exits?.[0] as number]));
    expect([...exits.values()].every((e) => e === 1 || e === 2)).toBe(true);
    // A search now scores each row against the query at that row's exit.
    const q = 'where is the cat sleeping?';
    const hits = await index.search(q, { k: 4, mode: 'vector' });
    expect(sent.has(LAST_SHARD)).toBe(false);
    for (const h of hits) {
      const exit = exits.get(h.id) as number;
      const [query] = await reference.embed([q], { layers: exit, dims: 48, kind: 'query' });
      const [doc] = await reference.embed([DOCS.find((d) => d.id === h.id)?.text as string], {
        layers: exit,
        dims: 48,
        kind: 'passage',
      });
      expect(h.score).toBeCloseTo(cosine(query as Float32Array, doc as Float32Array), 5);
    }

    await full;
    await until(() => index.shallowRows === 0);
    expect(parseIndex(await index.export()).segment.docs.every((d) => d.exits === undefined)).toBe(true);
    const fresh = await createIndex({ encoder: reference, name: 'fresh', dims: 48 });
    await fresh.add(DOCS);
    for (const q of ['where is the cat sleeping?', 'weather in Berlin']) {
      const got = await index.search(q, { k: 4, mode: 'vector' });
      const want = await fresh.search(q, { k: 4, mode: 'vector' });
      expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
      for (const [i, h] of got.entries()) expect(Math.abs(h.score - (want[i]?.score as number))).toBeLessThan(1e-5);
    }
  });

  it('disposing the encoder while an index re-embeds hangs nothing and throws nothing', async () => {
    const { url, server } = await slowServer(dir);
    servers.push(server);
    const { encoder, full } = await progressive(url);
    const index = await createIndex({ encoder, name: 'disposed', dims: 48 });
    const many = Array.from({ length: 120 }, (_, i) => ({ id: `d${i}`, text: `${DOCS[i % 4]?.text} (${i})` }));
    await index.add(many);
    expect(index.shallowRows).toBe(120);
    await full;
    // The re-embedding (4 slices) has started, or is about to; the engine goes with its indexes.
    await encoder.dispose();
    expect(await rejection(index.search('cat'))).toMatchObject({ code: 'DISPOSED' });
    await new Promise((resolve) => setTimeout(resolve, 100));
  });

  it('after a failed background download, calls fetch what they ask for and report the failure', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'm3web-progressive-broken-'));
    cpSync(dir, broken, { recursive: true });
    renameSync(join(broken, 'layer-02.bin'), join(broken, 'layer-02.bin.away'));
    const { server, url } = await serveStatic(broken);
    servers.push(server);
    const { encoder, upgrades } = await progressive(url);
    open.push(encoder);
    // The upgrade to exit 2 lands; the one to exit 4 fails on the missing shard, and then a call
    // at full depth tries the download itself and says why it cannot.
    let failure: unknown = null;
    for (let tries = 0; tries < 100 && failure === null; tries++) {
      failure = await encoder.embedDetailed(TEXTS).then(
        () => new Promise((resolve) => setTimeout(() => resolve(null), 20)),
        (err: unknown) => err,
      );
    }
    expect(failure).toBeInstanceOf(NetworkError);
    expect(upgrades).toEqual([2]);
    expect((await encoder.embedDetailed(TEXTS, { layers: 2 })).layers).toEqual([2, 2]);
    // Back online: the next call at full depth loads it.
    renameSync(join(broken, 'layer-02.bin.away'), join(broken, 'layer-02.bin'));
    expect((await encoder.embedDetailed(TEXTS)).layers).toEqual([4, 4]);
  });

  it('changes nothing without progressive: the encoder resolves with every layer', async () => {
    const { url, sent, server } = await slowServer(dir);
    servers.push(server);
    const encoder = await createEncoder({ model: url, device: 'cpu' });
    open.push(encoder);
    expect(sent.has(LAST_SHARD)).toBe(true);
    expect((await encoder.embedDetailed(TEXTS)).layers).toEqual([4, 4]);
  });
});
