/** Pieces of a tokenizer.json that the rebuilt layouts share (GGUF vocabularies, slow tokenizers' files). */

/** An added token: never split, and special unless said otherwise. */
export const addedToken = (id: number, content: string, special = true) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special,
});

/**
 * The post-processor's template: `first A last`, and for pairs `first A last (mid) B last`, B
 * typed 1 unless the pair has the middle separator (RoBERTa's, which types nothing); either end
 * may be null (Qwen puts nothing first, Gemma without add_eos_token nothing last).
 */
export function template(first: [string, number] | null, last: [string, number] | null, pairMid: boolean) {
  const tok = (id: string, type = 0) => ({ SpecialToken: { id, type_id: type } });
  const seq = (id: string, type: number) => ({ Sequence: { id, type_id: type } });
  const typeB = pairMid ? 0 : 1;
  const head = first ? [tok(first[0])] : [];
  const tail = (type: number) => (last ? [tok(last[0], type)] : []);
  return {
    type: 'TemplateProcessing',
    single: [...head, seq('A', 0), ...tail(0)],
    pair: [...head, seq('A', 0), ...tail(0), ...(pairMid ? tail(0) : []), seq('B', typeB), ...tail(typeB)],
    special_tokens: Object.fromEntries(
      [first, last].flatMap((e) => (e ? [e] : [])).map(([t, id]) => [t, { id: t, ids: [id], tokens: [t] }]),
    ),
  };
}
