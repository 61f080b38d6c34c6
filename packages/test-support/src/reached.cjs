// Preloaded (NODE_OPTIONS=--require) into every node process that test/e2e/docs-commands.test.ts
// starts through pnpm: records which of pypi-graph's entry points a command line reached, and
// with which arguments, in the file named by PYPI_GRAPH_REACHED. Records nothing elsewhere.
const { appendFileSync } = require('node:fs');
const path = require('node:path');

const log = process.env.PYPI_GRAPH_REACHED;
const script = process.argv[1] ? path.relative(process.cwd(), path.resolve(process.argv[1])) : '';
if (log && /^(packages\/cli\/src\/main|packages\/pypi-server\/src\/main|scripts\/bench)\.ts$/.test(script)) {
  appendFileSync(log, `${JSON.stringify({ script, args: process.argv.slice(2) })}\n`);
}
