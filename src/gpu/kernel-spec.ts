import type { UniformArena } from './resources.js';

/**
 * A kernel's interface with its WGSL, declared once in its launcher: the uniform block and the
 * bindings by name, so a launcher writes `{ H, eps }` and `{ x, gamma, ... }` rather than
 * positions matched to the shader by convention. WGSL stays the source of the struct and the
 * @binding lines; test/unit/kernel-interfaces.test.ts parses them and fails when a declaration
 * here and its shader disagree.
 */

export type Scalar = 'u32' | 'i32' | 'f32';
export type UniformFields = Readonly<Record<string, Scalar>>;

/** A WGSL uniform struct of 4-byte scalars, fields in struct order (object key order). */
export class UniformBlock<F extends UniformFields> {
  private readonly names: readonly (keyof F & string)[];
  private readonly types: readonly Scalar[];
  private readonly bytes: number;

  constructor(
    /** The WGSL struct's name. */
    readonly struct: string,
    readonly fields: F,
  ) {
    this.names = Object.keys(fields);
    this.types = Object.values(fields);
    this.bytes = this.names.length * 4;
  }

  /** Writes one block into the arena's next slot and returns its binding. */
  write(arena: UniformArena, values: { readonly [K in keyof F]: number }): GPUBufferBinding {
    const { binding, view } = arena.push(this.bytes);
    this.names.forEach((name, i) => {
      const v = values[name];
      const type = this.types[i];
      // WebGPU buffers are little-endian whatever the host is.
      if (type === 'f32') view.setFloat32(i * 4, v, true);
      else if (type === 'i32') view.setInt32(i * 4, v, true);
      else view.setUint32(i * 4, v, true);
    });
    return binding;
  }
}

/** Uniform params, read-only storage, read-write storage. */
export type BindingKind = 'uniform' | 'read' | 'write';
export type BindingKinds = Readonly<Record<string, BindingKind>>;
export type BindingResources<B extends BindingKinds> = { readonly [K in keyof B]: GPUBuffer | GPUBufferBinding };

const BUFFER_TYPES: Record<BindingKind, GPUBufferBindingType> = {
  uniform: 'uniform',
  read: 'read-only-storage',
  write: 'storage',
};

/** The @group(0) bindings one entry point uses, by name, in @binding order (object key order). */
export class Bindings<B extends BindingKinds> {
  constructor(
    readonly label: string,
    readonly kinds: B,
  ) {}

  layout(device: GPUDevice): KernelLayout<B> {
    return new KernelLayout(device, this);
  }
}

/** A Bindings' layout on one device, and the bind groups built against it. */
export class KernelLayout<B extends BindingKinds> {
  private readonly bindGroup: GPUBindGroupLayout;
  readonly pipelineLayout: GPUPipelineLayout;
  private readonly names: readonly (keyof B & string)[];

  constructor(
    private readonly device: GPUDevice,
    bindings: Bindings<B>,
  ) {
    const { label, kinds } = bindings;
    this.names = Object.keys(kinds);
    this.bindGroup = device.createBindGroupLayout({
      label,
      entries: Object.values(kinds).map((kind, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: BUFFER_TYPES[kind] },
      })),
    });
    this.pipelineLayout = device.createPipelineLayout({ label, bindGroupLayouts: [this.bindGroup] });
  }

  group(resources: BindingResources<B>): GPUBindGroup {
    return this.device.createBindGroup({
      layout: this.bindGroup,
      entries: this.names.map((name, binding) => {
        const r: GPUBuffer | GPUBufferBinding = resources[name];
        return { binding, resource: 'buffer' in r ? r : { buffer: r } };
      }),
    });
  }
}

/** One shader module as its launcher compiles and binds it. */
export interface ShaderInterface {
  /** The WGSL files of the module, helpers first (see wgsl()). */
  readonly files: readonly string[];
  readonly params: { readonly struct: string; readonly fields: UniformFields };
  /**
   * The layouts of its entry points: each binds the first of the module's @group(0) bindings,
   * the longest binds all of them.
   */
  readonly layouts: readonly { readonly kinds: BindingKinds }[];
  /** u32 `const`s of the WGSL whose values the launcher relies on too, by WGSL name. */
  readonly constants?: Readonly<Record<string, number>>;
}
