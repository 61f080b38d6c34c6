// A cache of values that each have a weight (bytes, files), dropping the least recently used
// beyond a budget. It always keeps the newest value, however heavy.
export class WeightedLru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private weight = 0;

  constructor(private readonly budget: number) {}

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: K, value: V, weight: number): void {
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.weight -= old.weight;
    }
    this.map.set(key, { value, weight });
    this.weight += weight;
    for (const [k, v] of this.map) {
      if (this.weight <= this.budget || this.map.size <= 1) break;
      this.map.delete(k);
      this.weight -= v.weight;
    }
  }

  /** The cached value, else `make()`'s, cached with the weight `weigh` gives it. */
  getOrSet(key: K, make: () => V, weigh: (value: V) => number): V {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = make();
    this.set(key, value, weigh(value));
    return value;
  }

  clear(): void {
    this.map.clear();
    this.weight = 0;
  }
}
