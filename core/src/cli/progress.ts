/**
 * A progress line on stderr: redrawn in place on a terminal, printed every 10% otherwise
 * (CI logs and pipes get a readable trail instead of carriage returns).
 */
export function progressBar(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr) {
  const started = Date.now();
  let lastDecile = -1;
  let lastDraw = 0;
  const fmt = (n: number) => n.toLocaleString('en-US');
  return {
    update(done: number, extra = '') {
      const now = Date.now();
      const rate = Math.round(done / Math.max((now - started) / 1000, 0.001));
      if (stream.isTTY) {
        if (now - lastDraw < 100 && done !== total) return;
        lastDraw = now;
        const width = 24;
        const ratio = total ? Math.min(done / total, 1) : 0;
        const bar = total ? `[${'#'.repeat(Math.round(ratio * width)).padEnd(width, '.')}] ${Math.floor(ratio * 100)}% ` : '';
        stream.write(`\r${label} ${bar}${fmt(done)}${total ? `/${fmt(total)}` : ''} ${fmt(rate)}/s ${extra}\x1b[K`);
      } else if (total) {
        const decile = Math.floor((done / total) * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          stream.write(`${label} ${decile * 10}% ${fmt(done)}/${fmt(total)} ${extra}\n`);
        }
      }
    },
    done() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
