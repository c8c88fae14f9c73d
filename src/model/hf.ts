import { ModelFormatError } from '../errors.js';
import { quantizeLinear } from '../pack/quantize.js';
import type { SafetensorsFile } from '../pack/safetensors.js';
import type { EncoderConfig } from './config.js';
import { type BertLayer, type BertWeights, F32EmbeddingTable, type LayerNormParams, type Linear, type Quant } from './weights.js';

const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/**
 * Checkpoints name the same tensors with different heads in front: BertModel saves
 * `embeddings...`, BertForMaskedLM `bert.embeddings...`, XLM-R `roberta.embeddings...`.
 */
function findPrefix(file: SafetensorsFile): string {
  for (const name of file.tensors.keys()) {
    if (name.endsWith(WORD_EMBEDDINGS)) return name.slice(0, -WORD_EMBEDDINGS.length);
  }
  throw new ModelFormatError(`model.safetensors: missing tensor "${WORD_EMBEDDINGS}" (is this a BERT-family checkpoint?)`);
}

/** Reads the BERT / XLM-R parameters of a Hugging Face checkpoint, quantizing the layer matrices. */
export function bertWeightsFromSafetensors(
  config: EncoderConfig,
  file: SafetensorsFile,
  quant: Quant = 'f32',
  layerCount = config.numLayers,
): BertWeights {
  const p = findPrefix(file);
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const norm = (name: string): LayerNormParams => {
    const modern = file.has(`${p}${name}.weight`);
    return {
      gamma: file.get(`${p}${name}.${modern ? 'weight' : 'gamma'}`, [H]),
      beta: file.get(`${p}${name}.${modern ? 'bias' : 'beta'}`, [H]),
    };
  };
  const linear = (name: string, rows: number, cols: number): Linear =>
    quantizeLinear(file.get(`${p}${name}.weight`, [rows, cols]), rows, cols, file.get(`${p}${name}.bias`, [rows]), quant);

  const layers: BertLayer[] = [];
  for (let l = 0; l < layerCount; l++) {
    const at = `encoder.layer.${l}`;
    const qkvW = new Float32Array(3 * H * H);
    const qkvB = new Float32Array(3 * H);
    ['query', 'key', 'value'].forEach((part, i) => {
      qkvW.set(file.get(`${p}${at}.attention.self.${part}.weight`, [H, H]), i * H * H);
      qkvB.set(file.get(`${p}${at}.attention.self.${part}.bias`, [H]), i * H);
    });
    layers.push({
      qkv: quantizeLinear(qkvW, 3 * H, H, qkvB, quant),
      attnOut: linear(`${at}.attention.output.dense`, H, H),
      attnNorm: norm(`${at}.attention.output.LayerNorm`),
      ffnIn: linear(`${at}.intermediate.dense`, I, H),
      ffnOut: linear(`${at}.output.dense`, H, I),
      ffnNorm: norm(`${at}.output.LayerNorm`),
    });
  }
  return {
    config,
    word: new F32EmbeddingTable(file.get(`${p}${WORD_EMBEDDINGS}`, [config.vocabSize, H]), config.vocabSize, H),
    position: file.get(`${p}embeddings.position_embeddings.weight`, [config.maxPositions, H]),
    tokenType: file.get(`${p}embeddings.token_type_embeddings.weight`, [config.typeVocabSize, H]),
    embNorm: norm('embeddings.LayerNorm'),
    layers,
  };
}
