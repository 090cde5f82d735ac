import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { issuingDeps } from '../app/context.js';
import { approveRelease, rejectRelease, releaseView, signRelease } from '../signing/releases.js';
import { retireSigner, revokeSigner, rolloverSigner, SIGNER_REVOCATION_REASONS } from '../signing/signer-lifecycle.js';
import { createSigner, requireSigner, signerView, signerWithKeys } from '../signing/signers.js';
import { parseReason, type ReasonName } from '../x509/revocation-reasons.js';
import { findRelease, findSigner, listReleases, listSigners } from '../store/signing.js';
import { checkOutFile } from './out-file.js';
import { note, printJson, printTable } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface SigningFlags {
  json: boolean;
  name?: string;
  profile?: string;
  ca?: string;
  key?: string;
  signer?: string;
  file?: string;
  product?: string;
  channel?: string;
  version?: string;
  format?: string;
  digest?: string;
  'rollback-override'?: string;
  'two-person'?: boolean;
  timestamp?: boolean;
  out?: string;
  limit?: string;
  reason?: string;
  'invalidity-date'?: string;
  'overlap-days'?: string;
}

const actor = () => `cli:${os.userInfo().username}`;
// No revocation listeners here: running instances see a change through their status look and publish a new CRL.
const signingDeps = async (ctx: Parameters<Parameters<typeof withContext>[1]>[0]) => ({
  store: ctx.store,
  audit: ctx.audit,
  clock: ctx.clock,
  keys: ctx.keys!,
  issue: await issuingDeps(ctx),
  tokenLabel: ctx.env.tokenLabel,
  tsa: ctx.config.tsa,
  revocation: { store: ctx.store, audit: ctx.audit, clock: ctx.clock, listeners: [] },
});

/** `hallmark signer create|list|show`: named signing keys on the token with code-signing certificates. */
export async function signerCommand(verb: string | undefined, args: string[], flags: SigningFlags): Promise<void> {
  const usage = 'usage: hallmark signer create --name <name> [--profile firmware-signer] [--ca <ca>] [--key ec-p256|ec-p384|rsa-3072|rsa-4096] [--two-person] | list | show <name> [--out <file>] | rollover <name> [--overlap-days <n>] [--key <type>] | retire <name> | revoke <name> --reason <reason> [--invalidity-date <time>]';
  if (verb === 'rollover' || verb === 'retire' || verb === 'revoke') return signerLifecycle(verb, args, flags, usage);
  if (verb === 'create') {
    const name = flags.name ?? args[0];
    if (!name) throw usageError(usage);
    await withContext({ withKeys: true }, async (ctx) => {
      if (!flags.json) note(`generating the key of signer ${name} on the token and certifying it…`);
      const row = await createSigner(await signingDeps(ctx), { name, twoPerson: flags['two-person'] ?? false, profile: flags.profile, ca: flags.ca, keyType: flags.key, requester: { kind: 'cli' }, actor: actor() });
      if (flags.json) printJson(signerView(row));
      else process.stdout.write(`signer ${row.name}: ${row.key_type} key on the token, certificate ${row.serial} from CA ${row.ca}, valid until ${signerView(row).notAfter}\n`);
    });
    return;
  }
  if (verb === 'show') {
    const name = args[0];
    if (!name) throw usageError(usage);
    await withContext({ withKeys: true }, async (ctx) => {
      const deps = await signingDeps(ctx);
      const view = await signerWithKeys(deps, await requireSigner(ctx.store, name));
      if (flags.out) {
        checkOutFile(flags.out);
        fs.writeFileSync(flags.out, view.chain.join(''));
        if (!flags.json) note(`signer ${name}'s certificate and its CAs below the root written to ${flags.out}`);
      }
      if (flags.json) printJson(view);
      else if (!flags.out) {
        const { chain, previousKeys, ...fields } = view;
        const earlier = previousKeys.map((k) => `previous   generation ${k.generation}, certificate ${k.serial}: ${k.state}${k.verifiableUntil ? ` (verifiable until ${k.verifiableUntil})` : ''}`);
        process.stdout.write(`${[...Object.entries(fields).map(([k, v]) => `${k.padEnd(10)} ${v}`), ...earlier].join('\n')}\n${chain.join('')}`);
      }
    });
    return;
  }
  if (verb !== 'list') throw usageError(usage);
  await withContext({ withKeys: false }, async (ctx) => {
    const rows = (await listSigners(ctx.store)).map(signerView);
    if (flags.json) printJson(rows);
    else printTable(rows, ['name', 'status', 'ca', 'keyType', 'generation', 'serial', 'notAfter']);
  });
}

