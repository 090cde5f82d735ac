import fs from 'node:fs';
import { openContext, issuingDeps } from '../app/context.js';
import { issueCertificate } from '../ca/issue.js';
import { allowRenewal } from '../ca/renewal-grants.js';
import { certificateResponse } from '../ca/certificate-response.js';
import { certificateView } from '../ca/certificate-view.js';
import { HallmarkError } from '../base/errors.js';
import { normalizeSerial } from '../x509/serial.js';
import type { CertificateFilter } from '../store/certificates.js';
import { printJson, printTable } from './output.js';
import { parseLimit, usageError } from './usage-error.js';
import os from 'node:os';
import { progress } from './progress.js';
import { verifyCsr } from '../x509/csr.js';
import { releaseHold, revokeCertificate } from '../ca/revoke.js';
import { REASON_NAMES, parseReason } from '../x509/revocation-reasons.js';
import { withContext } from './with-context.js';

export interface CertFlags {
  json: boolean;
  csr?: string;
  profile?: string;
  device?: string;
  days?: string;
  out?: string;
  status?: string;
  expiring?: string;
  limit?: string;
  reason?: string;
  'invalidity-date'?: string;
  dir?: string;
  issuer?: string;
}

const actor = () => `cli:${os.userInfo().username}`;

/**
 * `cert issue --dir <dir>`: every *.csr / *.pem / *.der request in the directory, the device id taken
 * from each CSR's CN, certificates written beside them as <name>.crt; one failure does not stop the rest.
 */
async function issueDirectory(flags: CertFlags): Promise<void> {
  const files = fs.readdirSync(flags.dir!).filter((f) => /\.(csr|pem|der|req)$/.test(f)).sort();
  if (!files.length) throw usageError(`no CSR files (*.csr, *.pem, *.der, *.req) in ${flags.dir}`);
  const ctx = await openContext({ withKeys: true });
  const results: { file: string; serial?: string; error?: string }[] = [];
  try {
    const deps = await issuingDeps(ctx);
    const bar = progress(files.length, 'issuing', flags.json);
    for (const [i, file] of files.entries()) {
      const full = `${flags.dir}/${file}`;
      try {
        const raw = fs.readFileSync(full);
        const text = raw.toString('latin1');
        const csr = await verifyCsr(text.includes('-----BEGIN') ? text : new Uint8Array(raw));
        const issued = await issueCertificate(deps, { csr, profile: flags.profile!, identity: csr.commonName, validityDays: flags.days ? Number(flags.days) : undefined, requester: { kind: 'cli' }, actor: actor(), source: 'cli' });
        fs.writeFileSync(full.replace(/\.(csr|pem|der|req)$/, '.crt'), issued.certificate + issued.chain.join(''));
        results.push({ file, serial: issued.serial });
      } catch (e) {
        results.push({ file, error: (e as Error).message });
      }
      bar.tick(i + 1);
    }
  } finally {
    await ctx.close();
  }
  const failed = results.filter((r) => r.error);
  if (flags.json) printJson(results);
  else for (const r of failed) process.stderr.write(`${r.file}: ${r.error}\n`);
  if (!flags.json) process.stderr.write(`${results.length - failed.length} issued, ${failed.length} refused\n`);
  if (failed.length) throw new HallmarkError('partial', `${failed.length} of ${results.length} requests were refused`, 1);
}

