// The terminal test reads the demo's session as a person sees it (renderScreen). A line exactly as
// wide as the screen ends there, and the next line starts a row of its own; only text that runs
// past the right edge continues on the next row. (A line of exactly 80 columns in CI — the path
// of the clone made it so — was once read as glued to the next one.)
import { describe, expect, it } from 'vitest';
import { renderScreen } from '../src/screen';

describe('renderScreen', () => {
  it('tells a soft wrap from a line exactly as wide as the screen', () => {
    const wrapped = new Set<number>();
    const exact = 'x'.repeat(10);
    const long = 'y'.repeat(13);
    const rows = renderScreen(`${exact}\r\n${long}\r\nend\r\n`, 10, wrapped);
    expect(rows.slice(0, 4)).toEqual([exact, 'y'.repeat(10), 'yyy', 'end']);
    expect([...wrapped]).toEqual([2]);
  });

  it('forgets the wrap of rows erased by a redraw', () => {
    const wrapped = new Set<number>();
    // a 13-column status line drawn on 10 columns, then erased (two rows up, erase below) and redrawn short
    const rows = renderScreen(`top\r\n${'z'.repeat(13)}\n\x1b[2A\r\x1b[Jshort\n`, 10, wrapped);
    expect(rows.slice(0, 2)).toEqual(['top', 'short']);
    expect(wrapped.size).toBe(0);
  });
});
