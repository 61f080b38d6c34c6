// /_admin/…: what a test or a benchmark asks of the server itself (faults, request counts, the
// preset's day). Answered in JSON, outside the request counts and the request log.
import { z } from 'zod';
import { parseFaultRules } from '../faults';
import type { RequestContext } from './context';
import { readBody } from './reply';

export interface AdminReply {
  status: number;
  value: unknown;
}

export const NOT_PRESET = 'only the PyPI-shaped preset (--synthetic pypi) has days to advance';
const AdvanceBody = z
  .object({ days: z.number().int().min(1).optional() })
  .transform((b) => ({ days: b.days ?? 1 }));

const ok = (value: unknown): AdminReply => ({ status: 200, value });

export const listFaults = ({ server }: RequestContext) => ok({ rules: server.faults.list() });

export function clearFaults({ server }: RequestContext): AdminReply {
  server.faults.clear();
  return ok({ rules: [] });
}

export async function setFaults({ server, req }: RequestContext): Promise<AdminReply> {
  try {
    const rules = parseFaultRules(JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8')));
    server.faults.set(rules);
    server.log.info({ rules: rules.length }, 'fault rules set');
    return ok({ rules: server.faults.list() });
  } catch (err) {
    return { status: 400, value: { error: (err as Error).message } };
  }
}

export const readStats = ({ server }: RequestContext) => ok(server.stats.snapshot());

export function resetStats({ server }: RequestContext): AdminReply {
  server.stats.reset();
  return ok(server.stats.snapshot());
}

export const recentRequests = ({ server }: RequestContext) => ok(server.stats.recent());

export function presetDay({ server }: RequestContext): AdminReply {
  return server.preset ? ok(server.preset.status()) : { status: 409, value: { error: NOT_PRESET } };
}

export async function advanceDay({ server, req }: RequestContext): Promise<AdminReply> {
  if (!server.preset) return { status: 409, value: { error: NOT_PRESET } };
  try {
    const text = (await readBody(req, 1024)).toString('utf8').trim();
    const days = text ? AdvanceBody.parse(JSON.parse(text)).days : 1;
    return ok(server.preset.advance(days));
  } catch (err) {
    return { status: 400, value: { error: (err as Error).message } };
  }
}

export const unknownAdmin = (): AdminReply => ({ status: 404, value: { error: 'unknown admin endpoint' } });
