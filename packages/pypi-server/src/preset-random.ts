// Reproducible randomness for the PyPI-shaped preset. Every quantity is drawn from a stream
// keyed by what it is about (seed, project index, release index, purpose), never from a stream
// shared in generation order: so the start-up pass that only counts events and the on-demand
// pass that builds a whole project draw the very same numbers, and nothing depends on which
// project was asked for first. Only integer arithmetic and V8's fdlibm-based Math.log / pow
// are used, so the same seed gives the same index on any machine.

/** Stream purposes (the last key of a stream). */
export const PURPOSE = {
  project: 1,
  times: 2,
  files: 3,
  events: 4,
  versions: 5,
  deps: 6,
  names: 7,
  style: 8,
  payload: 9,
} as const;

function mix(h: number, k: number): number {
  h = Math.imul(h ^ (k >>> 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** splitmix32 over a state derived from the keys: fast, well mixed, reproducible. */
export class Stream {
  private s: number;

  constructor(...keys: number[]) {
    let h = 0x9e3779b9;
    for (const k of keys) h = mix(h, k);
    this.s = h | 0;
  }

  /** The stream of keys (a, b, c, d), reusing this object: the start-up pass plans 700,000 projects. */
  reset4(a: number, b: number, c: number, d: number): this {
    this.s = mix(mix(mix(mix(0x9e3779b9, a), b), c), d) | 0;
    return this;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x9e3779b9) | 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 0x100000000;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Uniform in (0, 1]: safe under log. */
  open(): number {
    return 1 - this.next();
  }

  /** Exponential with mean 1. */
  exponential(): number {
    return -Math.log(this.open());
  }

  /**
   * Log-logistic with the given median and shape: a lognormal-like, heavy-tailed delay or span
   * that needs only pow (no Box-Muller, no trigonometry).
   */
  logLogistic(median: number, shape: number): number {
    const u = this.next() * 0.999998 + 0.000001;
    return median * (u / (1 - u)) ** (1 / shape);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }

  /** An index into `weights`, chosen in proportion to them. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
}

/** A keyed permutation of [0, 2^24): a four-round Feistel network on two 12-bit halves. */
export class Permutation24 {
  private readonly keys: number[];

  constructor(seed: number) {
    this.keys = [1, 2, 3, 4].map((r) => mix(mix(0x5bd1e995, seed), r));
  }

  private round(half: number, r: number): number {
    return mix(this.keys[r]!, half) & 0xfff;
  }

  forward(x: number): number {
    let l = (x >>> 12) & 0xfff;
    let r = x & 0xfff;
    for (let i = 0; i < 4; i++) [l, r] = [r, l ^ this.round(r, i)];
    return (l << 12) | r;
  }

  inverse(y: number): number {
    let l = (y >>> 12) & 0xfff;
    let r = y & 0xfff;
    for (let i = 3; i >= 0; i--) [l, r] = [r ^ this.round(l, i), l];
    return (l << 12) | r;
  }
}
