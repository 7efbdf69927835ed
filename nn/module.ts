// Module: the PyTorch nn.Module contract in TypeScript. A module owns named parameters and
// buffers (in registration order) and named child modules; everything else (state dicts, train /
// eval, moving to a device, counting) is derived from those three ordered maps, so names come out
// exactly as PyTorch spells them (`model.22.cv4.0.2.weight`) and checkpoints map one to one.
import { Tensor, assign, keep, noGrad, tensor, type Device } from '../engine/index.js';
import { sameShape } from '../engine/shape.js';

/** Host-side tensor data, as checkpoint readers give it (int64 arrives as BigInt64Array). */
export interface HostArray {
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
}
export type StateValue = Tensor | HostArray;

export type Shape = readonly number[];

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

export class Module {
  /** Train mode (BatchNorm uses batch statistics and updates its running ones). */
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly bufs = new Map<string, Tensor>();
  private readonly children_ = new Map<string, Module>();

  /** The class name PyTorch would print (SiLU, Conv2d, C2f, Pose...). */
  get typeName(): string {
    return this.constructor.name;
  }

  forward(..._args: any[]): any {
    throw new Error(`${this.typeName}: forward is not implemented`);
  }

  // ---- registration ---------------------------------------------------------------------------

  /** Registers (or replaces) a parameter; it requires grad unless told otherwise. */
  registerParameter(name: string, t: Tensor, requiresGrad = true): Tensor {
    this.checkName(name, this.params);
    if (t.dtype !== 'i32') t.requiresGrad = requiresGrad;
    replace(this.params, name, t);
    return t;
  }

  /** Registers (or replaces) a buffer: state that is saved but never trained (running stats). */
  registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name, this.bufs);
    replace(this.bufs, name, t);
    return t;
  }

  registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name, this.children_);
    this.children_.set(name, m);
    return m;
  }

  /** Drops a parameter, buffer or child (fuse() removes `bn` this way, as Ultralytics' delattr). */
  delete(name: string) {
    this.params.get(name)?.dispose();
    this.bufs.get(name)?.dispose();
    this.params.delete(name);
    this.bufs.delete(name);
    this.children_.delete(name);
  }

  private checkName(name: string, own: Map<string, unknown>) {
    if (!name || name.includes('.'))
      throw new Error(`${this.typeName}: bad attribute name '${name}' (non-empty, no dots)`);
    for (const m of [this.params, this.bufs, this.children_] as Map<string, unknown>[])
      if (m !== own && m.has(name))
        throw new Error(`${this.typeName}: '${name}' is already registered as another kind of attribute`);
  }

  /** The parameter or buffer called `name` on this module (layers read their weights this way, so a replaced tensor is seen at once). */
  protected tensor(name: string): Tensor {
    const t = this.params.get(name) ?? this.bufs.get(name);
    if (!t) throw new Error(`${this.typeName}: no parameter or buffer '${name}'`);
    return t;
  }

  protected has(name: string): boolean {
    return this.params.has(name) || this.bufs.has(name) || this.children_.has(name);
  }

  /** Replaces each own parameter and buffer by f's result, keeping names, order and flags (the graph tracer swaps meta twins in and back). */
  mapTensors(f: (name: string, t: Tensor, kind: 'parameter' | 'buffer') => Tensor) {
    for (const [n, t] of this.params) this.params.set(n, f(n, t, 'parameter'));
    for (const [n, t] of this.bufs) this.bufs.set(n, f(n, t, 'buffer'));
  }

  // ---- walking the tree -----------------------------------------------------------------------

  namedChildren(): [string, Module][] {
    return [...this.children_];
  }
  children(): Module[] {
    return [...this.children_.values()];
  }
  child(name: string): Module | undefined {
    return this.children_.get(name);
  }

  /** Every module once, depth first, itself first; a shared instance (Ultralytics' one SiLU) counts once, as in torch. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.children_) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n, seen));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  private namedTensors(kind: 'params' | 'bufs'): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules())
      for (const [n, t] of m[kind]) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${n}` : n, t]);
      }
    return out;
  }
  namedParameters(): [string, Tensor][] {
    return this.namedTensors('params');
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedBuffers(): [string, Tensor][] {
    return this.namedTensors('bufs');
  }

  // ---- modes and devices ----------------------------------------------------------------------

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** The device of the first parameter (cpu for a module without any). */
  get device(): Device | undefined {
    return this.parameters()[0]?.device ?? this.namedBuffers()[0]?.[1].device;
  }

  /** Moves every parameter and buffer to `device` (async: reading a GPU tensor back waits). */
  async to(device: Device): Promise<this> {
    for (const m of this.modules())
      for (const map of [m.params, m.bufs]) {
        for (const [n, t] of map) {
          if (t.device === device) continue;
          const moved = tensor(await t.data(), t.shape, { dtype: t.dtype, device });
          moved.requiresGrad = t.requiresGrad;
          replace(map, n, moved);
        }
      }
    return this;
  }

  // ---- state dicts ----------------------------------------------------------------------------

  /** Like torch's state_dict(): per module its parameters, then its buffers, then its children. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      const p = prefix ? `${prefix}.` : '';
      for (const [n, t] of m.params) out.set(p + n, t);
      for (const [n, t] of m.bufs) out.set(p + n, t);
    }
    return out;
  }

  /**
   * Copies values into this module's tensors in place (optimizers holding them keep working).
   * Every problem is listed in one error: missing keys, unexpected keys and wrong shapes.
   * strict=false tolerates missing/unexpected keys (reported in the result) but never a wrong shape.
   */
  loadStateDict(sd: Map<string, StateValue> | Record<string, StateValue>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    const badShape: string[] = [];
    for (const [k, t] of own) {
      const v = src.get(k);
      if (v && !sameShape(v.shape, t.shape))
        badShape.push(`${k}: checkpoint [${v.shape.join(', ')}] vs model [${t.shape.join(', ')}]`);
    }
    if (badShape.length || (strict && (missing.length || unexpected.length))) {
      const lines = [
        missing.length && strict ? `  missing keys (${missing.length}): ${missing.join(', ')}` : '',
        unexpected.length && strict ? `  unexpected keys (${unexpected.length}): ${unexpected.join(', ')}` : '',
        badShape.length ? `  wrong shapes (${badShape.length}):\n    ${badShape.join('\n    ')}` : '',
      ].filter(Boolean);
      throw new Error(`loadStateDict: cannot load into ${this.typeName}:\n${lines.join('\n')}`);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const v = src.get(k);
        if (v) copyInto(t, v);
      }
    });
    return { missing, unexpected };
  }
}

