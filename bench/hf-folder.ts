/**
 * Writes BERT weights as a Hugging Face folder (config.json, f32 model.safetensors, tokenizer
 * files) under BertModel's parameter names: the form training/onnx_export.py turns into the ONNX
 * files transformers.js runs, so both runtimes get the same numbers.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { safetensorsBytes } from '../src/checkpoint/safetensors.js';
import type { EncoderConfig } from '../src/weights/config.js';
import { dequantizeLinear } from '../src/weights/quantize.js';
import type { BertWeights, LayerNormParams, Linear } from '../src/weights/weights.js';

function hfConfig(c: EncoderConfig): Record<string, unknown> {
  return {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    intermediate_size: c.intermediateSize,
    max_position_embeddings: c.maxPositions,
    type_vocab_size: c.typeVocabSize,
    layer_norm_eps: c.layerNormEps,
    pad_token_id: c.padTokenId,
    hidden_act: 'gelu',
    position_embedding_type: 'absolute',
  };
}

/** Every tensor as f32, in BertModel names; quantized layers are dequantised. */
function hfTensors(w: BertWeights): Map<string, { shape: number[]; data: Float32Array }> {
  const { hiddenSize: H, vocabSize: V } = w.config;
  if (!w.position || !w.tokenType) throw new Error(`${w.config.modelType} weights have no BertModel form`);
  const { position, tokenType } = w;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], data: Float32Array) => out.set(name, { shape, data });
  const linear = (name: string, l: Linear) => {
    put(`${name}.weight`, [l.rows, l.cols], dequantizeLinear(l));
    put(`${name}.bias`, [l.rows], l.bias);
  };
  const norm = (name: string, n: LayerNormParams) => {
    put(`${name}.weight`, [H], n.gamma);
    put(`${name}.bias`, [H], n.beta);
  };
  const table = new Float32Array(V * H);
  w.word.gather(
    Array.from({ length: V }, (_, i) => i),
    table,
  );
  put('embeddings.word_embeddings.weight', [V, H], table);
  put('embeddings.position_embeddings.weight', [w.config.maxPositions, H], position);
  put('embeddings.token_type_embeddings.weight', [w.config.typeVocabSize, H], tokenType);
  norm('embeddings.LayerNorm', w.embNorm);
  w.layers.forEach((l, i) => {
    const at = `encoder.layer.${i}`;
    const qkv = dequantizeLinear(l.qkv);
    ['query', 'key', 'value'].forEach((part, j) => {
      put(`${at}.attention.self.${part}.weight`, [H, H], qkv.subarray(j * H * H, (j + 1) * H * H));
      put(`${at}.attention.self.${part}.bias`, [H], l.qkv.bias.subarray(j * H, (j + 1) * H));
    });
    linear(`${at}.attention.output.dense`, l.attnOut);
    norm(`${at}.attention.output.LayerNorm`, l.attnNorm);
    linear(`${at}.intermediate.dense`, l.ffnIn);
    linear(`${at}.output.dense`, l.ffnOut);
    norm(`${at}.output.LayerNorm`, l.ffnNorm);
  });
  return out;
}

export async function writeHfFolder(
  dir: string,
  weights: BertWeights,
  tokenizer: { json: string; config: Record<string, unknown> },
): Promise<void> {
  if (weights.layers.length !== weights.config.numLayers) throw new Error('writeHfFolder needs every layer loaded');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(hfConfig(weights.config), null, 1)}\n`);
  await writeFile(join(dir, 'model.safetensors'), safetensorsBytes(hfTensors(weights)));
  await writeFile(join(dir, 'tokenizer.json'), tokenizer.json);
  await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizer.config, null, 1)}\n`);
}
