/**
 * Runs `job` holding the Web Lock `name` (shared or exclusive) where the platform has Web Locks
 * (pages and workers); elsewhere (Node) it runs at once.
 */
export function withLock<T>(name: string, mode: 'shared' | 'exclusive', job: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(name, { mode }, job) : job();
}
