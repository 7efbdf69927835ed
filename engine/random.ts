// Seeded random numbers. Values are generated on the host and uploaded, so a seed gives the
// same tensor on every device (tests compare devices; training is reproducible on cpu).
//
// A Generator (like torch.Generator) owns its state: the engine's ops draw from the default one
// (seed / manualSeed reseed it, like torch.manual_seed), and a consumer that must not disturb
// that stream (the data loader) holds its own.

/** xoshiro128** seeded through splitmix32; one independent stream of numbers. */
export class Generator {
  private state = new Uint32Array(4);

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Reseeds this generator (torch.Generator.manual_seed). */
  manualSeed(s: number): this {
    // splitmix32 expands the seed into xoshiro128**'s four words
    let x = s >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    return this;
  }

  private nextU32(): number {
    const s = this.state;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1). */
  random(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  randomNormal(): number {
    let u = this.random();
    while (u === 0) u = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  /** Integer in [lo, hi). */
  randomInt(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo));
  }

  /** The four state words (torch.Generator.get_state), e.g. for a checkpoint. */
  getState(): number[] {
    return [...this.state];
  }

  setState(s: number[]): void {
    this.state = Uint32Array.from(s);
  }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** The generator the engine's ops draw from (torch.default_generator). */
export const defaultGenerator = new Generator(0);

/** Seeds the default generator (like torch.manual_seed). */
export function seed(s: number) {
  defaultGenerator.manualSeed(s);
}

/** Uniform in [0, 1), from the default generator. */
export function random(): number {
  return defaultGenerator.random();
}

/** Standard normal (Box-Muller), from the default generator. */
export function randomNormal(): number {
  return defaultGenerator.randomNormal();
}

/** Integer in [lo, hi), from the default generator. */
export function randomInt(lo: number, hi: number): number {
  return defaultGenerator.randomInt(lo, hi);
}

export function getRngState(): number[] {
  return defaultGenerator.getState();
}

export function setRngState(s: number[]) {
  defaultGenerator.setState(s);
}
