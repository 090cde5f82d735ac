import { randomSerial, serialToHex } from '../x509/serial.js';
import { derBitString, derSequence } from '../x509/der.js';
import { toPem } from '../x509/pem.js';
import { verifyCsr, type VerifiedCsr } from '../x509/csr.js';
import { applyProfile, type Draft } from '../profiles/rules/index.js';
import type { Profile } from '../profiles/schema.js';
import { mintsAuthority, type Requester } from '../profiles/requester.js';
import type { AuditEvent, AuditLog } from '../audit/log.js';
import type { StoreTx } from '../store/handle.js';
import type { Clock } from '../base/clock.js';
import type { CertificateIntent, IssuanceStore } from '../store/certificates.js';
import { keptDespite, type KeyBinding, type KeyRefusal } from '../store/public-keys.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { together } from '../store/together.js';
import { HallmarkError, toError } from '../base/errors.js';
import type { IssuerCa, IssuerRegistry } from './issuer.js';
import { crlShardOf, type CrlPolicy } from './crl-scope.js';
import { buildLeafTbs, FULL_LINT_EVERY, leafTemplate, lintLeafFields, type LeafTemplate } from './leaf-template.js';
import { assertLintClean, lintCertificate } from '../lint/index.js';
import { createBatcher, type Batcher } from '../workers/batcher.js';
import { groupBy } from '../base/group-by.js';
import { metrics } from '../observability/metrics.js';
import { publicKeyId } from '../x509/key-id.js';
import type { AttestedKey } from '../attestation/attested-key.js';

/** The slice of the application that issuance needs. */
export interface IssueDeps {
  issuers: IssuerRegistry;
  profiles: Map<string, Profile>;
  store: IssuanceStore;
  audit: AuditLog;
  clock: Clock;
  publicBaseUrl: string;
  /** Each CA family's CRL publishing (`cas[].crl`): how many shards new certificates are spread over. */
  crlPolicy: (family: string) => CrlPolicy;
  /** The configuration's `tlsNames` (profiles with `fromCsr.serviceNames` accept these names). */
  serviceNames: readonly string[];
}

export interface IssueInput {
  /** PEM, base64 or DER PKCS#10, or a request already verified by the caller. */
  csr: string | Uint8Array | VerifiedCsr;
  profile: string;
  identity?: string;
  validityDays?: number;
  /** Internal issuance only (responder certificates): a CA other than the profile's issuer. */
  issuer?: string;
  /** Who asks; the profile decides whether they may (no default: every path says who it speaks for). */
  requester: Requester;
  /** The key was proven to live in a TPM (attestation/redeem.ts): `csr` is then requestForOwnKey of that key. */
  attestation?: AttestedKey;
  actor: string;
  source?: string;
  /**
   * Records what this request's caller keeps about its certificate (the enrollment secret it used,
   * the approved request it answers) in the transaction that records the certificate: both land, or
   * neither. Its failure fails the batch's recording, so it must be a plain write.
   */
  recordWith?: (tx: StoreTx, issued: IssuedCertificate) => Promise<void>;
}

