import type { RunnerStats } from '@pypi-graph/pipeline';

/**
 * One status line rewritten in place on a terminal; nothing at all when stderr is not a
 * terminal or CI is set (logs carry the facts there).
 */
export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr) {
  const started = Date.now();
  let last = '';
  return {
    update(stats: RunnerStats) {
      if (!enabled) return;
      const parts = Object.entries(stats.queues).map(
        ([q, s]) =>
          `${q} ${s.completed} done, ${s.active} running, ${s.waiting} waiting${s.failed ? `, ${s.failed} failed` : ''}`,
      );
      const line = `[${Math.round((Date.now() - started) / 1000)}s] ${parts.join(' | ')}`;
      if (line === last) return;
      last = line;
      stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 200) - 1)}`);
    },
    done() {
      if (enabled && last) stream.write('\n');
    },
  };
}
