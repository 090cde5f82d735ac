/** SQLite's and PostgreSQL's ways of saying a unique or primary key constraint was hit. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; message?: string };
  return err?.code === '23505' || (err?.code === 'SQLITE_CONSTRAINT' && /UNIQUE|PRIMARY/.test(err.message ?? ''));
}
