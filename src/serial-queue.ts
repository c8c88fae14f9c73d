/**
 * Runs jobs one at a time in call order. A job that fails rejects its own promise only; the
 * queue goes on. `guard` runs just before each job, so a job queued before dispose() or a device
 * loss fails with that error instead of running on a dead resource.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly guard: () => void = () => {}) {}

  run<T>(job: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(() => {
      this.guard();
      return job();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
