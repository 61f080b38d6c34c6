// The fault rules a request can meet (../faults.ts): those that answer instead of the route are
// here; those that spoil the route's answer as it is sent (slow, truncate, wrong-bytes) are in
// send.ts; xmlrpc-rate-limit is taken by the XML-RPC handler.
import type { FaultRule } from '../faults';
import { type Reply, text } from './reply';

/** The kinds a request takes when it arrives (xmlrpc-rate-limit waits for its handler). */
export const REQUEST_FAULTS = ['429', '503', 'slow', 'truncate', 'wrong-bytes', 'malformed-json'] as const;

/** The answer a fault gives in place of the route's, or undefined when the route answers. */
export function faultReply(fault: FaultRule): Reply | undefined {
  if (fault.kind === '429') {
    return text(429, '429 Too Many Requests\n', 'other', { 'Retry-After': String(fault.retryAfter ?? 1) });
  }
  if (fault.kind === '503') {
    const headers: Record<string, string> =
      fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
    return text(503, '503 Service Unavailable\n', 'other', headers);
  }
  if (fault.kind === 'malformed-json') {
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{"meta":{"api-version":"1.3","_last-serial":'),
      route: 'other',
    };
  }
  return undefined;
}
