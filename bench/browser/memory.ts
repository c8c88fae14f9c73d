/**
 * Peak resident memory of one Chromium instance's renderer and GPU processes, from Linux's
 * /proc: VmHWM is each process's own high-water mark, so polling only has to read it before the
 * process exits. The browser is found by a marker argument only it was launched with.
 */
import { readdirSync, readFileSync } from 'node:fs';

const read = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the process has exited since /proc was listed
  }
};

/** pid → parent pid and command line, for every process still alive. */
function processTable(): Map<number, { ppid: number; cmdline: string }> {
  const table = new Map<number, { ppid: number; cmdline: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    const cmdline = read(`/proc/${name}/cmdline`);
    if (stat === null || cmdline === null) continue;
    // The command name (field 2) is in parentheses and may hold spaces; ppid is 2 fields after it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    table.set(Number(name), { ppid, cmdline: cmdline.replaceAll('\0', ' ') });
  }
  return table;
}

const KINDS = { renderer: '--type=renderer', 'GPU process': '--type=gpu-process' } as const;
type Kind = keyof typeof KINDS;

export class ChromiumPeaks {
  private readonly peaks = new Map<number, { kind: Kind; kib: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly marker: string,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const table = processTable();
    const roots = [...table]
      .filter(([, p]) => p.cmdline.includes(this.marker) && !p.cmdline.includes('--type='))
      .map(([pid]) => pid);
    const tree = new Set(roots);
    // Parents are not always listed before their children, so grow the set until it stops.
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, p] of table)
        if (!tree.has(pid) && tree.has(p.ppid)) {
          tree.add(pid);
          grew = true;
        }
    }
    for (const pid of tree) {
      const cmdline = table.get(pid)?.cmdline ?? '';
      const kind = (Object.keys(KINDS) as Kind[]).find((k) => cmdline.includes(KINDS[k]));
      const hwm = kind && /VmHWM:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? '');
      if (kind && hwm) this.peaks.set(pid, { kind, kib: Math.max(Number(hwm[1]), this.peaks.get(pid)?.kib ?? 0) });
    }
  }

  /**
   * Samples once more and stops: MiB per kind, the largest process of that kind (the page's
   * renderer, not a spare one; there is one GPU process). Kinds never seen are left out.
   */
  stop(): Record<string, number> {
    this.sample();
    clearInterval(this.timer);
    const out: Record<string, number> = {};
    for (const { kind, kib } of this.peaks.values()) out[`${kind} RSS`] = Math.max(out[`${kind} RSS`] ?? 0, kib / 1024);
    return out;
  }
}
