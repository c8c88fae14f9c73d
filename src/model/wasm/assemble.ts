/**
 * `npm run build:wasm`: assembles kernels.wat into kernels-wasm.ts (the module's bytes as
 * base64, once with a plain memory and once with a shared one for threads, so that Node, workers
 * and bundlers load the kernels synchronously with no asset to serve).
 * test/unit/wasm-kernels.test.ts fails when the two drift apart.
 */
import { readFile, writeFile } from 'node:fs/promises';
import wabtInit from 'wabt';

const here = new URL('.', import.meta.url);

const MEMORY = '(import "env" "memory" (memory 1 65536))';

/** The module with its memory as kernels.wat declares it, and the same with that memory `shared` (for threads). */
export async function assembleKernels(): Promise<{ single: Uint8Array; shared: Uint8Array }> {
  const wabt = await wabtInit();
  const source = await readFile(new URL('kernels.wat', here), 'utf8');
  if (!source.includes(MEMORY)) throw new Error(`kernels.wat must import its memory as ${MEMORY}`);
  const assemble = (text: string) => {
    const module = wabt.parseWat('kernels.wat', text, { simd: true, bulk_memory: true, threads: true });
    try {
      return module.toBinary({}).buffer;
    } finally {
      module.destroy();
    }
  };
  return { single: assemble(source), shared: assemble(source.replace(MEMORY, `${MEMORY.slice(0, -2)} shared))`)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = new URL('kernels-wasm.ts', here);
  const { single, shared } = await assembleKernels();
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  await writeFile(
    target,
    '// Generated from kernels.wat by `npm run build:wasm`; do not edit.\n' +
      `export const KERNELS_WASM_BASE64 =\n  '${base64(single)}';\n` +
      `export const KERNELS_SHARED_WASM_BASE64 =\n  '${base64(shared)}';\n`,
  );
  console.log(`wrote ${target.pathname}`);
}
