import { IntegrityError, M3WebError, NetworkError, UnsupportedError } from '../errors.js';

/** The part of `fetch` the store uses; `globalThis.fetch` fits, and so does a test double. */
export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface FetchFileOptions {
  /** The size the manifest lists: the buffer is allocated once at this size and the body may not exceed it. */
  expectedBytes: number;
  /**
   * Read `expectedBytes` from this byte of the file instead of the whole file (a tensor of a
   * checkpoint on a server): a Range request, and a server that ignores Range is read past the
   * bytes before it and cut off after the ones wanted.
   */
  offset?: number;
  /** Sent with every request (an Authorization header for a hub). */
  headers?: HeadersInit;
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
  fetch?: FetchLike;
  /**
   * A buffer of at least `expectedBytes` to read into instead of a new one (a converter's block
   * buffer, reused read after read). A ranged read may move its memory into the returned array's
   * buffer, leaving this one detached: use the returned array.
   */
  into?: Uint8Array;
}

const MAX_RETRIES = 3;
const BACKOFF_MS = 200;

function abortedError(signal: AbortSignal): M3WebError {
  return new M3WebError('ABORTED', 'the model load was aborted', { cause: signal.reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// Statuses a CDN or an overloaded server returns for a moment; worth another try.
const transientStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** First byte position of a 206 response, when the server (and CORS) let us see Content-Range. */
function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

function allocate(url: string, bytes: number): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(bytes);
  } catch (cause) {
    // A manifest may list sizes no ArrayBuffer can hold; say so instead of leaking a RangeError.
    throw new UnsupportedError(`${url}: cannot hold ${bytes} bytes in one buffer here (${String(cause)})`);
  }
}

/**
 * A reader that fills the caller's buffer (a byte stream's BYOB reader), where the body is one:
 * it makes no chunks of its own to copy and drop, which a conversion reading a whole checkpoint
 * would otherwise pile up by the hundred MB between collections.
 */
function byobReader(body: ReadableStream<Uint8Array> | null): ReadableStreamBYOBReader | undefined {
  try {
    return body?.getReader({ mode: 'byob' });
  } catch {
    return undefined;
  }
}

/**
 * Downloads one file of known size into a single buffer. A body that breaks off is resumed with
 * a Range request (the server may answer 206 to continue or 200 to start over), up to
 * MAX_RETRIES times; a body longer than `expectedBytes` is refused without reading the rest.
 */
export async function fetchFile(url: string, options: FetchFileOptions): Promise<Uint8Array> {
  const { expectedBytes: total, signal } = options;
  const ranged = options.offset !== undefined;
  const offset = options.offset ?? 0;
  const doFetch: FetchLike = options.fetch ?? ((u, init) => globalThis.fetch(u, init));
  let buf: Uint8Array<ArrayBuffer> =
    options.into && options.into.byteLength >= total
      ? (options.into.subarray(0, total) as Uint8Array<ArrayBuffer>)
      : allocate(url, total);
  let loaded = 0;
  let retries = 0;
  const retry = async (why: string, cause?: unknown) => {
    if (retries === MAX_RETRIES) {
      throw new NetworkError(`${url}: ${why}; gave up after ${MAX_RETRIES} retries (${loaded} of ${total} bytes received)`, {
        cause,
      });
    }
    await sleep(BACKOFF_MS * 2 ** retries, signal);
    retries++;
  };

  for (;;) {
    throwIfAborted(signal);
    const headers = new Headers(options.headers);
    if (ranged) headers.set('Range', `bytes=${offset + loaded}-${offset + total - 1}`);
    else if (loaded > 0) headers.set('Range', `bytes=${loaded}-`);
    // Bytes of a 200 answer before the range wanted (a server that ignores Range).
    let skip = 0;
    let res: Response;
    try {
      res = await doFetch(url, signal ? { headers, signal } : { headers });
    } catch (cause) {
      throwIfAborted(signal);
      await retry(`request failed (${String(cause)})`, cause);
      continue;
    }
    if (res.status === 206 && (loaded > 0 || ranged)) {
      const start = rangeStart(res);
      if (start !== undefined && start !== offset + loaded)
        throw new NetworkError(`${url}: asked for bytes from ${offset + loaded}, got HTTP 206 from ${start}`);
    } else if (res.status === 200 || res.status === 206) {
      loaded = 0;
      skip = res.status === 200 ? offset : 0;
    } else {
      void res.body?.cancel().catch(() => {});
      if (transientStatus(res.status)) {
        await retry(`HTTP ${res.status}`);
        continue;
      }
      throw new NetworkError(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    const direct = ranged && skip === 0 ? byobReader(res.body) : undefined;
    if (direct) {
      try {
        for (;;) {
          const read = await direct.read(new Uint8Array(buf.buffer, buf.byteOffset + loaded, total - loaded));
          // The read moved the buffer's memory into the one it returns.
          if (read.value) buf = new Uint8Array(read.value.buffer, read.value.byteOffset - loaded, total);
          throwIfAborted(signal);
          if (read.done) break;
          loaded += read.value.byteLength;
          options.onProgress?.(loaded, total);
          if (loaded === total) {
            void direct.cancel().catch(() => {});
            return buf;
          }
        }
      } catch (cause) {
        // A failed read keeps the memory it was given: start the range over in a new buffer.
        if (buf.byteLength === 0) {
          buf = allocate(url, total);
          loaded = 0;
        }
        if (cause instanceof M3WebError) throw cause;
        throwIfAborted(signal);
        await retry(`the download broke off (${String(cause)})`, cause);
        continue;
      }
      await retry('the body ended early');
      continue;
    }
    // Content-Length is not consulted: with Content-Encoding it counts compressed bytes, and the
    // buffer is already sized by the manifest, so the body itself is checked as it arrives.
    const reader = res.body?.getReader();
    try {
      for (;;) {
        const chunk = reader ? await reader.read() : { done: true as const };
        if (signal?.aborted) void reader?.cancel().catch(() => {});
        throwIfAborted(signal);
        if (chunk.done) break;
        let bytes = chunk.value;
        if (skip > 0) {
          const dropped = Math.min(skip, bytes.byteLength);
          skip -= dropped;
          bytes = bytes.subarray(dropped);
        }
        if (loaded + bytes.byteLength > total) {
          if (!ranged) {
            void reader?.cancel().catch(() => {});
            throw new IntegrityError(`${url}: the server sent more than the ${total} bytes the manifest lists`);
          }
          bytes = bytes.subarray(0, total - loaded);
        }
        buf.set(bytes, loaded);
        loaded += bytes.byteLength;
        options.onProgress?.(loaded, total);
        if (ranged && loaded === total) {
          void reader?.cancel().catch(() => {});
          break;
        }
      }
    } catch (cause) {
      if (cause instanceof M3WebError) throw cause;
      throwIfAborted(signal);
      await retry(`the download broke off (${String(cause)})`, cause);
      continue;
    }
    if (loaded === total) return buf;
    // A clean end of stream before the expected size is a dropped connection as far as we can tell.
    await retry('the body ended early');
  }
}
