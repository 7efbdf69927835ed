// Seeded random numbers. Values are generated on the host and uploaded, so a seed gives the
// same tensor on every device (tests compare devices; training is reproducible on cpu).
let state = new Uint32Array(4);
seed(0);

/** Seeds the global generator (like torch.manual_seed). */
export function seed(s: number) {
  // splitmix32 expands the seed into xoshiro128**'s four words
  let x = s >>> 0;
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    state[i] = (z ^ (z >>> 16)) >>> 0;
  }
}

function nextU32(): number {
  const s = state;
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

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Uniform in [0, 1). */
export function random(): number {
  return nextU32() / 4294967296;
}

/** Standard normal (Box-Muller). */
export function randomNormal(): number {
  let u = random();
  while (u === 0) u = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Integer in [lo, hi). */
export function randomInt(lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo));
}

export function getRngState(): number[] {
  return [...state];
}

export function setRngState(s: number[]) {
  state = Uint32Array.from(s);
}
