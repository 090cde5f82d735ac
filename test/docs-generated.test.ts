import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliReference } from '../src/docs/cli-reference.js';
import { configReference } from '../src/docs/config-reference.js';
import { ROOT } from './helpers/paths.js';

/** The reference documents are made from the command table and the schemas; `npm run docs` writes them. */
for (const [file, made] of [['docs/cli.md', cliReference], ['docs/configuration.md', configReference]] as const) {
  test(`${file} is what the code says (run \`npm run docs\` after changing commands or configuration)`, () => {
    assert.equal(fs.readFileSync(path.join(ROOT, file), 'utf8'), made());
  });
}

test('every configuration field has its meaning written down', () => {
  const undescribed = configReference()
    .split('\n')
    .filter((line) => /^\| `[^`]+` \|/.test(line) && line.trimEnd().endsWith('|  |'));
  assert.deepEqual(undescribed, []);
});