export interface IssuedCertificate {
  serial: string;
  der: Uint8Array;
  /** PEM certificate. */
  certificate: string;
  /** PEM certificates from the issuer up to, not including, the root. */
  chain: string[];
  issuer: string;
  profile: string;
  identity?: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

const isVerified = (csr: IssueInput['csr']): csr is VerifiedCsr => typeof csr === 'object' && 'spkiDer' in csr;

export function lookupProfile(profiles: Map<string, Profile>, name: string): Profile {
  const profile = profiles.get(name);
  if (!profile) throw new HallmarkError('unknown_profile', `no profile named "${name}" (known: ${[...profiles.keys()].join(', ')})`, 404);
  return profile;
}

const chainPems = new WeakMap<IssuerCa, string[]>();
const chainOf = (issuer: IssuerCa) => {
  let pems = chainPems.get(issuer);
  if (!pems) chainPems.set(issuer, (pems = issuer.chain.map((c) => toPem(c, 'CERTIFICATE'))));
  return pems;
};

/** One request on its way through a batch: what it became so far, or why it stopped. */
interface Pending {
  input: IssueInput;
  issuer: IssuerCa;
  profile: Profile;
  template: LeafTemplate;
  draft: Draft;
  spkiDer: Uint8Array;
  /** The key's identity (x509/key-id.ts), bound to this certificate's identity before anything is recorded. */
  keyId: string;
  keyType: string;
  identity?: string;
  subjectText: string;
  serial: string;
  crlShard: number | null;
  tbs: Uint8Array;
  createdAt: number;
}

/** Profile, issuer, draft and TBS for one request; a lint or policy failure is that request's error. */
function prepare(deps: IssueDeps, input: IssueInput, csr: VerifiedCsr, now: Date, lintFailures: AuditEvent[]): Pending {
  const profile = lookupProfile(deps.profiles, input.profile);
  // The profile names a CA family (its current generation issues); internal callers may name a generation.
  const issuer = input.issuer ? deps.issuers.exact(input.issuer) : deps.issuers.get(profile.issuer);
  const identity = input.identity || undefined;
  const draft = applyProfile({ csr, profile, identity, validityDays: input.validityDays, requester: input.requester, attestation: input.attestation }, { now, issuer, serviceNames: deps.serviceNames });
  const serialBytes = randomSerial();
  // The shard is the first serial's: a redrawn serial (redrawSerial) keeps the template, and the
  // shard is stored with the certificate, never recomputed.
  const crlShard = crlShardOf(serialBytes, deps.crlPolicy(issuer.family).shards);
  const template = leafTemplate(issuer, profile, deps.publicBaseUrl, crlShard);
  const tbs = buildLeafTbs(template, draft, csr.spkiDer, serialBytes);
  // Lint exactly what the HSM would sign, before anything is recorded: the whole certificate for a
  // template's first and every FULL_LINT_EVERY-th, the fields that vary for the others.
  const full = template.issued % FULL_LINT_EVERY === 0;
  const findings = full ? lintCertificate(tbs, issuer.lint) : lintLeafFields(draft, serialBytes, issuer);
  if (findings.length) {
    lintFailures.push({ actor: input.actor, action: 'certificate.lint', target: profile.name, outcome: 'failure', source: input.source, details: { issuer: issuer.name, findings } });
    assertLintClean(findings, `a certificate under profile "${profile.name}"`);
  }
  template.issued++;
  return {
    input,
    issuer,
    profile,
    template,
    draft,
    spkiDer: csr.spkiDer,
    keyId: publicKeyId(csr.spkiDer),
    keyType: typeof csr.keyType === 'string' ? csr.keyType : 'unknown',
    identity,
    subjectText: subjectText(draft.subject),
    serial: serialToHex(serialBytes),
    crlShard,
    tbs,
    createdAt: now.getTime(),
  };
}

const subjectText = (attributes: Draft['subject']) => attributes.map(([k, v]) => `${k}=${v}`).join(', ');

function redrawSerial(p: Pending): void {
  const serialBytes = randomSerial();
  p.serial = serialToHex(serialBytes);
  p.tbs = buildLeafTbs(p.template, p.draft, p.spkiDer, serialBytes);
}

const intentRows = (pending: Pending[]): CertificateIntent[] =>
  pending.map((p) => ({
    serial: p.serial,
    issuer: p.issuer.name,
    profile: p.profile.name,
    identity: p.identity ?? null,
    subject: p.subjectText,
    not_before: p.draft.notBefore.getTime(),
    not_after: p.draft.notAfter.getTime(),
    key_type: p.keyType,
    requested_by: p.input.actor,
    created_at: p.createdAt,
    crl_shard: p.crlShard,
    tbs: p.tbs,
  }));

const intentEvents = (pending: Pending[], lintFailures: AuditEvent[]): AuditEvent[] => [
  ...lintFailures,
  ...pending.map((p) => ({
    actor: p.input.actor,
    action: 'certificate.issue',
    target: p.serial,
    outcome: 'pending' as const,
    source: p.input.source,
    // A certificate that acts for Hallmark or carries a role is marked high-impact in the log (docs/security-model.md, "Issuance policy").
    details: { issuer: p.issuer.name, profile: p.profile.name, identity: p.identity, subject: p.subjectText, ...(p.input.attestation ? { tpm: p.input.attestation.ek.id } : {}), ...(mintsAuthority(p.profile) ? { highImpact: true, requester: p.input.requester.kind } : {}) },
  })),
];

/** What a certificate's key is bound to: its identity, or its subject when the profile has no identity. */
const bindingOf = (p: Pending) => p.identity ?? `subject:${p.subjectText}`;

/**
 * One public key, one identity (docs/security-model.md, "Issuance policy"): a key already certified for another identity
 * is refused, within this batch or before it, and so is a key revoked for keyCompromise. The renewal
 * of the same identity with the same key passes. This is the batch's part (a key asked for twice here);
 * the store binds what is left (`bindKeys`, or with the intents in `recordIntentsWithAudit`).
 */
function keyBindings(pending: Pending[], refuse: Refuse): KeyBinding[] {
  const firstIdentity = new Map<string, string>();
  for (const p of [...pending]) {
    const bound = firstIdentity.get(p.keyId);
    if (bound === undefined) firstIdentity.set(p.keyId, bindingOf(p));
    else if (bound !== bindingOf(p)) refuse(p, keyInUse());
  }
  return [...firstIdentity].map(([keyId, identity]) => ({ keyId, identity }));
}

type Refuse = (p: Pending, error: Error) => void;

function refuseKeys(pending: Pending[], refusals: KeyRefusal[], refuse: Refuse): void {
  if (!refusals.length) return;
  const byKey = new Map(refusals.map((r) => [r.keyId, r]));
  for (const p of [...pending]) {
    const refusal = byKey.get(p.keyId);
    if (!refusal) continue;
    refuse(p, refusal.reason === 'compromised' ? new HallmarkError('key_compromised', `this public key belongs to a certificate revoked for keyCompromise${refusal.serial ? ` (${refusal.serial})` : ''}; it is never certified again: generate a new key`, 403) : keyInUse());
  }
}

const keyInUse = () => new HallmarkError('key_in_use', 'this public key is already certified for another identity; every identity needs a key of its own (a renewal keeps its identity)', 409);

/** Retries `record` with new serials when one was taken: 2^-126 per pair, but a collision must cost a retry, never a duplicate. */
async function withSerialRetry<T>(pending: Pending[], record: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; ) {
    try {
      return await record();
    } catch (e) {
      if (!isUniqueViolation(e) || attempt++ >= 3) throw e;
      pending.forEach(redrawSerial);
    }
  }
}

