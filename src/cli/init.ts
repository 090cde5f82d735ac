import { initializeCa } from '../ca/init.js';
import { note, printJson } from './output.js';
import { withContext } from './with-context.js';

export async function initCommand(flags: { json: boolean }): Promise<void> {
  await withContext({ withKeys: true, create: true }, async (ctx) => {
    const result = await initializeCa(
      { store: ctx.store, keys: ctx.keys!, cas: ctx.cas, audit: ctx.audit, clock: ctx.clock, config: ctx.config, tokenLabel: ctx.env.tokenLabel },
      flags.json ? () => {} : note,
    );
    if (flags.json) {
      printJson({ cas: result.cas, admin: result.admin });
      return;
    }
    for (const ca of result.cas) {
      process.stdout.write(`CA ${ca.name}: ${ca.subject}, serial ${ca.serial}, valid until ${ca.notAfter.toISOString()}\n    key ${ca.keyUri}\n`);
    }
    process.stdout.write(
      `\nBootstrap admin API key (shown once; store it now, e.g. in a password manager):\n\n    ${result.admin.apiKey}\n\n` +
        `Use it as "Authorization: Bearer <key>" against /api/v1, then create named keys with \`hallmark apikey create\`.\n`,
    );
  });
}
