import { configError } from '@pypi-graph/core';
import { z } from 'zod';

// Fault injection: rules matched against each request, first match wins. A rule with
// `times` applies to that many matching requests and is then spent.

export const FAULT_KINDS = [
  '429',
  '503',
  'slow',
  'truncate',
  'wrong-bytes',
  'malformed-json',
  'xmlrpc-rate-limit',
] as const;

export const FaultRule = z.strictObject({
  /** Regular expression tested against the decoded URL path (no query string). */
  match: z.string().refine((s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  }, 'a valid regular expression'),
  /** Only requests with this method (GET, HEAD, POST…); any method when absent. */
  method: z.string().optional(),
  kind: z.enum(FAULT_KINDS),
  /** Apply to this many matching requests, then stop; unlimited when absent. */
  times: z.number().int().positive().optional(),
  /** Seconds for the Retry-After header of 429 (default 1) and 503 (sent only when set). */
  retryAfter: z.number().int().nonnegative().optional(),
  /** slow: milliseconds before the body and between chunks (default 200). */
  delayMs: z.number().int().nonnegative().optional(),
  /** truncate: body bytes sent before the connection is cut (default half); slow: chunk size (default 16 KiB); wrong-bytes: offset of the altered byte (default the middle). */
  bytes: z.number().int().nonnegative().optional(),
});
export type FaultRule = z.infer<typeof FaultRule>;

export const FaultRules = z.union([z.array(FaultRule), z.strictObject({ rules: z.array(FaultRule) })]);

/** Validates fault rules given as an array or as `{ "rules": [...] }`. */
export function parseFaultRules(json: unknown, source = 'fault rules'): FaultRule[] {
  const result = FaultRules.safeParse(json);
  if (!result.success) {
    throw configError('config-invalid', `${source} are invalid: ${z.prettifyError(result.error)}`, {
      hint: 'See packages/pypi-server/readme.md for the fault rule format.',
    });
  }
  return Array.isArray(result.data) ? result.data : result.data.rules;
}

interface ActiveRule {
  rule: FaultRule;
  regex: RegExp;
  remaining: number;
}

export class FaultSet {
  private rules: ActiveRule[] = [];

  set(rules: FaultRule[]): void {
    this.rules = rules.map((rule) => ({
      rule,
      regex: new RegExp(rule.match),
      remaining: rule.times ?? Number.POSITIVE_INFINITY,
    }));
  }

  clear(): void {
    this.rules = [];
  }

  list(): Array<FaultRule & { remaining: number | null }> {
    return this.rules.map((r) => ({
      ...r.rule,
      remaining: Number.isFinite(r.remaining) ? r.remaining : null,
    }));
  }

  /** The fault for a request, consuming one use of it. `kinds` limits which kinds apply here. */
  take(method: string, path: string, kinds?: readonly FaultRule['kind'][]): FaultRule | undefined {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.rule.method && r.rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (kinds && !kinds.includes(r.rule.kind)) continue;
      if (!r.regex.test(path)) continue;
      r.remaining--;
      return r.rule;
    }
    return undefined;
  }
}