async function signerLifecycle(verb: 'rollover' | 'retire' | 'revoke', args: string[], flags: SigningFlags, usage: string): Promise<void> {
  const name = args[0];
  if (!name) throw usageError(usage);
  const overlapDays = flags['overlap-days'] === undefined ? undefined : Number(flags['overlap-days']);
  if (overlapDays !== undefined && (!Number.isInteger(overlapDays) || overlapDays < 0)) throw usageError('--overlap-days is a whole number of days');
  let reason: ReasonName | undefined;
  let invalidityDate: Date | undefined;
  if (verb === 'revoke') {
    reason = parseReason(flags.reason ?? '');
    if (!reason || !(SIGNER_REVOCATION_REASONS as readonly string[]).includes(reason)) throw usageError(`--reason is one of ${SIGNER_REVOCATION_REASONS.join(', ')}`);
    if (flags['invalidity-date']) {
      invalidityDate = new Date(flags['invalidity-date']);
      if (Number.isNaN(invalidityDate.getTime())) throw usageError(`--invalidity-date takes an ISO 8601 time, got "${flags['invalidity-date']}"`);
    }
  }
  await withContext({ withKeys: true }, async (ctx) => {
    const deps = await signingDeps(ctx);
    if (verb === 'rollover') {
      if (!flags.json) note(`generating signer ${name}'s new key on the token and certifying it…`);
      const done = await rolloverSigner(deps, { name, overlapDays, keyType: flags.key, requester: { kind: 'cli' }, actor: actor() });
      if (flags.json) printJson(done);
      else process.stdout.write(`signer ${name}: generation ${done.generation}, certificate ${done.serial} valid until ${done.notAfter.toISOString()}; the replaced key is destroyed, certificate ${done.replaced} ${done.verifiableUntil ? `verifiable until ${done.verifiableUntil.toISOString()}, then revoked as superseded` : 'was revoked already'}\n`);
    } else if (verb === 'retire') {
      const done = await retireSigner(deps, { name, actor: actor() });
      if (flags.json) printJson(done);
      else process.stdout.write(`signer ${name} retired: key destroyed${done.rejectedReleases.length ? `, pending releases ${done.rejectedReleases.join(', ')} rejected` : ''}; what it signed verifies until certificate ${done.serial} expires\n`);
    } else {
      const done = await revokeSigner(deps, { name, reason: reason!, invalidityDate, actor: actor() });
      if (flags.json) printJson(done);
      else {
        process.stdout.write(`signer ${name}: certificate ${done.serial} revoked (${done.reason}), key destroyed${done.rejectedReleases.length ? `, pending releases ${done.rejectedReleases.join(', ')} rejected` : ''}\n`);
        if (done.releasesSigned.length) process.stdout.write(`releases signed with that key (sign again after: hallmark signer rollover ${name}):\n${done.releasesSigned.map((r) => `  ${r.id}  ${r.product} ${r.version} (${r.channel})`).join('\n')}\n`);
      }
    }
  });
}

/**
 * `hallmark sign`: hashes the image here and signs its digest (the image never leaves this machine),
 * the release record first; writes the signature (DER) to --out.
 */