/** Overwrites `dst` in place with `v` (a tensor on any device, or host data). */
export function copyInto(dst: Tensor, v: StateValue) {
  if (v instanceof Tensor && v.device === dst.device) {
    if (v !== dst) assign(dst, v.dtype === dst.dtype ? v : v.cast(dst.dtype));
    return;
  }
  const data = v instanceof Tensor ? v.dataSync() : v.data;
  const host = data instanceof BigInt64Array ? Array.from(data, Number) : data;
  const tmp = tensor(host, dst.shape, { dtype: dst.dtype, device: dst.device });
  assign(dst, tmp);
  tmp.dispose();
}

/** Sets map[name] = t, freeing the tensor it replaces. */
function replace(map: Map<string, Tensor>, name: string, t: Tensor) {
  keep(t); // module state outlives any tidy() scope it was created in
  const old = map.get(name);
  if (old && old !== t) old.dispose();
  map.set(name, t);
}

/** Children called '0', '1', ... run one after another (torch.nn.Sequential). */
export class Sequential extends Module {
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  at(i: number): Module {
    return this.children()[i];
  }
  get length() {
    return this.children().length;
  }
  override forward(x: Tensor): Tensor {
    for (const m of this.children()) x = m.forward(x);
    return x;
  }
}

/** Children called '0', '1', ... held in a list (torch.nn.ModuleList); no forward of its own. */
export class ModuleList<M extends Module = Module> extends Module {
  constructor(items: M[] = []) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
  at(i: number): M {
    return this.children()[i] as M;
  }
  get length() {
    return this.children().length;
  }
  [Symbol.iterator](): Iterator<M> {
    return (this.children() as M[])[Symbol.iterator]();
  }
}
