/**
 * How `npm run bench -- auto` times device 'auto' against both forced backends, in Node and inside
 * the Chromium page alike (so nothing here imports node modules): three encoders of one model,
 * called in interleaved rounds.
 */
import type { Encoder } from '../../src/index.js';
import type { BackendUse } from '../../src/types.js';

export const DEVICES = ['auto', 'cpu', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];

export interface ShapeResult {
  shape: string;
  /** Median ms per device; a forced device that lost by CLEAR_LOSS: its one call. */
  ms: Record<Device, number>;
  /** auto / min(cpu, webgpu). */
  ratio: number;
  /** Every timed call, per device, in order (warm-up rounds not among them). */
  runs: Record<Device, number[]>;
  /** The forced device whose first call took CLEAR_LOSS times the other's, so it was called no more. */
  clearLoser?: Device;
}

/** Which backend 'auto' runs each size class on, and why, as one line per class. */
export interface AutoChoice {
  short: string;
  batch: string;
}

/**
 * A forced backend whose first call of a shape takes this many times the other forced backend's
 * has lost that shape by far more than buffer growth or noise: it is not called again, since each
 * call can take minutes (m3-mini's 32 × 128 on SwiftShader) and cannot change min(cpu, webgpu).
 */
export const CLEAR_LOSS = 4;

export const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3));

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export const choiceOf = (u: { short: BackendUse; batch: BackendUse }): AutoChoice => ({
  short: `${u.short.backend}: ${u.short.reason}`,
  batch: `${u.batch.backend}: ${u.batch.reason}`,
});

/**
 * First-use costs (pipeline compilation, thread start-up) belong to no shape: one call per encoder
 * after opening, so that a shape's first call only grows buffers and can tell a clear loser.
 */
export async function warmUp(encoders: Record<Device, Encoder>): Promise<void> {
  for (const device of DEVICES) await encoders[device].embed(['warm-up']);
}

/**
 * The six orders of the three devices, cycled round by round: each device follows each other one
 * equally often, which matters because a call slows the next one a little (a CPU backend's
 * threads spin for a while after their work, a software adapter's threads finish theirs).
 */
const ORDERS: Device[][] = DEVICES.flatMap((a) =>
  DEVICES.filter((b) => b !== a).map((b) => [a, b, DEVICES.find((c) => c !== a && c !== b) as Device]),
);

/**
 * Every device's calls of one shape, interleaved: per round one call each, in the ORDERS cycle,
 * so a slow spell of the machine hits all three alike. Two warm-up rounds are not kept; after the
 * first, a forced device that lost by CLEAR_LOSS is dropped. 'auto' is always timed in full.
 */
export async function timeShape(
  encoders: Record<Device, Encoder>,
  shape: string,
  texts: string[],
  runs: number,
  log: (s: string) => void,
): Promise<ShapeResult> {
  const warmUps = 2;
  const times: Record<Device, number[]> = { auto: [], cpu: [], webgpu: [] };
  const first = {} as Record<Device, number>;
  let clearLoser: Device | undefined;
  for (let r = 0; r < warmUps + runs; r++) {
    for (const device of ORDERS[r % ORDERS.length] as Device[]) {
      if (device === clearLoser) continue;
      const start = performance.now();
      await encoders[device].embed(texts);
      const ms = performance.now() - start;
      if (r === 0) first[device] = ms;
      if (r >= warmUps) times[device].push(ms);
    }
    if (r === 0) {
      if (first.webgpu >= CLEAR_LOSS * first.cpu) clearLoser = 'webgpu';
      else if (first.cpu >= CLEAR_LOSS * first.webgpu) clearLoser = 'cpu';
      if (clearLoser)
        log(
          `  ${shape}: ${clearLoser}'s first call took ${fmt(first[clearLoser])} ms, ${CLEAR_LOSS}x or more the other's: not called again`,
        );
    }
    // Progress for the slow shape; the short one's many rounds pass in seconds.
    if (r >= warmUps && runs <= 10)
      log(
        `  ${shape} round ${r - warmUps + 1}/${runs}: ${DEVICES.filter((d) => d !== clearLoser)
          .map((d) => `${d} ${fmt(times[d].at(-1) as number)}`)
          .join(', ')} ms`,
      );
  }
  const at = (d: Device) => (d === clearLoser ? first[d] : median(times[d]));
  const ms = { auto: at('auto'), cpu: at('cpu'), webgpu: at('webgpu') };
  return { shape, ms, ratio: ms.auto / Math.min(ms.cpu, ms.webgpu), runs: times, ...(clearLoser ? { clearLoser } : {}) };
}
