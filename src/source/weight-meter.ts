import type { PackLoadProgress } from '../store/pack-loader.js';

/**
 * Progress of a conversion, counted in weight bytes only: per file and over every weight file.
 * The small JSON files (config, tokenizer) are left out, so the bar moves with the bulk of the
 * work instead of jumping at the start. Bytes read twice (a download resumed from scratch) are
 * counted once, so `loaded` never passes `total`.
 */
export class WeightMeter {
  private readonly files = new Map<string, { loaded: number; total: number }>();
  private loaded = 0;
  private total = 0;

  constructor(private readonly report: ((p: PackLoadProgress) => void) | undefined) {}

  /** A weight file of `size` bytes joins the total (before any of it is counted). */
  add(file: string, size: number): void {
    this.files.set(file, { loaded: 0, total: size });
    this.total += size;
  }

  /** `bytes` more of `file` have arrived. */
  count(file: string, bytes: number): void {
    const f = this.files.get(file);
    if (!f) return;
    const n = Math.min(bytes, f.total - f.loaded);
    if (n <= 0) return;
    f.loaded += n;
    this.loaded += n;
    this.report?.({ phase: 'download', file, fileLoaded: f.loaded, fileTotal: f.total, loaded: this.loaded, total: this.total });
  }

  /** The conversion is done: tensors it never needed (a pooler, say) were skipped, not missed. */
  finish(): void {
    for (const [file, f] of this.files) this.count(file, f.total - f.loaded);
    this.report?.({ phase: 'done', fileLoaded: 0, fileTotal: 0, loaded: this.total, total: this.total });
  }
}
