// What a person sees on a terminal `columns` wide for a stream of output: enough of a VT100 for
// what pypi-graph writes (text that wraps at the right edge, CR, LF, cursor up, erase line and
// erase to the end of the screen). Every row is kept, scrollback included, so a test can read
// the whole session as it ended up on the screen. `wrapped`, when given, receives the index of
// every row that the text before it ran onto (a soft wrap at the right edge): a row exactly as wide
// as the screen followed by a newline is not one.
export function renderScreen(output: string, columns: number, wrapped?: Set<number>): string[] {
  const rows: string[] = [''];
  let row = 0;
  let col = 0;
  const put = (c: string) => {
    if (col >= columns) {
      row++;
      col = 0;
      wrapped?.add(row);
    }
    while (rows.length <= row) rows.push('');
    const line = rows[row]!.padEnd(col, ' ');
    rows[row] = line.slice(0, col) + c + line.slice(col + 1);
    col++;
  };
  for (let i = 0; i < output.length; i++) {
    const c = output[i]!;
    if (c === '\x1b' && output[i + 1] === '[') {
      const m = /^\x1b\[([\d;?]*)([A-Za-z])/.exec(output.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      const n = Number(m[1] || '1');
      if (m[2] === 'A') row = Math.max(row - n, 0);
      else if (m[2] === 'J') {
        rows[row] = (rows[row] ?? '').slice(0, col);
        rows.length = row + 1;
        if (wrapped) for (const r of [...wrapped]) if (r > row) wrapped.delete(r);
      } else if (m[2] === 'K') rows[row] = m[1] === '2' ? '' : (rows[row] ?? '').slice(0, col);
      continue;
    }
    if (c === '\r') col = 0;
    else if (c === '\n') {
      row++;
      while (rows.length <= row) rows.push('');
      // a row started by a newline is a line of its own, whatever it held before
      wrapped?.delete(row);
    } else if (c >= ' ' || c === '\t') put(c);
  }
  return rows;
}
