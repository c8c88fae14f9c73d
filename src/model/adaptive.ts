import { InputError, UnsupportedError } from '../errors.js';
import { type AdaptiveOptions, type AdaptiveResult, finishVector } from './encoder.js';

/**
 * The tolerance of `layers: 'adaptive'` when none is given, chosen on m3-mini's dev sets (FLORES
 * dev bitext, STS dev, xquad-dev; bench/adaptive.ts, bench/results/adaptive-m3-mini.txt) by the
 * rule: the loosest tolerance of the grid (0.9 ... 0.998) whose score stays within 0.5 point of
 * fixed full depth at every trained width. 0.99 misses it at 32 dims (-0.70 point); 0.995 costs
 * at most 0.31 point there and runs 3.4 / 4.2 / 5.4 / 6.0 layers on average at 32 / 64 / 128 / 256
 * dims. The cosine is taken at the call's width, so one tolerance stops later the wider the
 * vector; tighter widths' savings are in the manifest's quality.adaptive rows for the planner.
 */
export const DEFAULT_TOLERANCE = 0.995;

/** Throws InputError unless `tolerance` is a number in (0, 1]. */
export function checkTolerance(tolerance: unknown): number {
  if (typeof tolerance !== 'number' || !(tolerance > 0 && tolerance <= 1)) {
    throw new InputError(`tolerance must be a number in (0, 1], got ${JSON.stringify(tolerance)}`);
  }
  return tolerance;
}

/** Throws InputError unless `exits` are two or more ascending layer counts within the `loadedLayers` loaded. */
export function checkExits(exits: readonly number[], loadedLayers: number): void {
  const sorted = exits.every((e, i) => Number.isInteger(e) && e >= 1 && (i === 0 || e > (exits[i - 1] as number)));
  if (exits.length < 2 || !sorted || (exits.at(-1) as number) > loadedLayers) {
    throw new InputError(`adaptive depth needs two or more ascending exits in 1..${loadedLayers}, got ${exits.join(', ')}`);
  }
}

/** What a backend whose forward cannot stop rows between layers throws. */
export const adaptiveUnsupported = (family: string) =>
  new UnsupportedError(`layers: 'adaptive' is implemented for BERT-family models only, not ${family}`);

/**
 * Decides, exit by exit, which texts leave. A text's vectors are compared as the caller gets them
 * (truncated to `dims`, normalised), since that is what its scores are made of; the first exit has
 * no previous exit to agree with, so no text leaves there (but at the last, where all do).
 */
export class ExitJudge {
  readonly result: AdaptiveResult;
  private readonly previous: (Float32Array | undefined)[];
  private readonly deepest: number;

  /** `truncateNorm`: the model's (truncatesWithNorm). */
  constructor(
    texts: number,
    private readonly o: AdaptiveOptions,
    private readonly truncateNorm = false,
  ) {
    this.deepest = o.exits.at(-1) as number;
    this.previous = new Array(texts);
    this.result = { vectors: new Array(texts), layers: new Array(texts), textsPerLayer: new Array(this.deepest).fill(0) };
  }

  /** Counts `texts` rows run through `layer`. */
  ran(layer: number, texts: number): void {
    this.result.textsPerLayer[layer - 1] = (this.result.textsPerLayer[layer - 1] as number) + texts;
  }

  /** Text `text`'s pooled vector (head applied) at `exit`; true when the text leaves here, its vector kept. */
  offer(text: number, exit: number, pooled: Float32Array): boolean {
    const unit = finishVector(pooled, this.o.dims, true, this.truncateNorm);
    const before = this.previous[text];
    this.previous[text] = unit;
    if (exit !== this.deepest && (before === undefined || dot(before, unit) < this.o.tolerance)) return false;
    this.result.vectors[text] = this.o.normalize ? unit : finishVector(pooled, this.o.dims, false, this.truncateNorm);
    this.result.layers[text] = exit;
    this.previous[text] = undefined;
    return true;
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}
