import type { Highlight } from '../index.js';

/** Characters of a hit's chunk shown around its first marked word. */
const EXCERPT_CHARS = 180;

/**
 * `text` with its highlighted runs (a hit's `title.highlights` or `chunk.highlights`) in <mark>,
 * as nodes (never parsed as HTML): what a page showing hits of its own appends.
 */
export function markedNodes(text: string, highlights: readonly Highlight[]): Node[] {
  const nodes: Node[] = [];
  let at = 0;
  for (const [start, end] of highlights) {
    if (start > at) nodes.push(document.createTextNode(text.slice(at, start)));
    const mark = document.createElement('mark');
    mark.textContent = text.slice(start, end);
    nodes.push(mark);
    at = end;
  }
  nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

/** About EXCERPT_CHARS of `text` from a little before its first highlight, marked, with … where it is cut. */
export function excerpt(text: string, highlights: readonly Highlight[]): Node[] {
  if (text.length <= EXCERPT_CHARS) return markedNodes(text, highlights);
  const first = highlights[0]?.[0] ?? 0;
  let start = Math.max(0, Math.min(first - 40, text.length - EXCERPT_CHARS));
  // Start and end at word boundaries where there is one near.
  const space = text.lastIndexOf(' ', start);
  if (start > 0 && space >= 0 && start - space < 20) start = space + 1;
  const end = Math.min(text.length, start + EXCERPT_CHARS);
  const inside = highlights.filter(([s, e]) => s >= start && e <= end).map(([s, e]): Highlight => [s - start, e - start]);
  return [
    ...(start > 0 ? [document.createTextNode('… ')] : []),
    ...markedNodes(text.slice(start, end), inside),
    ...(end < text.length ? [document.createTextNode(' …')] : []),
  ];
}
