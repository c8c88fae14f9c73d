import { createGpuContext } from '../src/gpu/device.js';
import { GpuEncoder } from '../src/model/gpu.js';
import { bertConfig, randomBert, randomTokens } from '../test/support/random.js';
const cfg = bertConfig({ vocabSize: 30522, hiddenSize: 384, numLayers: 12, numHeads: 12, intermediateSize: 1536 });
const ctx = await createGpuContext();
const enc = await GpuEncoder.create(ctx, randomBert(cfg, 'f32'));
const [b, s, L] = process.argv.slice(2).map(Number) as [number, number, number];
const toks = randomTokens(new Array(b).fill(s), cfg.vocabSize);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  await enc.embed(toks, { layers: L, dims: 384, pooling: 'mean', normalize: true });
  console.log(b, s, L, (performance.now() - t0).toFixed(0), 'ms');
}
enc.dispose(); ctx.device.destroy();
