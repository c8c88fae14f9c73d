/** Characters `Intl.Segmenter` reads at once: its cost grows much faster than a text's length past ~100,000. */
const WINDOW = 4096;

/**
 * `Intl.Segmenter`'s segments of `text`, the text read in windows of about WINDOW characters so
 * the cost stays linear (150,000 characters of Chinese took 10 s in one piece). A window ends at
 * a line break, else a space, in its last quarter where there is one, so a window boundary falls
 * between words (and, where it can, between sentences).
 */
export function* windowedSegments(text: string, segmenter: Intl.Segmenter): Iterable<Intl.SegmentData> {
  for (let start = 0; start < text.length; ) {
    let end = Math.min(text.length, start + WINDOW);
    if (end < text.length) {
      const floor = start + Math.floor((WINDOW * 3) / 4);
      const line = text.lastIndexOf('\n', end - 1);
      const space = text.lastIndexOf(' ', end - 1);
      const cut = line >= floor ? line + 1 : space >= floor ? space + 1 : end;
      // Never between the halves of a surrogate pair.
      end = cut === end && isLowSurrogate(text.charCodeAt(end)) ? end - 1 : cut;
    }
    for (const s of segmenter.segment(text.slice(start, end))) yield { ...s, index: s.index + start, input: text };
    start = end;
  }
}

const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;
