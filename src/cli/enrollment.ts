import os from 'node:os';
import { decideEnrollment, enrollmentRequestView, listEnrollmentRequests, type EnrollmentRequestStatus } from '../ca/enrollment-approval.js';
import { printJson } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

const USAGE = 'usage: hallmark enrollment list [--status pending|approved|rejected|issued] | enrollment approve <id> | enrollment reject <id> [--reason <text>]';

/** `hallmark enrollment`: enrollments held for approval on labels with manualApproval (RFC 7030 §4.2.3). */
export async function enrollmentCommand(verb: string | undefined, args: string[], flags: { json: boolean; status?: string; reason?: string }): Promise<void> {
  if (verb === 'list') {
    if (flags.status && !['pending', 'approved', 'rejected', 'issued'].includes(flags.status)) throw usageError(USAGE);
    return withContext({ withKeys: false }, async (ctx) => {
      const rows = (await listEnrollmentRequests(ctx.store, flags.status as EnrollmentRequestStatus | undefined)).map(enrollmentRequestView);
      if (flags.json) return printJson(rows);
      if (!rows.length) return void process.stdout.write('no enrollment requests\n');
      for (const r of rows) process.stdout.write(`${r.id}  ${r.status.padEnd(8)}  ${r.label}  ${r.device}  ${r.requestedAt}${r.decidedBy ? `  by ${r.decidedBy}` : ''}\n`);
    });
  }
  if ((verb !== 'approve' && verb !== 'reject') || !args[0]) throw usageError(USAGE);
  await withContext({ withKeys: false }, async (ctx) => {
    const row = await decideEnrollment({ store: ctx.store, audit: ctx.audit }, { id: args[0]!, approve: verb === 'approve', reason: flags.reason, actor: `cli:${os.userInfo().username}`, source: 'cli', now: ctx.clock.now() });
    if (flags.json) printJson(enrollmentRequestView(row));
    else process.stderr.write(`enrollment ${row.id} of ${row.device} ${row.status}; the device gets ${verb === 'approve' ? 'its certificate' : '403'} when it repeats its request\n`);
  });
}
