// Run by pglite-lock.test.ts as a process of its own: opens the embedded database in the
// directory it is given, says `open <pid>` on stdout, and keeps it open until it is killed.
import { openDatabase } from '../src/index';

const database = await openDatabase({ pglitePath: process.argv[2]! });
process.stdout.write(`open ${process.pid}\n`);
process.once('SIGTERM', () => {
  void database.close().then(() => process.exit(0));
});
setInterval(() => {}, 60_000);
