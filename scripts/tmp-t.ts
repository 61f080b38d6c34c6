import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runSandbox } from '@pypi-graph/extractor';

const file = process.argv[2]!;
const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
const t = performance.now();
const r = await runSandbox({ sdistPath: file, sha256, filename: 'bigdata-1.0.tar.gz' });
console.log(
  JSON.stringify(r.results['311']).slice(0, 300),
  (performance.now() - t) / 1000,
  JSON.stringify(r.phases),
);
