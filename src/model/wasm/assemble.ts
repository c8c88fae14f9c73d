/**
 * `npm run build:wasm`: assembles kernels.wat into kernels-wasm.ts (the module's bytes as
 * base64, so that Node, workers and bundlers load the kernels synchronously with no asset to
 * serve). test/unit/wasm-kernels.test.ts fails when the two drift apart.
 */
import { readFile, writeFile } from 'node:fs/promises';
import wabtInit from 'wabt';

const here = new URL('.', import.meta.url);

export async function assembleKernels(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const source = await readFile(new URL('kernels.wat', here), 'utf8');
  const module = wabt.parseWat('kernels.wat', source, { simd: true, bulk_memory: true });
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = new URL('kernels-wasm.ts', here);
  const base64 = Buffer.from(await assembleKernels()).toString('base64');
  await writeFile(
    target,
    `// Generated from kernels.wat by \`npm run build:wasm\`; do not edit.\nexport const KERNELS_WASM_BASE64 =\n  '${base64}';\n`,
  );
  console.log(`wrote ${target.pathname}`);
}
