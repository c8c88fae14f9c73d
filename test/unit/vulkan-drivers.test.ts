import { describe, expect, it } from 'vitest';
import { type DriverFs, missingVulkanDriver } from '../../src/gpu/vulkan-drivers.js';

/** A file system holding `files` (absolute paths) and the folders above them. */
function fakeFs(files: string[]): DriverFs {
  return {
    exists: (path) => files.includes(path),
    listDir: (dir) => files.filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1)),
  };
}

const HOME = { HOME: '/home/u' };

describe('missingVulkanDriver', () => {
  it("finds a driver in the loader's default folders", () => {
    for (const path of [
      '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json',
      '/usr/local/share/vulkan/icd.d/x.json',
      '/etc/vulkan/icd.d/nvidia_icd.json',
      '/etc/xdg/vulkan/icd.d/x.json',
      '/home/u/.local/share/vulkan/icd.d/x.json',
      '/home/u/.config/vulkan/icd.d/x.json',
    ]) {
      expect(missingVulkanDriver(HOME, fakeFs([path])), path).toBeNull();
    }
  });

  it('follows XDG_DATA_DIRS instead of the default data folders', () => {
    const fs = fakeFs(['/usr/share/vulkan/icd.d/lvp.json']);
    expect(missingVulkanDriver({ ...HOME, XDG_DATA_DIRS: '/opt/share' }, fs)).toMatch(/no Vulkan driver installed/);
    expect(missingVulkanDriver({ ...HOME, XDG_DATA_DIRS: '/opt/share' }, fakeFs(['/opt/share/vulkan/icd.d/a.json']))).toBeNull();
  });

  it('takes VK_ICD_FILENAMES / VK_DRIVER_FILES alone when set, files or folders', () => {
    const fs = fakeFs(['/usr/share/vulkan/icd.d/lvp.json', '/opt/icd/sw.json']);
    expect(missingVulkanDriver({ ...HOME, VK_ICD_FILENAMES: '/opt/icd/sw.json' }, fs)).toBeNull();
    expect(missingVulkanDriver({ ...HOME, VK_DRIVER_FILES: '/opt/icd' }, fs)).toBeNull();
    expect(missingVulkanDriver({ ...HOME, VK_ICD_FILENAMES: '/nope/x.json' }, fs)).toMatch(
      /no Vulkan driver at VK_DRIVER_FILES\/VK_ICD_FILENAMES=\/nope\/x\.json/,
    );
    expect(missingVulkanDriver({ ...HOME, VK_ICD_FILENAMES: '' }, fs)).toBeNull();
  });

  it('adds VK_ADD_DRIVER_FILES to the search', () => {
    expect(missingVulkanDriver({ ...HOME, VK_ADD_DRIVER_FILES: '/opt/icd/sw.json' }, fakeFs(['/opt/icd/sw.json']))).toBeNull();
    expect(missingVulkanDriver(HOME, fakeFs([]))).toMatch(/apt-get install mesa-vulkan-drivers/);
  });
});
