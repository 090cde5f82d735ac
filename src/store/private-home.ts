import fs from 'node:fs';
import path from 'node:path';

/** The SQLite database and what SQLite keeps beside it (it gives -wal and -shm the database file's mode). */
export const SQLITE_FILE = 'hallmark.sqlite';

/** What Hallmark keeps in its home: only these are ever tightened (HALLMARK_HOME may be a shared directory). */
const OWN_ENTRIES = [SQLITE_FILE, `${SQLITE_FILE}-wal`, `${SQLITE_FILE}-shm`, `${SQLITE_FILE}-journal`, 'tls', 'hsm', 'softhsm2.conf', 'env.sh', 'stations', 'admin-api-key', 'bin'];

/**
 * HALLMARK_HOME holds password hashes, the audit log, the TLS key and the token: it is the owner's alone.
 * Made 0700 (files 0600) when created; Hallmark's own entries found looser are tightened, with a
 * warning, and the directory itself when it holds any of them. Nothing else there is touched (a home
 * pointed at a shared directory such as /tmp stays as it is). The database file is created 0600
 * before SQLite opens it, so its journal files are born private too.
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
  const walk = (file: string) => {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      return; // gone meanwhile
    }
    if (stat.isSymbolicLink() || !(stat.isDirectory() || stat.isFile())) return;
    tighten(file, stat);
    if (stat.isDirectory()) for (const name of fs.readdirSync(file)) walk(path.join(file, name));
  };
  const own = OWN_ENTRIES.map((name) => path.join(home, name)).filter((file) => fs.existsSync(file));
  if (own.length) tighten(home, fs.statSync(home));
  for (const file of own) walk(file);
  if (loosened.length) warn(`${home} was readable by others; tightened to owner-only: ${loosened.slice(0, 8).join(', ')}${loosened.length > 8 ? `, and ${loosened.length - 8} more` : ''}`);
}

/** Creates the SQLite file owner-only if it does not exist yet (an empty file is an empty database to SQLite). */
export function createPrivateDatabaseFile(home: string): string {
  const file = path.join(home, SQLITE_FILE);
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  return file;
}
