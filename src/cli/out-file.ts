import fs from 'node:fs';
import path from 'node:path';
import { usageError } from './usage-error.js';

/**
 * `--out <file>` is checked before the command does anything: an issued certificate whose file
 * cannot be written is still issued (and recorded), so the mistake is caught first, in words.
 */
export function checkOutFile(file: string): void {
  const dir = path.dirname(path.resolve(file));
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch {
    // not there yet: its directory must be
  }
  if (stat?.isDirectory()) throw usageError(`--out ${file} is a directory; name a file in it`);
  if (!fs.existsSync(dir)) throw usageError(`--out ${file}: the directory ${dir} does not exist (create it first)`);
  try {
    fs.accessSync(stat ? file : dir, fs.constants.W_OK);
  } catch {
    throw usageError(`--out ${file}: ${stat ? 'the file' : `the directory ${dir}`} is not writable by this user`);
  }
}
