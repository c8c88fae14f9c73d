/**
 * `npm run build:wasm`: assembles matmul.wat into matmul-wasm.ts (the module's bytes as base64,
 * so that Node, workers and bundlers load the kernel synchronously with no asset to serve).
 * test/unit/wasm-matmul.test.ts fails when the two drift apart.
 */
import { readFile, writeFile } from 'node:fs/promises';
import wabtInit from 'wabt';

const here = new URL('.', import.meta.url);

export async function assembleMatmul(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const source = await readFile(new URL('matmul.wat', here), 'utf8');
  const module = wabt.parseWat('matmul.wat', source, { simd: true });
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

export function moduleSource(bytes: Uint8Array): string {
  const base64 = Buffer.from(bytes).toString('base64');
  return `// Generated from matmul.wat by \`npm run build:wasm\`; do not edit.
export const MATMUL_WASM_BASE64 =
  '${base64}';
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = new URL('matmul-wasm.ts', here);
  await writeFile(target, moduleSource(await assembleMatmul()));
  console.log(`wrote ${target.pathname}`);
}