/**
 * Single issuances (nothing else to record): the keys bound, the intents and their audit events in one
 * round trip (the store's recordIntentsWithAudit). A refused key's intent and event are left out.
 */
async function recordIntentsBindingKeys(deps: IssueDeps, pending: Pending[], lintFailures: AuditEvent[], bindings: KeyBinding[], now: Date, refuse: Refuse): Promise<void> {
  const keyOf = [...lintFailures.map(() => null), ...pending.map((p) => p.keyId)];
  const { append, refusals } = await withSerialRetry(pending, async () => {
    // Made again on a retry: the events name the serials, which a collision redraws.
    const append = deps.audit.pendingRows(intentEvents(pending, lintFailures));
    const intents = intentRows(pending).map((row, i) => ({ ...row, key_id: pending[i]!.keyId }));
    const entries = append.rows.map((row, i) => ({ ...row, key_id: keyOf[i] ?? null }));
    return { append, refusals: await deps.store.recordIntentsWithAudit({ bindings, intents, entries, now: now.getTime() }) };
  });
  const kept = keptDespite(refusals);
  deps.audit.appended({ ...append, events: append.events.filter((_, i) => kept(keyOf[i] ?? null)) });
  refuseKeys(pending, refusals, refuse);
}

/** With what the caller records beside them: the intents and their audit events in one transaction. */
async function recordIntentsWith(deps: IssueDeps, pending: Pending[], lintFailures: AuditEvent[], withIntents: NonNullable<IssueBatchOptions['withIntents']>): Promise<void> {
  await withSerialRetry(pending, () =>
    deps.store.transaction(async (tx) => {
      // The intents and their audit events go together (see together.ts); a serial collision fails
      // the whole, which is rolled back and retried with new serials.
      const intents = () => deps.store.recordIntents(tx, intentRows(pending));
      const events = () => deps.audit.recordManyIn(tx, intentEvents(pending, lintFailures));
      await together(tx, [() => withIntents(tx), intents, events]);
    }),
  );
}

/** Signs one issuer's share of a batch; a failure marks those intents failed, audited, and is their error. */
async function signFor(deps: IssueDeps, issuer: IssuerCa, group: Pending[]): Promise<(Uint8Array | Error)[]> {
  try {
    const signatures = await issuer.signer.signMany(group.map((p) => p.tbs));
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, the TBS as signed.
    return group.map((p, i) => derSequence(p.tbs, p.template.constants.signatureAlgorithm, derBitString(signatures[i]!)));
  } catch (e) {
    await deps.store.recordFailed(group.map((p) => p.serial));
    for (const p of group) metrics.certificatesIssued.inc({ profile: p.profile.name, outcome: 'failed' });
    await deps.audit.recordMany(group.map((p) => ({ actor: p.input.actor, action: 'certificate.issue', target: p.serial, outcome: 'failure' as const, source: p.input.source, details: { reason: toError(e).message } })));
    return group.map(() => toError(e));
  }
}

export interface IssueBatchOptions {
  /**
   * Records what must land with the intents (a device's reservation) inside their transaction. Not
   * called when no request got as far as an intent. Its failure fails the batch; it must not throw a
   * unique violation of its own (that would be taken for a serial collision and retried).
   */
  withIntents?: (tx: StoreTx) => Promise<unknown>;
  /**
   * Records what the caller keeps about the certificates (a device's identity, its manufacturing
   * record) inside the transaction that records them, so both land or neither does. Gets every
   * input's outcome: its certificate, or its error. Not called when nothing was signed.
   */
  alongside?: (tx: StoreTx, outcomes: (IssuedCertificate | Error)[]) => Promise<void>;
}

