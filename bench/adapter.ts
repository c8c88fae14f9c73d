import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Software Vulkan drivers Dawn can run on in Node. Vulkan reads VK_ICD_FILENAMES once, when the
 * loader starts, so picking one means (re)starting the process with the variable set.
 */
export const ICDS = {
  lavapipe: '/usr/share/vulkan/icd.d/lvp_icd.json',
  swiftshader: '/usr/lib/chromium/vk_swiftshader_icd.json',
} as const;
export type AdapterName = keyof typeof ICDS;

const CHILD_MARK = 'M3WEB_BENCH_CHILD';

export function isAdapterName(s: string): s is AdapterName {
  return Object.hasOwn(ICDS, s);
}

/** The ICD this process should run with, or undefined to leave the environment (and Dawn's choice) alone. */
function wantedIcd(requested: AdapterName | undefined): string | undefined {
  if (requested) return ICDS[requested];
  if (process.env.VK_ICD_FILENAMES) return process.env.VK_ICD_FILENAMES;
  // Default: the fastest software driver present (lavapipe), else SwiftShader, else whatever Dawn finds.
  return [ICDS.lavapipe, ICDS.swiftshader].find((f) => existsSync(f));
}

/**
 * Makes sure VK_ICD_FILENAMES names the wanted driver. Returns null when this process already runs
 * with it (go on), otherwise re-runs this same command as a child with the variable set and
 * returns the child's exit code.
 */
export async function ensureAdapter(requested: AdapterName | undefined): Promise<number | null> {
  const icd = wantedIcd(requested);
  if (requested && icd && !existsSync(icd)) {
    console.error(`--adapter ${requested}: ${icd} does not exist on this machine`);
    return 2;
  }
  if (!icd || process.env.VK_ICD_FILENAMES === icd || process.env[CHILD_MARK]) return null;
  const env = { ...process.env, VK_ICD_FILENAMES: icd, [CHILD_MARK]: '1' };
  // execArgv carries tsx's loader flags, argv[1] is this script.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  return new Promise((resolve) => {
    child.on('error', (err) => {
      console.error(`could not re-run with VK_ICD_FILENAMES=${icd}: ${err.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Short name of the driver the process runs on, from VK_ICD_FILENAMES. */
export function icdName(): string {
  const icd = process.env.VK_ICD_FILENAMES;
  if (!icd) return '(VK_ICD_FILENAMES unset: Dawn default)';
  const known = (Object.keys(ICDS) as AdapterName[]).find((k) => ICDS[k] === icd);
  return known ? `${known} (${icd})` : icd;
}
