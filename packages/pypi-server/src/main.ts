import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type CrawlError, configError, createLogger } from '@pypi-graph/core';
import { parseFaultRules } from './faults';
import { startPypiServer } from './server';

// pnpm pypi-server --dir DIR [--port N] [--host H] [--synthetic projects=N,files-per-project=M[,seed=S]]
//                  [--faults FILE.json] [--xmlrpc-rate R]
// pnpm pypi-server --synthetic pypi[,scale=F][,seed=S][,payload-bytes=B] [--day N]
// Prints exactly one line on stdout when ready: `pypi-server listening on http://HOST:PORT`.

const USAGE = `usage: pypi-server [--dir DIR] [--synthetic projects=N,files-per-project=M[,seed=S][,payload-bytes=B]]
                   [--synthetic pypi[,scale=F][,seed=S][,payload-bytes=B] [--day N]]
                   [--host 127.0.0.1] [--port 0] [--faults FILE.json] [--xmlrpc-rate R]
                   [--request-log FILE.ndjson] [--public-url URL] [--log-level info]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      synthetic: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      faults: { type: 'string' },
      'xmlrpc-rate': { type: 'string' },
      'public-url': { type: 'string' },
      day: { type: 'string' },
      'request-log': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = createLogger({ level: values['log-level'] });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw configError('config-invalid', `--port ${values.port}`);
  const rate = values['xmlrpc-rate'] === undefined ? undefined : Number(values['xmlrpc-rate']);
  if (rate !== undefined && !(rate >= 0))
    throw configError('config-invalid', `--xmlrpc-rate ${values['xmlrpc-rate']}`);
  const day = values.day === undefined ? undefined : Number(values.day);
  if (day !== undefined && !(Number.isInteger(day) && day >= 0))
    throw configError('config-invalid', `--day ${values.day} is not a whole number of days`);
  const faults = values.faults
    ? parseFaultRules(JSON.parse(await readFile(values.faults, 'utf8')), values.faults)
    : undefined;

  const server = await startPypiServer({
    dir: values.dir,
    synthetic: values.synthetic,
    host: values.host,
    port,
    faults,
    xmlrpcRate: rate,
    publicUrl: values['public-url'],
    day,
    requestLogFile: values['request-log'],
    log,
  });
  process.stdout.write(`pypi-server listening on ${server.url}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  const e = err as CrawlError;
  process.stderr.write(`pypi-server: ${e.message ?? String(err)}${e.hint ? `\n${e.hint}` : ''}\n${USAGE}\n`);
  process.exit(2);
});
