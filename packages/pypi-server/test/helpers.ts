import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const FIXTURES = join(REPO, 'test/fixtures/index');

const PYENV_PYTHON = join(homedir(), '.pyenv/versions/3.11.7/bin/python');
/** The host Python, an independent client for XML-RPC, hashing and pip. */
export const PYTHON = existsSync(PYENV_PYTHON) ? PYENV_PYTHON : 'python3';

const run = promisify(execFile);

/** Runs a Python snippet; extra args land in sys.argv[1:]. Returns stdout. */
export async function python(code: string, args: string[] = [], timeout = 60_000): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', code, ...args], { timeout, maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** Runs Python and parses the JSON it prints. */
export async function pythonJson<T = unknown>(code: string, args: string[] = []): Promise<T> {
  return JSON.parse(await python(code, args)) as T;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** Bytes of a fixture file (relative to test/fixtures/index). */
export function fixture(name: string): Buffer {
  const direct = join(FIXTURES, name);
  return readFileSync(existsSync(direct) ? direct : join(FIXTURES, 'real', name));
}

/** fetch() that does not follow redirects. */
export function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return fetch(url, { headers, method, redirect: 'manual' });
}

export async function getJson<T = Record<string, unknown>>(
  url: string,
  headers: Record<string, string> = {},
) {
  const res = await get(url, headers);
  return { res, json: (await res.json()) as T };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Whether the connection ended before the announced Content-Length arrived. */
  aborted: boolean;
}

/** A raw HTTP request that reports what actually arrived, even when the server cuts it short. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<RawResponse>((resolvePromise, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let aborted = false;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('aborted', () => {
          aborted = true;
        });
        res.on('error', () => {
          aborted = true;
        });
        res.on('close', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            aborted: aborted || !res.complete,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Python snippet prelude: an XML-RPC proxy on sys.argv[1]. */
export const XMLRPC_PRELUDE = `
import json, sys, xmlrpc.client
proxy = xmlrpc.client.ServerProxy(sys.argv[1] + "/pypi", allow_none=True)
def fault(call):
    try:
        call()
    except xmlrpc.client.Fault as f:
        return [f.faultCode, f.faultString]
    return None
`;
