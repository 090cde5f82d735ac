import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLReason, id_ce_cRLReasons } from '@peculiar/asn1-x509';
import type { AuditLog } from '../../audit/log.js';
import type { DenialAudit } from '../../audit/denials.js';
import type { AuthFailureGuard } from '../../alerts/auth-failures.js';
import type { Clock } from '../../base/clock.js';
import { HallmarkError } from '../../base/errors.js';
import { enrollDevice } from '../../ca/enrollment.js';
import { renewCertificate, requireCsrIdentity } from '../../ca/enroll.js';
import type { IssueDeps, IssuedCertificate } from '../../ca/issue.js';
import { normalizeSerial } from '../../x509/serial.js';
import { REASON_CODES, REASON_NAMES, type ReasonName } from '../../x509/revocation-reasons.js';
import { revokeCertificate, revokeUnlessRevoked, type RevokeDeps } from '../../ca/revoke.js';
import type { CaConfig, EstConfig } from '../../config/ca-config.js';
import type { SecretSealer } from '../../keys/key-store.js';
import type { LoadedSigner } from '../../signing/signers.js';
import { findCmpTransaction, startCmpTransaction, unconfirmedCmpTransactions, updateCmpTransaction, type CmpTransactionRow } from '../../store/cmp.js';
import { findCertificate } from '../../store/certificates.js';
import type { Store } from '../../store/handle.js';
import { exactBuffer } from '../../x509/bytes.js';
import { CertConfirmContent, CertifiedKeyPair, CertOrEncCert, CertRepMessage, CertResponse, CertResponses, CmpCertificates, PKIBody, PKIFreeText, PKIMessage, PKIStatusInfo, PKIStatusInfos, PollRep, PollRepContent, RevRepContent, type RevReqContent } from './asn1.js';
import { enrollmentDecision, type EnrollmentRequestRow } from '../../ca/enrollment-approval.js';
import { findEnrollmentRequest } from '../../store/enrollments.js';
import { publicKeyId } from '../../x509/key-id.js';
import type { VerifiedCsr } from '../../x509/csr.js';
import { manufacturerAuthenticated, signatureAuthenticated } from './signature-auth.js';
import { CmpFailure, type FailureName } from './failure.js';
import { genpFor } from './general.js';
import { isMac, macAuthenticated, macOfTransaction } from './mac-auth.js';
import { certificateRequest, pkcs10Request, rawMessage, type RawMessage } from './request.js';
import { errorBody, id_it_implicitConfirm, NULL_DN, protectedResponse, statusInfo, type AnswerTo } from './respond.js';

export interface CmpDeps {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  issue: IssueDeps;
  revocation: RevokeDeps;
  config: CaConfig['cmp'];
  sealer: SecretSealer;
  /** The CMP responder's signer (key on the token, certificate under cmp-responder). */
  responder: () => LoadedSigner | undefined;
  /** The root certificate a device enrolling with a secret is given (caPubs, RFC 9483 §4.1.1). */
  root: () => Uint8Array;
  /** The root CA's family name (its current generation is the root; genm rootCaKeyUpdate). */
  rootCa: string;
  /** When a certificate may update itself (kur): the same policy as EST re-enrollment. */
  renewal: EstConfig['renewal'];
  /** Manufacturer CAs whose device certificates (IDevID) may sign an ir (est.bootstrapCas). */
  bootstrapCas: Uint8Array[];
  /** Failed authentications are counted (blocks, alerts) and audited as every credential's are. */
  guard: AuthFailureGuard;
  denials: Pick<DenialAudit, 'record'>;
}

/** Refusals that are a failed authentication: counted against the credential named (and the address). */
const AUTH_FAILURES = new Set<FailureName>(['badMessageCheck', 'signerNotTrusted', 'certRevoked', 'notAuthorized', 'wrongIntegrity']);

