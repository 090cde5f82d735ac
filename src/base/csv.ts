/** One CSV record (RFC 4180): cells with a comma, quote or line break are quoted. */
export function csvLine(values: unknown[]): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return values.map(cell).join(',') + '\n';
}

/** A header line, then one record per row, cells in the order of `columns`. */
export const csvTable = <T extends object>(columns: readonly (keyof T & string)[], rows: T[]): string => csvLine([...columns]) + rows.map((r) => csvLine(columns.map((c) => r[c]))).join('');
