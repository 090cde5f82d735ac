import { inTransaction } from '../store/handle.js';
import fs from 'node:fs';
import os from 'node:os';
import { setOperatorPassword } from '../auth/operators.js';
import { addOperator, disableOperatorAccount, listOperatorViews, resetAuthenticator } from '../auth/operator-admin.js';
import { ROLES, type Role } from '../auth/roles.js';
import { SECRETS_KEY } from '../keys/key-store.js';
import { printJson, printTable } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface OperatorFlags {
  json: boolean;
  name?: string;
  role?: string;
  'password-file'?: string;
}

/** The password comes from a file (or `-` for stdin), never from the command line where `ps` shows it. */
function readPassword(file: string | undefined): string {
  if (!file) throw usageError('give the password with --password-file <file> (or - to read it from stdin)');
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw usageError(`cannot read the password file: ${(e as NodeJS.ErrnoException).code}`);
  }
}

export async function operatorCommand(verb: string | undefined, args: string[], flags: OperatorFlags): Promise<void> {
  const actor = `cli:${os.userInfo().username}`;
  if (verb === 'add') {
    if (!flags.name) throw usageError('usage: hallmark operator add --name <name> --role <role> --password-file <file>');
    if (!flags.role || !(ROLES as readonly string[]).includes(flags.role)) throw usageError(`--role is one of ${ROLES.join(', ')}`);
    const password = readPassword(flags['password-file']);
    await withContext({ withKeys: true }, async (ctx) => {
      const sealer = await ctx.keys!.getSealer({ token: ctx.env.tokenLabel, object: SECRETS_KEY });
      const created = await addOperator(ctx, sealer, { name: flags.name!, role: flags.role as Role, password, actor, source: 'cli', now: ctx.clock.now() });
      // The TOTP seed is shown once, for the operator's authenticator app; stored only sealed.
      if (flags.json) printJson(created);
      else process.stdout.write(`operator ${flags.name} (${flags.role}) created. Add this to an authenticator app now (shown once):\n\n    ${created.otpauth}\n\n`);
    });
    return;
  }
  if (verb === 'passwd') {
    const name = args[0];
    if (!name) throw usageError('usage: hallmark operator passwd <name> --password-file <file|->');
    const password = readPassword(flags['password-file']);
    await withContext({ withKeys: false }, async (ctx) => {
      await inTransaction(ctx.store, async (trx) => {
        await setOperatorPassword(trx, name, password, ctx.clock.now());
        await ctx.audit.recordIn(trx, { actor, action: 'operator.password', target: name, outcome: 'success', source: 'cli' });
      });
      if (flags.json) printJson({ name, passwordChanged: true, sessionsClosed: true });
      else process.stderr.write(`operator ${name}: password changed; their sessions are closed\n`);
    });
    return;
  }
  if (verb === 'reset-totp') {
    const name = args[0];
    if (!name) throw usageError('usage: hallmark operator reset-totp <name>');
    await withContext({ withKeys: true }, async (ctx) => {
      const sealer = await ctx.keys!.getSealer({ token: ctx.env.tokenLabel, object: SECRETS_KEY });
      const reset = await resetAuthenticator(ctx, sealer, name, { actor, source: 'cli' }, ctx.clock.now());
      if (flags.json) printJson(reset);
      else process.stdout.write(`operator ${name}: new TOTP seed; the old authenticator no longer works and their sessions are closed. Add this to an authenticator app now (shown once):\n\n    ${reset.otpauth}\n\n`);
    });
    return;
  }
  await withContext({ withKeys: false }, async (ctx) => {
    if (verb === 'list') {
      const rows = await listOperatorViews(ctx.store);
      if (flags.json) printJson(rows);
      else printTable(rows, ['name', 'role', 'state', 'createdBy', 'createdAt']);
    } else if (verb === 'disable') {
      const name = args[0];
      if (!name) throw usageError('usage: hallmark operator disable <name>');
      await disableOperatorAccount(ctx, name, { actor, source: 'cli' }, ctx.clock.now());
      if (flags.json) printJson({ name, disabled: true });
      else process.stderr.write(`operator ${name} disabled; their sessions are closed\n`);
    } else throw usageError('usage: hallmark operator add|list|disable|passwd|reset-totp …');
  });
}
