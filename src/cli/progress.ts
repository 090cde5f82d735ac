/**
 * Progress for long work on stderr: a redrawn bar on a terminal, a line every 10% otherwise, and
 * nothing with --json (stdout stays data only, stderr stays quiet).
 */
export function progress(total: number, label: string, quiet: boolean) {
  const tty = Boolean(process.stderr.isTTY);
  let lastDecile = -1;
  return {
    tick(done: number) {
      if (quiet || total === 0) return;
      const fraction = done / total;
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
        if (done === total) process.stderr.write('\n');
      } else if (Math.floor(fraction * 10) > lastDecile) {
        lastDecile = Math.floor(fraction * 10);
        process.stderr.write(`${label}: ${done}/${total}\n`);
      }
    },
  };
}
