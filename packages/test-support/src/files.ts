// The support files that are not TypeScript, by absolute path, so a test names them without
// knowing where this package keeps them.
import path from 'node:path';

/**
 * A Node preload (`NODE_OPTIONS=--require …`) recording which of pypi-graph's entry points a
 * process reached, and with which arguments (reached.cjs; test/e2e/docs-commands.test.ts).
 */
export const REACHED_PRELOAD = path.join(import.meta.dirname, 'reached.cjs');

/** `python3 NO_NAMESPACES_PY COMMAND …`: runs COMMAND where creating namespaces fails (no-namespaces.py). */
export const NO_NAMESPACES_PY = path.join(import.meta.dirname, 'no-namespaces.py');
