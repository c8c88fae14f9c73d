/** The element with this id; the playground's markup is fixed, so a missing id is a bug. */
export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground markup has no #${id}`);
  return el;
}

export function fillSelect(select: HTMLSelectElement, values: readonly number[], chosen: number): void {
  select.replaceChildren(...values.map((v) => new Option(String(v), String(v), v === chosen, v === chosen)));
}

/** "4 layers", or for a static embedder (no layers: a table lookup and a mean) "no layers". */
export const layersText = (layers: number): string => (layers === 0 ? 'no layers (static)' : `${layers} layers`);

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
