import fs from 'node:fs';
import { DatabaseLostError } from './faults.js';

/**
 * The SQLite file Hallmark opened, watched by identity (device and inode). SQLite keeps writing to a
 * file removed or replaced under it, and commits there "succeed": 202 certificates were handed out
 * that way and gone after a restart. Once the path no longer names the file opened, every query is
 * refused (503), readiness fails and the listeners are told; nothing reopens the path, which would
 * make an empty database behind the operator's back.
 *
 * Checked after every write (a stat: microseconds, next to a commit's fsync) and every second while
 * idle. Not through inotify on the directory: SQLite writes its WAL there on every commit, and the
 * events alone were a measurable share of the main thread's time per certificate on the factory path
 * (docs/issuance-performance.md).
 */
export interface FileGuard {
  /** Why the database is gone, or undefined while it is the file opened. */
  lost(): string | undefined;
  /** Looks now; throws DatabaseLostError when the file is gone. */
  verify(): void;
  onLost(listener: (reason: string) => void): void;
  close(): void;
}

export function guardDatabaseFile(file: string): FileGuard {
  const opened = fs.statSync(file);
  const listeners: ((reason: string) => void)[] = [];
  let lost: string | undefined;
  const mark = (reason: string) => {
    if (lost) return;
    lost = reason;
    for (const listener of listeners) listener(reason);
  };
  const look = () => {
    if (lost) return;
    let now: fs.Stats;
    try {
      now = fs.statSync(file);
    } catch (e) {
      return mark(`${file} was removed while in use (${(e as NodeJS.ErrnoException).code}); restore it and restart`);
    }
    if (now.ino !== opened.ino || now.dev !== opened.dev) mark(`${file} was replaced by another file while in use; restart to open it`);
  };
  const timer = setInterval(look, 1000);
  timer.unref();
  return {
    lost: () => lost,
    verify() {
      look();
      if (lost) throw new DatabaseLostError(lost);
    },
    onLost: (listener) => void listeners.push(listener),
    close() {
      clearInterval(timer);
    },
  };
}
