import os from 'node:os';
import { liftBlock, unexpiredBlocks, type AuthBlockRow } from '../store/auth-blocks.js';
import { HallmarkError } from '../base/errors.js';
import { printJson } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

const USAGE = 'usage: hallmark security blocks [list] | security blocks lift <id>';

const blockView = (row: AuthBlockRow) => ({
  id: row.id,
  scope: row.scope,
  source: row.source,
  credential: row.credential,
  failures: Number(row.failures),
  createdAt: new Date(Number(row.created_at)).toISOString(),
  until: new Date(Number(row.until)).toISOString(),
});

const what = (row: AuthBlockRow) => (row.scope === 'address' ? `address ${row.source}` : row.scope === 'pair' ? `${row.credential} from ${row.source}` : `${row.credential} from any address`);

/**
 * `hallmark security blocks`: the blocks raised by repeated authentication failures, and lifting one
 * (a station whose key was fixed, an operator locked out). Running instances drop a lifted block
 * within their status poll (seconds).
 */
export async function securityCommand(verb: string | undefined, rest: string[], flags: { json: boolean }): Promise<void> {
  if (verb !== 'blocks') throw usageError(USAGE);
  const [action = 'list', id] = rest;
  await withContext({ withKeys: false }, async (ctx) => {
    const now = ctx.clock.now().getTime();
    if (action === 'list') {
      const rows = (await unexpiredBlocks(ctx.store, now)).filter((r) => r.lifted_at === null);
      if (flags.json) return printJson(rows.map(blockView));
      if (!rows.length) return void process.stdout.write('no authentication blocks in force\n');
      for (const row of rows) process.stdout.write(`${row.id}  ${what(row)}  ${row.failures} failures  until ${new Date(Number(row.until)).toISOString()}\n`);
      process.stdout.write(`\nlift one with: hallmark security blocks lift <id>\n`);
      return;
    }
    if (action !== 'lift' || !id) throw usageError(USAGE);
    const actor = `cli:${os.userInfo().username}`;
    const row = await liftBlock(ctx.store, id, actor, now);
    if (!row) throw new HallmarkError('not_found', `no block ${id} in force; list them with: hallmark security blocks list`, 1);
    await ctx.audit.record({ actor, action: 'security.block.lift', target: id, outcome: 'success', source: 'cli', details: { scope: row.scope, source: row.source, credential: row.credential } });
    if (flags.json) printJson({ ...blockView(row), lifted: true });
    else process.stderr.write(`lifted block ${id} (${what(row)}); running instances drop it within seconds\n`);
  });
}