const MAX_SKEW_MS = 10 * 60_000;
const hex = (b: ArrayBuffer | Uint8Array | undefined) => (b ? Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex') : '');

/**
 * One CMP request (RFC 9483 over RFC 6712 HTTP) → its response, DER. Every refusal is an `error`
 * message with the PKIFailureInfo bit and the reason, signature-protected like every answer; nothing is
 * written for a request that is refused before issuance.
 */
export async function answerCmp(deps: CmpDeps, label: string, der: Uint8Array, source?: string): Promise<Uint8Array> {
  const responder = deps.responder();
  if (!responder) throw new HallmarkError('cmp_unavailable', 'the CMP responder has no certificate yet (it is made at the first start of hallmark serve)', 503);
  const now = deps.clock.now();
  let to: AnswerTo = { pvno: 2, sender: NULL_DN() };
  let credential: string | undefined;
  try {
    const raw = rawMessage(der);
    let message: PKIMessage;
    try {
      message = AsnConvert.parse(der, PKIMessage);
    } catch (e) {
      throw new CmpFailure('badRequest', `a PKIMessage of a kind Hallmark does not serve, or malformed: ${(e as Error).message}`);
    }
    to = { pvno: message.header.pvno, sender: message.header.sender, transactionID: message.header.transactionID?.buffer, senderNonce: message.header.senderNonce?.buffer };
    credential = credentialOf(message);
    // A credential (or address) blocked after failures is refused before anything is checked (HTTP 429).
    const wait = deps.guard.blockedFor({ source: source ?? '', credential }, now);
    if (wait) throw new HallmarkError('blocked', `too many failed CMP requests for ${credential}; retry later, or ask an operator to lift the block (hallmark security blocks)`, 429, { retryAfter: wait });
    return await handle(deps, { label, raw, message, responder, now, source, to });
  } catch (e) {
    if (e instanceof HallmarkError && e.status === 429) throw e;
    const refusal = asFailure(e);
    // Only the credential checks' own refusals count as failed authentication (not a profile's refusal).
    if (e instanceof CmpFailure && AUTH_FAILURES.has(refusal.failure)) {
      deps.guard.recordFailure(credential ? { source: source ?? '', credential } : { source: source ?? '' }, now);
      await deps.denials.record({ actor: credential ?? 'cmp', action: 'auth.failure', target: label, outcome: 'failure', source, details: { failure: refusal.failure, reason: refusal.reason } });
    } else await deps.audit.record({ actor: credential ?? 'cmp', action: 'cmp.refuse', target: label, outcome: 'failure', source, details: { failure: refusal.failure, reason: refusal.reason, transaction: hex(to.transactionID) || undefined } });
    return (await protectedResponse(responder, to, errorBody(refusal.failure, refusal.reason), { now })).der;
  }
}

/** Who a message claims to be, for counting failures: the reference (MAC), or the signer's name. */
function credentialOf(message: PKIMessage): string {
  const kid = message.header.senderKID ? Buffer.from(message.header.senderKID.buffer) : undefined;
  if (isMac(message)) return `cmp:${(kid?.toString('utf8') ?? '').replace(/[^\x21-\x7e]/g, '?').slice(0, 100)}`;
  return `cmp:${message.header.sender.directoryName ? 'dn' : 'sender'}:${kid ? kid.toString('hex').slice(0, 64) : 'none'}`;
}

function asFailure(e: unknown): { failure: FailureName; reason: string } {
  if (e instanceof CmpFailure) return { failure: e.failure, reason: e.message };
  if (e instanceof HallmarkError) {
    const failure: FailureName = e.status === 503 ? 'systemUnavail' : e.status === 403 || e.status === 401 ? 'notAuthorized' : e.status === 409 ? 'badRequest' : e.status >= 500 ? 'systemFailure' : 'badCertTemplate';
    return { failure, reason: e.message };
  }
  return { failure: 'systemFailure', reason: 'the request could not be processed; the server log has the details' };
}

interface Exchange {
  label: string;
  raw: RawMessage;
  message: PKIMessage;
  responder: LoadedSigner;
  now: Date;
  source?: string;
  to: AnswerTo;
}

async function handle(deps: CmpDeps, x: Exchange): Promise<Uint8Array> {
  const { header, body } = x.message;
  if (header.pvno !== 2 && header.pvno !== 3) throw new CmpFailure('unsupportedVersion', `pvno ${header.pvno}: Hallmark speaks cmp2000 (2) and cmp2021 (3)`);
  const transactionId = hex(header.transactionID?.buffer);
  if (transactionId.length < 2 || transactionId.length > 128) throw new CmpFailure('badRequest', 'a transactionID of 1 to 64 bytes is required (RFC 9483 §3.1)');
  if (!header.senderNonce || header.senderNonce.buffer.byteLength < 16) throw new CmpFailure('badSenderNonce', 'a senderNonce of at least 128 bits is required (RFC 9483 §3.1)');
  if (header.messageTime && Math.abs(header.messageTime.getTime() - x.now.getTime()) > MAX_SKEW_MS) throw new CmpFailure('badTime', `messageTime ${header.messageTime.toISOString()} is more than 10 minutes from this server's time`);
  if (!header.protectionAlg || !x.message.protection) throw new CmpFailure('badMessageCheck', 'the message is not protected: Hallmark accepts MAC (a one-time secret) or signature protection only');
  const labelConfig = deps.config.labels[x.label];
  if (!labelConfig) throw new CmpFailure('badRequest', `no CMP label "${x.label}"`);
  const macDeps = { store: deps.store, sealer: deps.sealer, maxIterations: deps.config.maxIterations };

  if (body.ir || body.cr || body.p10cr) {
    const kind = body.ir ? 'ir' : body.cr ? 'cr' : 'p10cr';
    // A one-time secret (MAC), or for an ir a manufacturer's device certificate (IDevID), nothing to spend.
    const { device, token } = isMac(x.message) || kind !== 'ir' ? await macAuthenticated(macDeps, x.message, x.raw, x.now) : { ...(await idevid(deps, x, labelConfig)), token: undefined };
    if (token && (token.label ?? 'default') !== x.label) throw new CmpFailure('notAuthorized', `the secret of device "${device}" is for CMP label "${token.label ?? 'default'}", not "${x.label}"`);
    const request = await enrollmentRequest(x.raw, x.message);
    requireCsrIdentity(request.csr, device);
    await startTransaction(deps, x, transactionId, { sender: device, request_type: kind, protection: token ? 'mac' : 'manufacturer', secret_id: token?.id ?? null });
    // A label with manual approval holds the request (shared with EST's, hallmark enrollment approve): the client polls.
    let held: EnrollmentRequestRow | undefined;
    if (labelConfig.manualApproval) {
      held = await enrollmentDecision({ store: deps.store, audit: deps.audit }, { label: `cmp:${x.label}`.slice(0, 63), device, keyId: publicKeyId(request.csr.spkiDer), subject: request.csr.subject, actor: `cmp:${device}`, source: x.source, now: x.now });
      if (held.status === 'pending') return answerWaiting(deps, x, { ...request, transactionId, held });
      heldDecision(held);
    }
    const issued = await enrollDevice({ issue: deps.issue, store: deps.store }, { enroller: { device, secretId: token?.id }, csr: request.csr, profile: labelConfig.profile, actor: `cmp:${device}`, source: x.source, heldRequest: held?.id });
    return answerIssued(deps, x, { kind, certReqId: request.certReqId, issued, transactionId, labelConfig, from: 'done' });
  }

  if (body.pollReq) return poll(deps, x, transactionId, labelConfig, macDeps);

  if (body.kur) {
    // Key update (RFC 9483 §4.1.3): signed with the certificate it replaces; renewed as EST re-enrollment is.
    const current = await signatureAuthenticated(deps.store, x.message, x.raw, x.now);
    const holder = holderOf(current);
    const csr = certificateRequest(x.raw);
    await startTransaction(deps, x, transactionId, { sender: holder, request_type: 'kur', protection: 'signature', secret_id: null });
    const issued = await renewCertificate(deps.issue, { csr, current, policy: deps.renewal, actor: `cmp:${holder}`, source: x.source });
    return answerIssued(deps, x, { kind: 'kur', certReqId: body.kur[0]!.certReq.certReqId, issued, transactionId, labelConfig, from: 'done' });
  }

  if (body.rr) return revoke(deps, x, transactionId, body.rr);

  if (body.certConf) return confirm(deps, x, transactionId, body.certConf, macDeps);

  if (body.error) {
    // The client gives up (RFC 9810 §5.3.21): a certificate it was waiting to confirm is revoked.
    const transaction = await findCmpTransaction(deps.store, transactionId);
    if (transaction) await sameProtection(deps, x, transaction, macDeps);
    if (transaction?.state === 'waiting' && (await updateCmpTransaction(deps.store, transactionId, 'waiting', { state: 'rejected' }))) await revokeUnconfirmed(deps, transaction.serial!, 'the client ended the transaction with an error');
    return (await protectedResponse(x.responder, x.to, new PKIBody({ pkiconf: null }), { now: x.now })).der;
  }

  if (body.genm) {
    // A device with a secret (not spent by asking) or with its certificate.
    const mac = isMac(x.message);
    const device = mac ? (await macAuthenticated(macDeps, x.message, x.raw, x.now)).device : holderOf(await signatureAuthenticated(deps.store, x.message, x.raw, x.now));
    await startTransaction(deps, x, transactionId, { sender: device, request_type: 'genm', protection: mac ? 'mac' : 'signature', secret_id: null });
    const genp = await genpFor(body.genm, { issue: deps.issue, store: deps.store, root: deps.root(), rootCa: deps.rootCa, profile: labelConfig.profile, device, now: x.now });
    return (await protectedResponse(x.responder, x.to, new PKIBody({ genp }), { now: x.now })).der;
  }
  throw new CmpFailure('badRequest', 'Hallmark serves ir, cr, p10cr, kur, rr, certConf, pollReq, genm and error messages here');
}

async function idevid(deps: CmpDeps, x: Exchange, labelConfig: CaConfig['cmp']['labels'][string]): Promise<{ device: string }> {
  if (!labelConfig.bootstrap) throw new CmpFailure('notAuthorized', `CMP label "${x.label}" takes no manufacturer certificates (cmp.labels.${x.label}.bootstrap)`);
  return manufacturerAuthenticated(deps.bootstrapCas, x.message, x.raw, x.now);
}

const holderOf = (row: { identity: string | null; subject: string }) => row.identity ?? row.subject;

/** A transaction begins once per transactionID (RFC 9810 §5.1.1); a reused one is refused. */
async function startTransaction(deps: CmpDeps, x: Exchange, transactionId: string, row: Pick<CmpTransactionRow, 'sender' | 'request_type' | 'protection' | 'secret_id'>): Promise<void> {
  const started = await startCmpTransaction(deps.store, { ...row, transaction_id: transactionId, label: x.label, client_nonce: hex(x.message.header.senderNonce!.buffer), server_nonce: null, state: 'done', serial: null, cert_hash: null, created_at: x.now.getTime(), confirm_by: null });
  if (!started) throw new CmpFailure('transactionIdInUse', `transactionID ${transactionId} was used before: a new transaction takes a new one`);
}

/** A message that continues a transaction answers its last answer: recipNonce is that answer's senderNonce (RFC 9810 §5.1.1). */
function answersLast(x: Exchange, transaction: CmpTransactionRow): void {
  if (hex(x.message.header.recipNonce?.buffer) !== transaction.server_nonce) throw new CmpFailure('badRecipientNonce', 'recipNonce is not the senderNonce of this transaction\'s last answer');
}

/** A message that continues a transaction is protected as its first was: the same secret, or a certificate of the same holder. */
async function sameProtection(deps: CmpDeps, x: Exchange, transaction: CmpTransactionRow, macDeps: Parameters<typeof macOfTransaction>[0]): Promise<void> {
  if (transaction.protection === 'mac') {
    if (transaction.secret_id) await macOfTransaction(macDeps, x.message, x.raw, transaction.secret_id);
    return;
  }
  if (transaction.protection === 'manufacturer') {
    if ((await manufacturerAuthenticated(deps.bootstrapCas, x.message, x.raw, x.now)).device !== transaction.sender) throw new CmpFailure('notAuthorized', 'this transaction belongs to another device');
    return;
  }
  const row = await signatureAuthenticated(deps.store, x.message, x.raw, x.now);
  if (holderOf(row) !== transaction.sender) throw new CmpFailure('notAuthorized', 'this transaction belongs to another certificate holder');
}

/**
 * The answer to an issuance (ip, cp or kup): the certificate, the root for an ir (the device has no
 * trust anchor yet), implicit confirmation when asked and allowed; the transaction then waits for its
 * certConf (or is confirmed already), with the hash the certConf must carry.
 */
async function answerIssued(deps: CmpDeps, x: Exchange, issue: { kind: 'ir' | 'cr' | 'p10cr' | 'kur'; certReqId: number; issued: IssuedCertificate; transactionId: string; labelConfig: CaConfig['cmp']['labels'][string]; from: 'done' | 'polling' }): Promise<Uint8Array> {
  const { kind, issued, labelConfig } = issue;
  const implicit = labelConfig.implicitConfirm && Boolean(x.message.header.generalInfo?.some((i) => i.infoType === id_it_implicitConfirm));
  const response = new CertResponse({ certReqId: issue.certReqId, status: statusInfo(undefined) });
  response.certifiedKeyPair = new CertifiedKeyPair();
  response.certifiedKeyPair.certOrEncCert = new CertOrEncCert({ certificate: exactBuffer(issued.der) });
  const body = certRep(kind, response, kind === 'ir' ? deps.root() : undefined);
  const confirmBy = implicit ? undefined : new Date(Math.floor(x.now.getTime() / 1000) * 1000 + labelConfig.confirmWaitSeconds * 1000);
  const answer = await protectedResponse(x.responder, x.to, body, { implicitConfirm: implicit, confirmWaitTime: confirmBy, now: x.now });
  await updateCmpTransaction(deps.store, issue.transactionId, issue.from, {
    state: implicit ? 'confirmed' : 'waiting',
    serial: issued.serial,
    // RFC 9810 §5.3.18: certHash is computed with the hash of the certificate's signature algorithm
    // (SHA-384 for an ec-p384 issuing CA), unless the certConf names another in hashAlg.
    cert_hash: createHash(deps.issue.issuers.exact(issued.issuer).signer.algorithm.hash).update(issued.der).digest('hex'),
    server_nonce: hex(answer.senderNonce),
    confirm_by: confirmBy?.getTime() ?? null,
  });
  return answer.der;
}

/** ip, cp or kup (as the request was ir, cr/p10cr or kur) with its one CertResponse, and caPubs when given. */
function certRep(kind: 'ir' | 'cr' | 'p10cr' | 'kur', response: CertResponse, caPub?: Uint8Array): PKIBody {
  const rep = new CertRepMessage();
  rep.response = new CertResponses([response]);
  if (caPub) rep.caPubs = new CmpCertificates([exactBuffer(caPub)]);
  return new PKIBody(kind === 'ir' ? { ip: rep } : kind === 'kur' ? { kup: rep } : { cp: rep });
}

/** The certificate request of an ir, cr or p10cr (p10cr's certReqId: -1 from cmp2021 on, RFC 9483 §4.1.4). */
async function enrollmentRequest(raw: RawMessage, message: PKIMessage): Promise<{ kind: 'ir' | 'cr' | 'p10cr'; certReqId: number; csr: VerifiedCsr }> {
  const kind = message.body.ir ? 'ir' : message.body.cr ? 'cr' : 'p10cr';
  if (kind === 'p10cr') return { kind, certReqId: message.header.pvno === 3 ? -1 : 0, csr: await pkcs10Request(raw) };
  return { kind, certReqId: (message.body.ir ?? message.body.cr)![0]!.certReq.certReqId, csr: certificateRequest(raw) };
}

/** A held request's decision, other than pending: rejected, or issued already. */
function heldDecision(held: EnrollmentRequestRow): void {
  if (held.status === 'rejected') throw new CmpFailure('notAuthorized', `enrollment request ${held.id} was rejected by ${held.decided_by}${held.reason ? `: ${held.reason}` : ''}`);
  if (held.status === 'issued') throw new CmpFailure('duplicateCertReq', `enrollment request ${held.id} was issued already (${held.certificate_serial})`);
}

/**
 * A request held for approval (RFC 9483 §4.4): ip/cp with status waiting and no certificate; the
 * request as sent is kept with the transaction, to be issued when an operator approves and the client
 * polls.
 */
async function answerWaiting(deps: CmpDeps, x: Exchange, wait: { kind: 'ir' | 'cr' | 'p10cr'; certReqId: number; transactionId: string; held: EnrollmentRequestRow }): Promise<Uint8Array> {
  const waiting = new CertResponse({ certReqId: wait.certReqId, status: new PKIStatusInfo({ status: 3, statusString: new PKIFreeText([`held for an operator's approval (enrollment request ${wait.held.id}); poll`]) }) });
  const answer = await protectedResponse(x.responder, x.to, certRep(wait.kind, waiting), { now: x.now });
  await updateCmpTransaction(deps.store, wait.transactionId, 'done', { state: 'polling', request: Buffer.from(x.raw.der), held_request: wait.held.id, server_nonce: hex(answer.senderNonce) });
  return answer.der;
}

/**
 * pollReq (RFC 9483 §4.4): while the held request is pending, pollRep with checkAfter; once approved,
 * the request kept is issued and answered as its ip/cp; rejected, an error.
 */
async function poll(deps: CmpDeps, x: Exchange, transactionId: string, labelConfig: CaConfig['cmp']['labels'][string], macDeps: Parameters<typeof macOfTransaction>[0]): Promise<Uint8Array> {
  const transaction = await findCmpTransaction(deps.store, transactionId);
  if (!transaction) throw new CmpFailure('badRequest', `no transaction ${transactionId} to poll`);
  await sameProtection(deps, x, transaction, macDeps);
  if (transaction.state !== 'polling' || !transaction.request || !transaction.held_request) throw new CmpFailure('badRequest', `transaction ${transactionId} waits for nothing`);
  answersLast(x, transaction);
  const raw = rawMessage(new Uint8Array(transaction.request));
  const request = await enrollmentRequest(raw, AsnConvert.parse(raw.der, PKIMessage));
  if (x.message.body.pollReq!.length !== 1 || x.message.body.pollReq![0]!.certReqId !== request.certReqId) throw new CmpFailure('badRequest', `poll for certReqId ${request.certReqId}, the one of this transaction`);
  const held = await findEnrollmentRequest(deps.store, { id: transaction.held_request });
  if (!held) throw new CmpFailure('systemFailure', `the held enrollment request ${transaction.held_request} is gone`);
  if (held.status === 'pending') {
    const pollRep = new PollRepContent([Object.assign(new PollRep(), { certReqId: request.certReqId, checkAfter: labelConfig.retryAfterSeconds, reason: new PKIFreeText([`enrollment request ${held.id} waits for an operator's approval`]) })]);
    const answer = await protectedResponse(x.responder, x.to, new PKIBody({ pollRep }), { now: x.now });
    await updateCmpTransaction(deps.store, transactionId, 'polling', { server_nonce: hex(answer.senderNonce) });
    return answer.der;
  }
  if (held.status !== 'approved') {
    await updateCmpTransaction(deps.store, transactionId, 'polling', { state: 'rejected' });
    heldDecision(held);
  }
  const issued = await enrollDevice({ issue: deps.issue, store: deps.store }, { enroller: { device: transaction.sender, secretId: transaction.secret_id ?? undefined }, csr: request.csr, profile: labelConfig.profile, actor: `cmp:${transaction.sender}`, source: x.source, heldRequest: held.id });
  return answerIssued(deps, x, { kind: request.kind, certReqId: request.certReqId, issued, transactionId, labelConfig, from: 'polling' });
}

/**
 * Revocation by the holder (RFC 9483 §4.2): signed with the certificate it revokes, which the template
 * names by serial number. Reasons a holder may give: any but certificateHold (holding is an operator's
 * call) and removeFromCRL.
 */
async function revoke(deps: CmpDeps, x: Exchange, transactionId: string, content: RevReqContent): Promise<Uint8Array> {
  const row = await signatureAuthenticated(deps.store, x.message, x.raw, x.now);
  const holder = holderOf(row);
  const details = content[0];
  if (content.length !== 1 || !details) throw new CmpFailure('badRequest', 'one revocation request per message (RFC 9483 §4.2)');
  const serial = details.certDetails.serialNumber ? normalizeSerial(Buffer.from(details.certDetails.serialNumber).toString('hex')) : undefined;
  if (serial !== row.serial) throw new CmpFailure('notAuthorized', 'a holder revokes the certificate it signs with, named by its serial number in the template');
  let reason: ReasonName = 'unspecified';
  const reasonExtension = details.crlEntryDetails?.find((e) => e.extnID === id_ce_cRLReasons);
  if (reasonExtension) {
    let code: number | undefined;
    try {
      code = AsnConvert.parse(reasonExtension.extnValue, CRLReason).reason;
    } catch {
      code = undefined;
    }
    const named = REASON_NAMES.find((n) => REASON_CODES[n] === code);
    if (!named || named === 'certificateHold') throw new CmpFailure('badRequest', `revocation reason ${code ?? '?'}: a holder gives one of RFC 5280's reasons but certificateHold`);
    reason = named;
  }
  await startTransaction(deps, x, transactionId, { sender: holder, request_type: 'rr', protection: 'signature', secret_id: null });
  await revokeCertificate(deps.revocation, { serial: row.serial, reason, actor: `cmp:${holder}`, source: x.source });
  const rp = new RevRepContent();
  rp.status = new PKIStatusInfos([statusInfo(undefined)]);
  return (await protectedResponse(x.responder, x.to, new PKIBody({ rp }), { now: x.now })).der;
}

/** certConf → pkiConf: the certificate of a waiting transaction is confirmed (or, rejected by its holder, revoked). */
async function confirm(deps: CmpDeps, x: Exchange, transactionId: string, content: CertConfirmContent, macDeps: Parameters<typeof macOfTransaction>[0]): Promise<Uint8Array> {
  const transaction = await findCmpTransaction(deps.store, transactionId);
  if (!transaction) throw new CmpFailure('badRequest', `no transaction ${transactionId} to confirm`);
  await sameProtection(deps, x, transaction, macDeps);
  if (transaction.state !== 'waiting') throw new CmpFailure('certConfirmed', `transaction ${transactionId} is ${transaction.state}: nothing waits for confirmation`);
  answersLast(x, transaction);
  const status = content[0];
  if (content.length !== 1 || !status) throw new CmpFailure('badRequest', 'certConf confirms the one certificate of the transaction');
  if (hex(status.certHash.buffer) !== (await expectedCertHash(deps, transaction, status.hashAlg?.algorithm))) throw new CmpFailure('badCertId', 'certHash is not the hash of the certificate this transaction issued');
  const accepted = !status.statusInfo || status.statusInfo.status === 0 || status.statusInfo.status === 1;
  if (!(await updateCmpTransaction(deps.store, transactionId, 'waiting', { state: accepted ? 'confirmed' : 'rejected', client_nonce: hex(x.message.header.senderNonce!.buffer) }))) {
    throw new CmpFailure('certConfirmed', `transaction ${transactionId} was confirmed meanwhile`);
  }
  if (!accepted) await revokeUnconfirmed(deps, transaction.serial!, 'its holder rejected it (certConf)');
  await deps.audit.record({ actor: `cmp:${transaction.sender}`, action: accepted ? 'cmp.confirm' : 'cmp.reject', target: transaction.serial!, outcome: 'success', source: x.source, details: { transaction: transactionId } });
  return (await protectedResponse(x.responder, x.to, new PKIBody({ pkiconf: null }), { now: x.now })).der;
}

/** The certHash a certConf must carry: the one recorded at issuance, or with the hash its hashAlg names (CMP v3, RFC 9810 §5.3.18). */
async function expectedCertHash(deps: CmpDeps, transaction: CmpTransactionRow, hashAlg?: string): Promise<string | null> {
  if (!hashAlg) return transaction.cert_hash;
  const hash = CERT_HASHES[hashAlg];
  if (!hash) throw new CmpFailure('badAlg', `certConf hashAlg ${hashAlg}: SHA-256, SHA-384 or SHA-512`);
  const row = await findCertificate(deps.store, transaction.serial!);
  return row?.der ? createHash(hash).update(row.der).digest('hex') : null;
}
const CERT_HASHES: Record<string, string> = { '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };

const revokeUnconfirmed = (deps: Pick<CmpDeps, 'revocation'>, serial: string, why: string) => revokeUnlessRevoked(deps.revocation, { serial, reason: 'cessationOfOperation', actor: `system:cmp (${why})` });

/**
 * Certificates whose transactions waited past their confirmation time are revoked (RFC 9810 §5.3.18:
 * an unconfirmed certificate is not to be used). Run by every instance's periodic check.
 */
export async function revokeUnconfirmedCertificates(deps: Pick<CmpDeps, 'store' | 'clock' | 'revocation'>): Promise<string[]> {
  const revoked: string[] = [];
  for (const transaction of await unconfirmedCmpTransactions(deps.store, deps.clock.now().getTime())) {
    if (!(await updateCmpTransaction(deps.store, transaction.transaction_id, 'waiting', { state: 'rejected' }))) continue;
    await revokeUnconfirmed(deps, transaction.serial!, 'not confirmed in time');
    revoked.push(transaction.serial!);
  }
  return revoked;
}