/**
 * CSRs → certificates, recorded before they are signed (as Boulder does), many at a time:
 * one transaction reserves the serials with their exact TBSCertificates and writes the audit events;
 * then the HSM signs (in worker threads for large batches); then the certificates are recorded in
 * one statement per 400, and only then returned. A request that fails (policy, lint, HSM) fails
 * alone: the result at its index is its error.
 */
export async function issueBatch(deps: IssueDeps, inputs: IssueInput[], options: IssueBatchOptions = {}): Promise<(IssuedCertificate | Error)[]> {
  const results: (IssuedCertificate | Error)[] = new Array(inputs.length);
  const csrs = await Promise.all(inputs.map((input) => (isVerified(input.csr) ? input.csr : verifyCsr(input.csr).catch(toError))));
  const now = deps.clock.now();
  const lintFailures: AuditEvent[] = [];
  const pending: Pending[] = [];
  const indexOf = new Map<Pending, number>();
  for (let i = 0; i < inputs.length; i++) {
    // Yield now and then: a long run here would hold up other batches' transactions and every other request.
    if (i % 64 === 63) await new Promise(setImmediate);
    const input = inputs[i]!;
    const csr = csrs[i]!;
    if (csr instanceof Error) {
      results[i] = csr;
      continue;
    }
    try {
      const p = prepare(deps, input, csr, now, lintFailures);
      pending.push(p);
      indexOf.set(p, i);
    } catch (e) {
      results[i] = toError(e);
    }
  }
  const refuse: Refuse = (p, error) => {
    results[indexOf.get(p)!] = error;
    pending.splice(pending.indexOf(p), 1);
  };
  const bindings = keyBindings(pending, refuse);
  const { withIntents } = options;
  if (withIntents && bindings.length) refuseKeys(pending, await deps.store.bindKeys(bindings, now.getTime()), refuse);
  if (!pending.length) {
    if (lintFailures.length) await deps.audit.recordMany(lintFailures);
    return results;
  }
  if (withIntents) await recordIntentsWith(deps, pending, lintFailures, withIntents);
  else {
    await recordIntentsBindingKeys(deps, pending, lintFailures, bindings, now, refuse);
    if (!pending.length) return results;
  }

  const byIssuer = groupBy(pending, (p) => p.issuer);
  const signed: { p: Pending; der: Uint8Array }[] = [];
  await Promise.all(
    [...byIssuer].map(async ([issuer, group]) => {
      const ders = await signFor(deps, issuer, group);
      group.forEach((p, i) => {
        const der = ders[i]!;
        if (der instanceof Error) results[indexOf.get(p)!] = der;
        else signed.push({ p, der });
      });
    }),
  );
  if (!signed.length) return results;
  for (const { p, der } of signed) {
    results[indexOf.get(p)!] = {
      serial: p.serial,
      der,
      certificate: toPem(der, 'CERTIFICATE'),
      chain: chainOf(p.issuer),
      issuer: p.issuer.name,
      profile: p.profile.name,
      identity: p.identity,
      subject: p.subjectText,
      notBefore: p.draft.notBefore,
      notAfter: p.draft.notAfter,
    };
  }
  const certificates = signed.map(({ p, der }) => ({ serial: p.serial, der }));
  const issuedAt = deps.clock.now().getTime();
  const { alongside } = options;
  const own = signed.flatMap(({ p }) => {
    const index = indexOf.get(p)!;
    const record = inputs[index]!.recordWith;
    return record ? [{ record, issued: results[index] as IssuedCertificate }] : [];
  });
  if (alongside || own.length) {
    await deps.store.transaction((tx) =>
      together(tx, [
        () => deps.store.recordIssued(certificates, issuedAt, tx),
        ...(alongside ? [() => alongside(tx, results)] : []),
        ...own.map(({ record, issued }) => () => record(tx, issued)),
      ]),
    );
  } else await deps.store.recordIssued(certificates, issuedAt);
  for (const { p } of signed) metrics.certificatesIssued.inc({ profile: p.profile.name, outcome: 'issued' });
  return results;
}

/** Concurrent single issuances (EST, REST) made in one turn of the event loop are issued as one batch. */
const batchers = new WeakMap<IssueDeps, Batcher<IssueInput, IssuedCertificate>>();

/** One CSR → one certificate, through the batch path (nothing is relaxed for being alone). */
export function issueCertificate(deps: IssueDeps, input: IssueInput): Promise<IssuedCertificate> {
  let batcher = batchers.get(deps);
  if (!batcher) batchers.set(deps, (batcher = createBatcher((inputs: IssueInput[]) => issueBatch(deps, inputs), { maxBatch: 1000, concurrency: 1 })));
  return batcher.submit(input);
}
