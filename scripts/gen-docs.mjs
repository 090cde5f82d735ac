// Writes the generated reference documents from the compiled sources (npm run build first):
// docs/cli.md from the command table, docs/configuration.md from the configuration schemas.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliReference } from '../dist/src/docs/cli-reference.js';
import { configReference } from '../dist/src/docs/config-reference.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
for (const [file, text] of [['docs/cli.md', cliReference()], ['docs/configuration.md', configReference()]]) {
  fs.writeFileSync(path.join(root, file), text);
  console.error(`wrote ${file}`);
}
