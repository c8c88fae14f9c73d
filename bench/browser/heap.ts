/**
 * Peak JS memory of a page together with its workers (m3web runs in one), over CDP: the V8 heap
 * and ArrayBuffer backing stores. WebAssembly memories are in neither (Chromium keeps them out of
 * backingStorageSize), nor are GPU buffers: those show only in the RSS figures. Sampled once a
 * second by default, so a shorter peak can be missed, unlike the RSS high-water marks.
 */
import type { CDPSession, Page } from 'playwright';

interface HeapUsage {
  usedSize: number;
  backingStorageSize: number;
}

/** A sample nobody answers within this long (a wedged thread) counts as nothing. */
const ANSWER_MS = 5000;

export class JsHeapPeaks {
  private readonly workers = new Set<string>();
  private readonly waiting = new Map<number, (u: HeapUsage | null) => void>();
  private nextId = 1;
  private busy = false;
  private heap = 0;
  private buffers = 0;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly cdp: CDPSession,
    everyMs: number,
  ) {
    this.timer = setInterval(() => void this.sample(), everyMs);
  }

  /**
   * Attach before the first navigation: workers are picked up as they start, reloads included.
   * Samples every `everyMs` (a shorter period catches shorter peaks, at some cost to the page).
   */
  static async attach(page: Page, everyMs = 1000): Promise<JsHeapPeaks> {
    const cdp = await page.context().newCDPSession(page);
    const peaks = new JsHeapPeaks(cdp, everyMs);
    cdp.on('Target.attachedToTarget', (e) => peaks.workers.add(e.sessionId));
    cdp.on('Target.detachedFromTarget', (e) => e.sessionId && peaks.workers.delete(e.sessionId));
    cdp.on('Target.receivedMessageFromTarget', (e) => {
      const reply = JSON.parse(e.message) as { id: number; result?: HeapUsage };
      peaks.waiting.get(reply.id)?.(reply.result ?? null);
      peaks.waiting.delete(reply.id);
    });
    // Non-flat mode: Playwright's CDPSession cannot address child sessions, but it relays their messages.
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    return peaks;
  }

  private answer<T>(work: Promise<T>): Promise<T | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((done) => {
      timer = setTimeout(() => done(null), ANSWER_MS);
    });
    return Promise.race([work.catch(() => null), late]).finally(() => clearTimeout(timer));
  }

  private workerUsage(sessionId: string): Promise<HeapUsage | null> {
    const id = this.nextId++;
    const reply = new Promise<HeapUsage | null>((done) => this.waiting.set(id, done));
    const message = JSON.stringify({ id, method: 'Runtime.getHeapUsage' });
    void this.cdp.send('Target.sendMessageToTarget', { sessionId, message }).catch(() => this.waiting.get(id)?.(null));
    return this.answer(reply).finally(() => this.waiting.delete(id));
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const usages = await Promise.all([
        this.answer(this.cdp.send('Runtime.getHeapUsage')),
        ...[...this.workers].map((s) => this.workerUsage(s)),
      ]);
      const live = usages.filter((u) => u !== null);
      const heap = live.reduce((t, u) => t + u.usedSize, 0);
      const buffers = live.reduce((t, u) => t + u.backingStorageSize, 0);
      this.heap = Math.max(this.heap, heap);
      this.buffers = Math.max(this.buffers, buffers);
    } finally {
      this.busy = false;
    }
  }

  /** Samples once more and stops: MiB. */
  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer);
    await this.sample();
    return { 'JS heap': this.heap / 2 ** 20, 'JS ArrayBuffers': this.buffers / 2 ** 20 };
  }
}
