// Removes what tsc wrote last time, so that a module moved or deleted in the sources does not live on
// in dist/ (where the tests and the CLI would still find it).
import fs from 'node:fs';
import path from 'node:path';

const dist = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist');
for (const dir of ['src', 'test', 'scripts', 'console']) fs.rmSync(path.join(dist, dir), { recursive: true, force: true });
