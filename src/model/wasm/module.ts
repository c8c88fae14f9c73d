const PAGE_BYTES = 65536;

/**
 * Compiles a module from its inlined bytes; null where WebAssembly or its SIMD extension is
 * missing, or a content security policy forbids compiling (the caller then runs TypeScript).
 */
export function compileInline(base64: string): WebAssembly.Module | null {
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    return null;
  }
}

/** Grows `memory` to at least `bytes`; false when it cannot (a 32-bit memory holds 4 GiB). */
export function reserve(memory: WebAssembly.Memory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    return true;
  } catch {
    return false;
  }
}