export async function signCommand(flags: SigningFlags): Promise<void> {
  const { signer, file, version, out } = flags;
  if (!signer || !file || !version || !out) throw usageError('usage: hallmark sign --signer <name> --file <image> --version <v> [--product <product>] [--channel <c>] [--format cms|raw] [--digest sha256|sha384] --out <file>');
  const product = flags.product ?? signer; // one signer per product line is the common case
  if (!fs.existsSync(file)) throw usageError(`--file ${file}: no such file`);
  checkOutFile(out);
  await withContext({ withKeys: true }, async (ctx) => {
    const deps = await signingDeps(ctx);
    const row = await findSigner(ctx.store, signer);
    const digestAlgorithm = flags.digest ?? (row?.key_type === 'ec-p384' ? 'sha384' : 'sha256');
    if (digestAlgorithm !== 'sha256' && digestAlgorithm !== 'sha384') throw usageError('--digest is sha256 or sha384');
    const hash = createHash(digestAlgorithm);
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
    const { release, replayed } = await signRelease(deps, {
      signer,
      digestAlgorithm,
      digest: hash.digest('hex'),
      product,
      channel: flags.channel,
      version,
      format: flags.format,
      timestamp: flags.timestamp ?? false,
      rollbackOverride: flags['rollback-override'],
      mayOverride: true, // the local CLI is the CA's operator
      actor: actor(),
    });
    const view = releaseView(release);
    if (release.signature) fs.writeFileSync(out, new Uint8Array(release.signature));
    if (flags.json) printJson({ ...view, replayed });
    else if (!release.signature) process.stdout.write(`release ${view.id} (${view.product} ${view.version}) waits for a second person's approval (signer ${view.signer}): hallmark release approve ${view.id} --out ${out}\n`);
    else process.stdout.write(`${replayed ? 'already signed' : 'signed'}: ${view.product} ${view.version} (channel ${view.channel}), release ${view.id}, ${view.format} signature by ${view.signer} in ${out}\n`);
  });
}

/** `hallmark release list|show`: the release records. */
export async function releaseCommand(verb: string | undefined, args: string[], flags: SigningFlags): Promise<void> {
  if (verb === 'approve') {
    const id = Number(args[0]);
    if (!Number.isSafeInteger(id) || id < 1) throw usageError('usage: hallmark release approve <id> [--out <file>]');
    if (flags.out) checkOutFile(flags.out);
    await withContext({ withKeys: true }, async (ctx) => {
      const row = await approveRelease(await signingDeps(ctx), { id, actor: actor() });
      if (flags.out) fs.writeFileSync(flags.out, new Uint8Array(row.signature!));
      if (flags.json) printJson(releaseView(row));
      else process.stdout.write(`release ${id} approved and signed: ${row.product} ${row.version} by ${row.signer}${flags.out ? `, signature in ${flags.out}` : ''}\n`);
    });
    return;
  }
  if (verb === 'reject') {
    const id = Number(args[0]);
    if (!Number.isSafeInteger(id) || id < 1 || !flags.reason) throw usageError("usage: hallmark release reject <id> --reason '<why>'");
    await withContext({ withKeys: false }, async (ctx) => {
      const row = await rejectRelease(ctx, { id, reason: flags.reason!, actor: actor() });
      if (flags.json) printJson(releaseView(row));
      else process.stdout.write(`release ${id} rejected: ${row.product} ${row.version} will not be signed\n`);
    });
    return;
  }
  await withContext({ withKeys: false }, async (ctx) => {
    if (verb === 'list') {
      const limit = flags.limit === undefined ? 100 : Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw usageError('--limit is a whole number from 1 to 100000');
      const rows = (await listReleases(ctx.store, { product: flags.product, signer: flags.signer, limit })).map((r) => releaseView(r));
      if (flags.json) printJson(rows);
      else printTable(rows, ['id', 'product', 'channel', 'version', 'signer', 'format', 'status', 'requestedBy', 'createdAt']);
    } else if (verb === 'show') {
      const id = Number(args[0]);
      if (!Number.isSafeInteger(id) || id < 1) throw usageError('usage: hallmark release show <id>');
      const row = await findRelease(ctx.store, id);
      if (!row) throw usageError(`no release ${args[0]} (hallmark release list)`);
      const { signature: _signature, ...view } = releaseView(row);
      if (flags.out) {
        if (!row.signature) throw usageError(`release ${id} is not signed yet (it waits for approval)`);
        checkOutFile(flags.out);
        fs.writeFileSync(flags.out, new Uint8Array(row.signature));
      }
      if (flags.json) printJson(releaseView(row));
      else process.stdout.write(`${Object.entries(view).map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('\n')}\n`);
    } else throw usageError("usage: hallmark release list [--product <p>] [--signer <name>] [--limit <n>] | show <id> [--out <file>] | approve <id> [--out <file>] | reject <id> --reason '<why>'");
  });
}
