/**
 * `fn` with its results kept for the texts it has seen, at most `max` of them (all forgotten at
 * once when full). For pure functions of a text that recur across a snapshot: the same
 * requirement, version or Requires-Python is parsed once, not once per use.
 */
export function boundedMemo<T>(fn: (input: string) => T, max: number): (input: string) => T {
  const seen = new Map<string, T>();
  return (input) => {
    if (seen.has(input)) return seen.get(input) as T;
    const out = fn(input);
    if (seen.size >= max) seen.clear();
    seen.set(input, out);
    return out;
  };
}
