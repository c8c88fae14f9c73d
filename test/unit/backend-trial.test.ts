import { describe, expect, it } from 'vitest';
import { type BackendProbes, BackendSwitch, SWITCH_WINDOW } from '../../src/budget/index.js';
import { probe, type Timing } from '../support/fake-backend.js';

// The probe says: the CPU for one short text (0.96 vs 5.1 ms at 6 layers), WebGPU for batches.
const CPU: Timing = { fixed: 0, perToken: 0.01 };
const GPU: Timing = { fixed: 5, perToken: 0.001 };
const probes: BackendProbes = { cpu: probe('cpu', CPU), webgpu: probe('webgpu', GPU) };

describe('BackendSwitch trial', () => {
  it('keeps a switch whose first calls run faster than the ones that caused it, and then never moves', () => {
    const s = new BackendSwitch(probes, 6, '');
    expect(s.backendFor(1, 16)).toBe('cpu');
    // A busy spell: the CPU takes 20 ms, 4x WebGPU's prediction.
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('cpu', 6, 1, 16, 20);
    expect(s.backendFor(1, 16)).toBe('webgpu');
    for (let i = 0; i < SWITCH_WINDOW - 1; i++) s.record('webgpu', 6, 1, 16, 6);
    expect(s.choices().short.reason).toMatch(/^switched to webgpu: the last 3 calls on cpu took 3\.9x/);
    s.record('webgpu', 6, 1, 16, 6);
    expect(s.backendFor(1, 16)).toBe('webgpu');
    expect(s.choices().short.reason).toMatch(/; its first 3 calls ran at 3\.3x the speed of its last 3 calls on cpu$/);
    for (let i = 0; i < 10; i++) s.record('webgpu', 6, 1, 16, 1000);
    expect(s.backendFor(1, 16)).toBe('webgpu');
  });

  it('goes back when the prediction that caused the switch was wrong: the other backend is no faster', () => {
    const s = new BackendSwitch(probes, 6, '');
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('cpu', 6, 1, 16, 20);
    // WebGPU was predicted 5.1 ms but takes 25: the machine, not the CPU, was slow.
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('webgpu', 6, 1, 16, 25);
    expect(s.backendFor(1, 16)).toBe('cpu');
    expect(s.choices().short.reason).toMatch(
      /^back on cpu: webgpu's first 3 calls after a switch ran at 0\.8x the speed of its last 3 calls on cpu \(before: the CPU: predicted/,
    );
    for (let i = 0; i < 10; i++) s.record('cpu', 6, 1, 16, 1000);
    expect(s.backendFor(1, 16)).toBe('cpu');
  });

  it('compares calls of other sizes within a class by the CPU cost model, not by raw ms', () => {
    const s = new BackendSwitch(probes, 6, '');
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('cpu', 6, 1, 16, 20);
    // Four times the tokens take 1.5x the ms on WebGPU: per the yardstick (the CPU's 4x), faster.
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('webgpu', 6, 2, 32, 30);
    expect(s.backendFor(1, 16)).toBe('webgpu');
  });
});
