import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SharedReads } from '../../src/gpu/device.js';
import type { BindingKind, ShaderInterface } from '../../src/gpu/kernel-spec.js';
import { attentionShader } from '../../src/gpu/kernels/attention.js';
import { EMBED_SHADER } from '../../src/gpu/kernels/embed.js';
import { LAYERNORM_SHADER } from '../../src/gpu/kernels/layernorm.js';
import { LORA_SHADER } from '../../src/gpu/kernels/lora.js';
import { matmulShader } from '../../src/gpu/kernels/matmul.js';
import { MOE_SHADER } from '../../src/gpu/kernels/moe.js';
import { POOL_SHADER } from '../../src/gpu/kernels/pool.js';
import { RMSNORM_SHADER } from '../../src/gpu/kernels/rmsnorm.js';
import { SCORE_SHADER } from '../../src/gpu/kernels/score.js';
import { SPLADE_SHADER } from '../../src/gpu/kernels/splade.js';
import { TOPK_SHADER } from '../../src/gpu/kernels/topk.js';
import { wgsl } from '../../src/gpu/shader.js';
import { QUANTS } from '../../src/weights/weights.js';

// A launcher's declarations are held against the WGSL text: the uniform struct field by field,
// the @binding lines by number, name and access, and the u32 consts both sides rely on. Names of
// storage bindings compare without case or underscores (TS `candidateScores`, WGSL
// `CandidateScores`); the uniform binding is matched by its struct type instead of its name.

const READS: SharedReads[] = ['direct', 'subgroup'];
const INTERFACES: [string, ShaderInterface][] = [
  ['layernorm', LAYERNORM_SHADER],
  ['rmsnorm', RMSNORM_SHADER],
  ['embed', EMBED_SHADER],
  ['pool', POOL_SHADER],
  ['lora', LORA_SHADER],
  ['moe', MOE_SHADER],
  ['score', SCORE_SHADER],
  ['splade', SPLADE_SHADER],
  ['topk', TOPK_SHADER],
  ...READS.map((r): [string, ShaderInterface] => [`attention, ${r} reads`, attentionShader(r)]),
  ...READS.flatMap((r) => QUANTS.map((q): [string, ShaderInterface] => [`matmul ${q}, ${r} reads`, matmulShader(q, r)])),
];

const stripComments = (source: string) => source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

interface WgslBinding {
  binding: number;
  name: string;
  kind: BindingKind;
  type: string;
}

function wgslBindings(source: string): WgslBinding[] {
  const found = [...source.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<([^>]*)>\s*(\w+)\s*:\s*([^;]+);/g)];
  return found
    .map(([, binding, space, name, type]) => {
      const access = (space as string).replace(/\s/g, '');
      const kind: BindingKind = access === 'uniform' ? 'uniform' : access === 'storage,read_write' ? 'write' : 'read';
      return { binding: Number(binding), name: name as string, kind, type: (type as string).trim() };
    })
    .sort((a, b) => a.binding - b.binding);
}

function wgslStruct(source: string, name: string): [string, string][] | undefined {
  const body = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(source)?.[1];
  return body
    ?.split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => {
      const m = /^(\w+)\s*:\s*(\w+)$/.exec(f);
      return [m?.[1] ?? f, m?.[2] ?? '?'];
    });
}

function wgslU32Consts(source: string): Map<string, number> {
  const found = source.matchAll(/const\s+(\w+)\s*:\s*u32\s*=\s*(0x[0-9a-fA-F]+|\d+)u\s*;/g);
  return new Map([...found].map(([, name, value]) => [name as string, Number(value)]));
}

const loose = (name: string) => name.toLowerCase().replace(/_/g, '');

/** Every way the declarations disagree with the module's source; empty when they agree. */
function mismatches(spec: ShaderInterface, rawSource: string): string[] {
  const source = stripComments(rawSource);
  const out: string[] = [];
  const declared = wgslBindings(source);
  declared.forEach((b, i) => {
    if (b.binding !== i) out.push(`@binding(${b.binding}) ${b.name}: bindings are not numbered 0..n-1`);
  });
  for (const layout of spec.layouts) {
    Object.entries(layout.kinds).forEach(([name, kind], i) => {
      const w = declared[i];
      if (!w) out.push(`${name}: no @binding(${i}) in the WGSL`);
      else if (w.kind !== kind) out.push(`${name}: declared ${kind}, WGSL @binding(${i}) ${w.name} is ${w.kind}`);
      else if (kind === 'uniform' ? w.type !== spec.params.struct : loose(w.name) !== loose(name)) {
        out.push(`${name}: WGSL @binding(${i}) is ${w.name}: ${w.type}`);
      }
    });
  }
  const widest = Math.max(...spec.layouts.map((l) => Object.keys(l.kinds).length));
  if (widest !== declared.length) out.push(`the layouts bind ${widest} of the WGSL's ${declared.length} bindings`);

  const fields = wgslStruct(source, spec.params.struct);
  const want = Object.entries(spec.params.fields);
  if (!fields) out.push(`no struct ${spec.params.struct}`);
  else if (JSON.stringify(fields) !== JSON.stringify(want)) {
    out.push(`struct ${spec.params.struct} is ${JSON.stringify(fields)}, declared ${JSON.stringify(want)}`);
  }

  const consts = wgslU32Consts(source);
  for (const [name, value] of Object.entries(spec.constants ?? {})) {
    if (consts.get(name) !== value) out.push(`const ${name}: WGSL ${consts.get(name)}, launcher ${value}`);
  }
  return out;
}

describe('kernel declarations against their WGSL', () => {
  for (const [label, spec] of INTERFACES) {
    it(label, async () => {
      expect(mismatches(spec, await wgsl(...spec.files))).toEqual([]);
    });
  }

  it('covers every shader that declares bindings', () => {
    const dir = join(import.meta.dirname, '../../shaders');
    const covered = new Set(INTERFACES.flatMap(([, spec]) => spec.files));
    const bound = readdirSync(dir)
      .filter((f) => f.endsWith('.wgsl') && readFileSync(join(dir, f), 'utf8').includes('@binding'))
      .map((f) => f.replace(/\.wgsl$/, ''));
    expect(bound.filter((f) => !covered.has(f))).toEqual([]);
  });

  it('notices drift', async () => {
    const source = await wgsl(...LAYERNORM_SHADER.files);
    const reordered = source.replace('H: u32,\n  eps: f32,', 'eps: f32,\n  H: u32,');
    const renamed = source.replace('var<storage, read> Gamma', 'var<storage, read> Scale');
    const readOnly = source.replace('var<storage, read_write> Out', 'var<storage, read> Out');
    for (const drifted of [reordered, renamed, readOnly]) {
      expect(drifted).not.toBe(source);
      expect(mismatches(LAYERNORM_SHADER, drifted)).not.toEqual([]);
    }
    const matmul = matmulShader('q8', 'direct');
    const recoded = (await wgsl(...matmul.files)).replace('EPILOGUE_GELU: u32 = 1u', 'EPILOGUE_GELU: u32 = 4u');
    expect(mismatches(matmul, recoded)).toEqual(['const EPILOGUE_GELU: WGSL 4, launcher 1']);
  });
});
