/**
 * What an early exit of a pre-norm model (ModernBERT, Qwen3, Gemma 3) pools. 'none' (the default):
 * the raw residual stream of the exit layer, as Hugging Face returns it in `hidden_states` and as
 * sentence-transformers' AdaptiveLayerLoss / Matryoshka2dLoss train it; only the last layer gets
 * the final norm. 'final': the final norm at every exit, for models trained that way.
 */
export type ExitNorm = 'none' | 'final';
export const EXIT_NORMS: readonly ExitNorm[] = ['none', 'final'];
