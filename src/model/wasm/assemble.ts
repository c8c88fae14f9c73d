/**
 * `npm run build:wasm`: assembles each kernel's .wat into <name>-wasm.ts (the module's bytes as
 * base64, so that Node, workers and bundlers load the kernel synchronously with no asset to
 * serve). test/unit/wasm-kernels.test.ts fails when the two drift apart.
 */
import { readFile, writeFile } from 'node:fs/promises';
import wabtInit from 'wabt';

export const KERNELS = ['matmul', 'attention'] as const;

const here = new URL('.', import.meta.url);

export async function assemble(name: (typeof KERNELS)[number]): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const source = await readFile(new URL(`${name}.wat`, here), 'utf8');
  const module = wabt.parseWat(`${name}.wat`, source, { simd: true, bulk_memory: true });
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

function moduleSource(name: string, bytes: Uint8Array): string {
  return `// Generated from ${name}.wat by \`npm run build:wasm\`; do not edit.
export const ${name.toUpperCase()}_WASM_BASE64 =
  '${Buffer.from(bytes).toString('base64')}';
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const name of KERNELS) {
    const target = new URL(`${name}-wasm.ts`, here);
    await writeFile(target, moduleSource(name, await assemble(name)));
    console.log(`wrote ${target.pathname}`);
  }
}
