import { accessSync, constants, existsSync } from 'node:fs';
import { CHROMIUM_PATH } from './chromium.js';

const FIX = 'apt-get install -y chromium libvulkan1';
const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];

/**
 * What every test machine needs beyond `npm ci`: Chromium (browser tests, and the SwiftShader
 * Vulkan driver that Dawn uses in Node) and the Vulkan loader. Without them the suite would
 * fail test by test; this says it once, with the line that fixes it.
 */
export function missingForTests(): string | null {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    return `${CHROMIUM_PATH} not found`;
  }
  const icd = process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!existsSync(icd)) return `the Vulkan driver ${icd} not found`;
  if (!LIB_DIRS.some((d) => existsSync(`${d}/libvulkan.so.1`))) return 'the Vulkan loader (libvulkan.so.1) not found';
  return null;
}

export function requireTestMachine(): void {
  const missing = missingForTests();
  if (!missing) return;
  process.stderr.write(`m3web tests: ${missing}. Run: ${FIX}\n`);
  process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) requireTestMachine();