async function issue(flags: CertFlags): Promise<void> {
  if (flags.dir && flags.profile) return issueDirectory(flags);
  if (!flags.csr || !flags.profile) throw usageError('usage: hallmark cert issue --csr <file> --profile <name> [--device <id>] [--days <n>] [--out <file>] | cert issue --dir <directory of CSRs> --profile <name>');
  let csr: Buffer;
  try {
    csr = fs.readFileSync(flags.csr);
  } catch (e) {
    throw usageError(`cannot read CSR file ${flags.csr}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const days = flags.days === undefined ? undefined : Number(flags.days);
  if (days !== undefined && !Number.isInteger(days)) throw usageError(`--days takes a whole number, got "${flags.days}"`);
  const profile = flags.profile;
  await withContext({ withKeys: true }, async (ctx) => {
    const text = csr.toString('latin1');
    const issued = await issueCertificate(await issuingDeps(ctx), {
      csr: text.includes('-----BEGIN') ? text : new Uint8Array(csr),
      profile,
      identity: flags.device,
      validityDays: days,
      requester: { kind: 'cli' },
      actor: actor(),
      source: 'cli',
    });
    const pem = issued.certificate + issued.chain.join('');
    if (flags.out) fs.writeFileSync(flags.out, pem);
    if (flags.json) printJson(certificateResponse(issued));
    else if (!flags.out) process.stdout.write(pem);
    else process.stderr.write(`issued ${issued.serial} (${issued.subject}, until ${issued.notAfter.toISOString()}) → ${flags.out}\n`);
  });
}

async function list(flags: CertFlags): Promise<void> {
  const filter: CertificateFilter = { identity: flags.device, issuer: flags.issuer };
  if (flags.status) {
    if (!['active', 'revoked', 'expired', 'pending', 'failed'].includes(flags.status)) throw usageError('--status is one of active, revoked, expired, pending, failed');
    filter.status = flags.status as CertificateFilter['status'];
  }
  if (flags.expiring !== undefined) {
    const days = Number(flags.expiring);
    if (!Number.isInteger(days) || days < 0) throw usageError(`--expiring takes a number of days, got "${flags.expiring}"`);
    filter.expiringWithinDays = days;
  }
  filter.limit = parseLimit(flags.limit);
  await withContext({ withKeys: false }, async (ctx) => {
    const now = ctx.clock.now();
    const rows = (await ctx.certificates.list(filter, now)).map((r) => certificateView(r, now));
    if (flags.json) printJson(rows);
    else printTable(rows, ['serial', 'status', 'profile', 'identity', 'notAfter', 'subject']);
  });
}

async function show(serialArg: string | undefined, flags: CertFlags): Promise<void> {
  if (!serialArg) throw usageError('usage: hallmark cert show <serial>');
  const serial = normalizeSerial(serialArg);
  if (!serial) throw usageError(`"${serialArg}" is not a serial number (hex, colons allowed)`);
  await withContext({ withKeys: false }, async (ctx) => {
    const row = await ctx.certificates.get(serial);
    if (!row) throw new HallmarkError('not_found', `no certificate with serial ${serial}; see \`hallmark cert list\``, 404);
    const view = certificateView(row, ctx.clock.now(), true);
    if (flags.json) printJson(view);
    else {
      for (const [k, v] of Object.entries(view)) if (k !== 'certificate' && k !== 'decoded') process.stdout.write(`${k.padEnd(17)} ${v ?? '-'}\n`);
      if (view.certificate) process.stdout.write(view.certificate);
    }
  });
}

async function changeStatus(verb: 'revoke' | 'release', serialArg: string | undefined, flags: CertFlags): Promise<void> {
  if (!serialArg || (verb === 'revoke' && !flags.reason)) {
    throw usageError(`usage: hallmark cert revoke <serial> --reason <${REASON_NAMES.join('|')}> [--invalidity-date <ISO 8601>] | cert release <serial>`);
  }
  const serial = normalizeSerial(serialArg);
  if (!serial) throw usageError(`"${serialArg}" is not a serial number (hex, colons allowed)`);
  const reason = verb === 'revoke' ? parseReason(flags.reason!) : undefined;
  if (verb === 'revoke' && !reason) throw usageError(`unknown reason "${flags.reason}"; one of ${REASON_NAMES.join(', ')}`);
  let invalidityDate: Date | undefined;
  if (flags['invalidity-date']) {
    invalidityDate = new Date(flags['invalidity-date']);
    if (Number.isNaN(invalidityDate.getTime())) throw usageError(`--invalidity-date takes an ISO 8601 time, got "${flags['invalidity-date']}"`);
  }
  await withContext({ withKeys: false }, async (ctx) => {
    // No listeners here: running instances see the change through their status poll and publish a new CRL.
    const deps = { store: ctx.store, audit: ctx.audit, clock: ctx.clock, listeners: [] };
    const result =
      verb === 'revoke'
        ? await revokeCertificate(deps, { serial, reason: reason!, invalidityDate, actor: actor(), source: 'cli' })
        : await releaseHold(deps, { serial, actor: actor(), source: 'cli' });
    if (flags.json) printJson({ ...result, status: verb === 'revoke' ? 'revoked' : 'active' });
    else process.stderr.write(`${serial} ${verb === 'revoke' ? `revoked (${reason})` : 'released from hold'}; a running \`hallmark serve\` publishes the new status within seconds\n`);
  });
}

/** `cert allow-renewal <serial>`: this certificate may renew now, before its window opens (once). */
async function allowRenewalOf(serialArg: string | undefined, flags: CertFlags): Promise<void> {
  const serial = serialArg ? normalizeSerial(serialArg) : undefined;
  if (!serial) throw usageError('usage: hallmark cert allow-renewal <serial>');
  await withContext({ withKeys: false }, async (ctx) => {
    await allowRenewal({ store: ctx.store, audit: ctx.audit }, { serial, actor: actor(), source: 'cli', now: ctx.clock.now() });
    if (flags.json) printJson({ serial, renewalAllowed: true });
    else process.stderr.write(`${serial} may renew now (once), over EST simplereenroll or /api/v1/renew\n`);
  });
}

export async function certCommand(verb: string | undefined, args: string[], flags: CertFlags): Promise<void> {
  if (verb === 'issue') return issue(flags);
  if (verb === 'revoke' || verb === 'release') return changeStatus(verb, args[0], flags);
  if (verb === 'list') return list(flags);
  if (verb === 'show') return show(args[0], flags);
  if (verb === 'allow-renewal') return allowRenewalOf(args[0], flags);
  throw usageError('usage: hallmark cert issue|list|show|revoke|release|allow-renewal … (see `hallmark help`)');
}
