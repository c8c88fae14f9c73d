import { ModelFormatError } from '../errors.js';
import { PIECE } from '../tokenizer/unigram-json.js';
import { ProtoReader, WIRE } from './protobuf.js';
import { bytesSource } from './safetensors.js';

/** What m3web reads of a SentencePiece model (sentencepiece_model.proto's ModelProto). */
export interface SentencePieceModel {
  pieces: { piece: string; score: number; type: number }[];
  /** TrainerSpec.model_type: 1 Unigram, 2 BPE, 3 word, 4 char. */
  modelType: number;
  charsmap: Uint8Array | undefined;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
}

const MODEL = { pieces: 1, trainerSpec: 2, normalizerSpec: 3 };
const PIECE_FIELD = { piece: 1, score: 2, type: 3 };
const TRAINER = { modelType: 3 };
const NORMALIZER = { charsmap: 2, addDummyPrefix: 3, removeExtraWhitespaces: 4 };

/** Reads a SentencePiece .model file (sentencepiece.bpe.model, spiece.model); other fields are skipped. */
export async function readSentencePieceModel(bytes: Uint8Array, name: string): Promise<SentencePieceModel> {
  const model: SentencePieceModel = {
    pieces: [],
    modelType: 1,
    charsmap: undefined,
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
  };
  const top = new ProtoReader(bytesSource(bytes, name), 0, bytes.length);
  // Each field's value (numbers, or a nested message's reader), dispatched by number and wire type.
  const fields = async (reader: ProtoReader, visit: (field: number, wire: number) => Promise<boolean>) => {
    while (!reader.done) {
      const { field, wire } = await reader.key();
      if (!(await visit(field, wire))) await reader.skipValue(wire);
    }
  };
  const float = async (r: ProtoReader) => new DataView((await r.bytes(4)).slice().buffer).getFloat32(0, true);
  await fields(top, async (field, wire) => {
    if (wire !== WIRE.bytes) return false;
    const sub = top.sub(await top.varint());
    if (field === MODEL.pieces) {
      const piece = { piece: '', score: 0, type: PIECE.normal as number };
      await fields(sub, async (f, w) => {
        if (f === PIECE_FIELD.piece && w === WIRE.bytes) piece.piece = await sub.string();
        else if (f === PIECE_FIELD.score && w === WIRE.fixed32) piece.score = await float(sub);
        else if (f === PIECE_FIELD.type && w === WIRE.varint) piece.type = await sub.varint();
        else return false;
        return true;
      });
      model.pieces.push(piece);
    } else if (field === MODEL.trainerSpec) {
      await fields(sub, async (f, w) => {
        if (f !== TRAINER.modelType || w !== WIRE.varint) return false;
        model.modelType = await sub.varint();
        return true;
      });
    } else if (field === MODEL.normalizerSpec) {
      await fields(sub, async (f, w) => {
        if (f === NORMALIZER.charsmap && w === WIRE.bytes) model.charsmap = (await sub.bytes(await sub.varint())).slice();
        else if (f === NORMALIZER.addDummyPrefix && w === WIRE.varint) model.addDummyPrefix = (await sub.varint()) !== 0;
        else if (f === NORMALIZER.removeExtraWhitespaces && w === WIRE.varint)
          model.removeExtraWhitespaces = (await sub.varint()) !== 0;
        else return false;
        return true;
      });
    }
    return true;
  });
  if (model.pieces.length === 0) throw new ModelFormatError(`${name} holds no pieces: not a SentencePiece model`);
  return model;
}
