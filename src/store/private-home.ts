import fs from 'node:fs';
import path from 'node:path';

/** The SQLite database and what SQLite keeps beside it (it gives -wal and -shm the database file's mode). */
export const SQLITE_FILE = 'hallmark.sqlite';

/**
 * HALLMARK_HOME holds password hashes, the audit log, the TLS key and the token: it is the owner's alone.
 * Made 0700 (files 0600) when created; anything looser found there is tightened, with a warning. The
 * database file is created 0600 before SQLite opens it, so its journal files are born private too.
 */
export function keepHomePrivate(home: string, warn: (line: string) => void = (line) => process.stderr.write(`hallmark: warning: ${line}\n`)): void {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const loosened: string[] = [];
  const tighten = (file: string, stat: fs.Stats) => {
    const wanted = stat.isDirectory() ? 0o700 : 0o600;
    if ((stat.mode & 0o077) === 0) return;
    fs.chmodSync(file, wanted);
    loosened.push(`${path.relative(home, file) || '.'} (${(stat.mode & 0o777).toString(8)})`);
  };
  const walk = (dir: string) => {
    tighten(dir, fs.statSync(dir));
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) tighten(full, fs.statSync(full));
    }
  };
  walk(home);
  if (loosened.length) warn(`${home} was readable by others; tightened to owner-only: ${loosened.slice(0, 8).join(', ')}${loosened.length > 8 ? `, and ${loosened.length - 8} more` : ''}`);
}

/** Creates the SQLite file owner-only if it does not exist yet (an empty file is an empty database to SQLite). */
export function createPrivateDatabaseFile(home: string): string {
  const file = path.join(home, SQLITE_FILE);
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  return file;
}
