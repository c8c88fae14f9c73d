/**
 * The Matryoshka widths a model card (a repository's README.md) says the model was trained for:
 * the `matryoshka_dims` of the MatryoshkaLoss or Matryoshka2dLoss parameters that
 * sentence-transformers (v3 on) writes into the cards of the models it trains, as a JSON block
 * under "Training Details". Where several losses list widths (one per dataset), only the widths
 * every one of them trained are kept. Undefined where the card states none (hand-written cards:
 * trained-widths.ts knows a few of those).
 */
export function cardWidths(card: string): number[] | undefined {
  const lists: number[][] = [];
  for (const m of card.matchAll(/"matryoshka_dims"\s*:\s*\[([^\]]*)\]/g)) {
    const items = (m[1] as string).split(',').map((s) => s.trim());
    if (items.length === 0 || !items.every((s) => /^\d{1,6}$/.test(s))) continue;
    const widths = items.map(Number).filter((d) => d > 0);
    if (widths.length === items.length) lists.push(widths);
  }
  const [first, ...rest] = lists;
  if (!first) return undefined;
  const common = first.filter((d) => rest.every((l) => l.includes(d)));
  return common.length > 0 ? [...new Set(common)].sort((a, b) => a - b) : undefined;
}
