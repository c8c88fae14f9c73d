/**
 * Every failure m3web reports is an M3WebError with a stable `code`, so callers can branch on
 * `err.code` (or `instanceof` the subclass) instead of parsing messages.
 */
export type M3WebErrorCode =
  | 'INVALID_INPUT'
  | 'MODEL_FORMAT'
  | 'UNSUPPORTED'
  | 'GPU_UNAVAILABLE'
  | 'GPU_DEVICE_LOST'
  | 'GPU_ERROR'
  | 'DISPOSED'
  | 'ABORTED'
  | 'NETWORK'
  | 'INTEGRITY'
  | 'STORAGE_QUOTA'
  | 'ENGINE_LOST'
  | 'MODEL_NOT_FOUND'
  | 'ACCESS_DENIED';

export class M3WebError extends Error {
  readonly code: M3WebErrorCode;
  constructor(code: M3WebErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The caller passed something the API does not accept (wrong type, empty list, untrained layers/dims). */
export class InputError extends M3WebError {
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

/** A model file is malformed: missing tensor, wrong shape, truncated data, unknown dtype. */
export class ModelFormatError extends M3WebError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_FORMAT', message, options);
  }
}

/** The model is well-formed but uses something m3web does not implement (architecture, activation). */
export class UnsupportedError extends M3WebError {
  constructor(message: string) {
    super('UNSUPPORTED', message);
  }
}

export class GpuError extends M3WebError {}

export class DisposedError extends M3WebError {
  constructor(what: string) {
    super('DISPOSED', `${what} was disposed; create a new one`);
  }
}

/** A download failed (offline, HTTP error, connection cut) and retries did not recover it. */
export class NetworkError extends M3WebError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NETWORK', message, options);
  }
}

/** A file's bytes do not match the SHA-256 its manifest lists, even after fetching it again. */
export class IntegrityError extends M3WebError {
  constructor(message: string) {
    super('INTEGRITY', message);
  }
}

/** The browser refused to store more: `bytesNeeded` says how much the model would have taken. */
export class StorageQuotaError extends M3WebError {
  readonly bytesNeeded: number;
  constructor(bytesNeeded: number, message: string, options?: { cause?: unknown }) {
    super('STORAGE_QUOTA', message, options);
    this.bytesNeeded = bytesNeeded;
  }
}

/**
 * The engine's worker stopped (it crashed, or the browser killed it) while a call was in flight.
 * The call is lost; the encoder's next call starts a new engine (stored indexes come back with
 * it, in-memory ones do not).
 */
export class EngineLostError extends M3WebError {
  constructor(message: string) {
    super('ENGINE_LOST', message);
  }
}

/** The model id or file does not exist where it was looked for (the URL tried is in the message). */
export class ModelNotFoundError extends M3WebError {
  constructor(message: string) {
    super('MODEL_NOT_FOUND', message);
  }
}

/** The model is gated or private: the hub answered 401 or 403 (pass a token with access). */
export class AccessDeniedError extends M3WebError {
  constructor(message: string) {
    super('ACCESS_DENIED', message);
  }
}

/** What a wrong value is, for an error message: 'null', 'array' or its typeof. */
export const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
