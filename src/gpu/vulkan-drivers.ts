/**
 * Whether the Vulkan loader would find a driver (an ICD manifest), checked before Dawn is asked
 * for an adapter in Node on Linux. Without one, Dawn still answers "no adapter", but only after
 * printing its loader warnings and a C++ source path straight to the process's stderr, where a
 * successful CPU run then looks like a crash. The search order is the loader's
 * (LoaderInterfaceArchitecture.md, "Driver Discovery on Linux").
 */

type Env = Record<string, string | undefined>;
/** The two file-system questions asked; injected so the search order is testable. */
export interface DriverFs {
  /** A folder's file names, [] where it is missing. */
  listDir(dir: string): string[];
  exists(path: string): boolean;
}

function driverDirs(env: Env): string[] {
  const home = env.HOME ?? '';
  const configHome = env.XDG_CONFIG_HOME || `${home}/.config`;
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const dataHome = env.XDG_DATA_HOME || `${home}/.local/share`;
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  return [configHome, ...configDirs, '/etc', dataHome, ...dataDirs].filter(Boolean).map((d) => `${d}/vulkan/icd.d`);
}

/** Entries of VK_DRIVER_FILES / VK_ICD_FILENAMES / VK_ADD_DRIVER_FILES: manifest files or folders of them. */
function hasListedDriver(value: string | undefined, fs: DriverFs): boolean {
  return (value ?? '')
    .split(':')
    .filter(Boolean)
    .some((entry) => (entry.endsWith('.json') ? fs.exists(entry) : hasManifest(entry, fs)));
}

const hasManifest = (dir: string, fs: DriverFs) => fs.listDir(dir).some((f) => f.endsWith('.json'));

/** Null when a Vulkan driver manifest is in reach, else why not, in words for `fallbackReason`. */
export function missingVulkanDriver(env: Env, fs: DriverFs): string | null {
  const fixed = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  if (fixed) {
    return hasListedDriver(fixed, fs) ? null : `no Vulkan driver at VK_DRIVER_FILES/VK_ICD_FILENAMES=${fixed}`;
  }
  if (hasListedDriver(env.VK_ADD_DRIVER_FILES, fs)) return null;
  if (driverDirs(env).some((dir) => hasManifest(dir, fs))) return null;
  return 'no Vulkan driver installed; apt-get install mesa-vulkan-drivers, or set VK_ICD_FILENAMES';
}
