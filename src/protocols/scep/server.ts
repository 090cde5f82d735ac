import { AsnConvert } from '@peculiar/asn1-schema';
import { IssuerAndSerialNumber } from '@peculiar/asn1-cms';
import { Certificate } from '@peculiar/asn1-x509';
import { serialToHex } from '../../x509/serial.js';
import type { AuditLog } from '../../audit/log.js';
import type { Clock } from '../../base/clock.js';
import { HallmarkError, isHallmarkError } from '../../base/errors.js';
import type { EstConfig } from '../../config/ca-config.js';
import type { KeyStore } from '../../keys/key-store.js';
import { parseKeyUri } from '../../keys/key-uri.js';
import type { LoadedSigner } from '../../signing/signers.js';
import type { Store } from '../../store/handle.js';
import { findScepTransaction, startScepTransaction, updateScepTransaction, type ScepTransactionRow } from '../../store/scep.js';
import { findCertificate } from '../../store/certificates.js';
import { verifyCsr, type VerifiedCsr } from '../../x509/csr.js';
import { certsOnly, crlsOnly } from '../../x509/pkcs7.js';
import { publicKeyId } from '../../x509/key-id.js';
import { checkSecretAttempt, type AttemptDeps } from '../est/authorize.js';
import type { EnrollmentPorts } from '../est/ports.js';
import { MESSAGE_TYPE } from './attributes.js';
import { certRep, type Outcome } from './cert-rep.js';
import { openEnvelope } from './envelope.js';
import { ScepFailure } from './failure.js';
import { certificateSpki, readPkiMessage, type PkiMessage } from './pki-message.js';

export interface ScepDeps extends AttemptDeps {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  keys: KeyStore;
  ports: EnrollmentPorts;
  /** SCEP labels are EST's (`est.labels`): the same profile, secrets and manual approval. */
  labels: EstConfig['labels'];
  /** The RA: its RSA key on the token signs CertReps and decrypts requests; its certificate first in `chain`. */
  ra: () => LoadedSigner | undefined;
  /** The newest complete CRL of a CA generation (GetCRL). */
  crl: (ca: string) => Uint8Array | undefined;
  /** The CA generation that issued a certificate, by the certificate's issuer name DER (GetCRL). */
  issuerOf: (issuerNameDer: Uint8Array) => string | undefined;
}


/**
 * One PKIOperation (RFC 8894 §3.3): the message is read and its signature checked, the envelope opened
 * with the RA key, and the operation carried out through the one issuance path. Every answer is a
 * CertRep signed by the RA: SUCCESS, PENDING, or FAILURE with its failInfo. What is not a pkiMessage
 * at all is a 400 (HallmarkError) and writes nothing.
 */
export async function answerPkiOperation(deps: ScepDeps, label: string, der: Uint8Array, source: string): Promise<Uint8Array> {
  const ra = deps.ra();
  if (!ra) throw new HallmarkError('scep_unavailable', 'the SCEP RA has no key yet; retry in a moment', 503);
  const now = deps.clock.now();
  const message = readPkiMessage(der, now);
  let cipherOid: string | undefined;
  const answer = (outcome: Outcome) => certRep(ra, { ...message, cipherOid }, outcome, now);
  const refuse = async (failure: ScepFailure) => {
    await deps.audit.record({ actor: `scep:${label}`, action: 'scep.refuse', target: message.transactionId.slice(0, 128), outcome: 'failure', source, details: { messageType: message.messageType, failInfo: failure.failInfo, reason: failure.message } });
    return answer({ status: 'FAILURE', failInfo: failure.failInfo });
  };
  try {
    if (message.failure) throw message.failure;
    const opened = await openEnvelope(message.envelope, { certificate: ra.chain[0]!, decrypt: (data, scheme) => deps.keys.decrypt(parseKeyUri(ra.row.key_uri), data, scheme) });
    cipherOid = opened.cipherOid;
    const x = { deps, label, message, content: opened.content, source, now };
    switch (message.messageType) {
      case MESSAGE_TYPE.PKCSReq:
      case MESSAGE_TYPE.RenewalReq:
        return answer(await enroll(x));
      case MESSAGE_TYPE.CertPoll:
        return answer(await poll(x));
      case MESSAGE_TYPE.GetCert:
        return answer(await getCert(x));
      case MESSAGE_TYPE.GetCRL:
        return answer(await getCrl(x));
      default:
        throw new ScepFailure('badRequest', `messageType ${message.messageType} is not a request this server takes (PKCSReq, RenewalReq, CertPoll, GetCert, GetCRL)`);
    }
  } catch (e) {
    if (e instanceof ScepFailure) return refuse(e);
    // A refusal of policy or authentication (HallmarkError 4xx) is the request's failure; storage and token faults stay HTTP errors.
    if (isHallmarkError(e) && e.status < 500) return refuse(new ScepFailure(e.code === 'csr_invalid' ? 'badMessageCheck' : 'badRequest', e.message));
    throw e;
  }
}

interface Exchange {
  deps: ScepDeps;
  label: string;
  message: PkiMessage;
  content: Uint8Array;
  source: string;
  now: Date;
}

const issuedAnswer = (der: Uint8Array): Outcome => ({ status: 'SUCCESS', content: certsOnly([der]) });

/** PKCSReq (a one-time secret as the challengePassword) or RenewalReq (signed with the certificate renewed), §3.3.1. */
async function enroll(x: Exchange): Promise<Outcome> {
  const { deps, message } = x;
  const settings = deps.labels[x.label];
  if (!settings) throw new ScepFailure('badRequest', `no enrollment label "${x.label}"`);
  let csr: VerifiedCsr;
  try {
    csr = await verifyCsr(x.content);
  } catch (e) {
    throw new ScepFailure('badMessageCheck', `the enveloped PKCS#10 request: ${(e as Error).message}`);
  }
  // A RenewalReq, or a PKCSReq signed with a certificate this CA issued rather than a self-signed one
  // (re-enrollment as SCEP clients before RFC 8894 send it, certmonger among them), renews that certificate.
  const current = await ourCertificate(deps, message.signerCertificate);
  const renewal = message.messageType === MESSAGE_TYPE.RenewalReq || Boolean(current);
  const row: ScepTransactionRow = { transaction_id: message.transactionId, label: x.label, device: csr.commonName ?? null, message_type: message.messageType, state: 'working', serial: null, secret_id: null, held_request: null, request: null, created_at: x.now.getTime() };
  if (!(await startScepTransaction(deps.store, row))) {
    // The same request (the same key) again while it waits for an operator is a poll (clients resend it, §3.3.3);
    // anything else under a used transactionID is a replay.
    const existing = await findScepTransaction(deps.store, message.transactionId);
    if (existing?.state === 'pending' && existing.label === x.label && existing.request && publicKeyId((await verifyCsr(new Uint8Array(existing.request))).spkiDer) === publicKeyId(csr.spkiDer)) return poll(x);
    throw new ScepFailure('badRequest', `transactionID ${message.transactionId} was used before (RFC 8894 §3.2.1.1): a new request takes a new one; CertPoll asks after a pending one`);
  }
  try {
    const outcome = renewal ? await renew(x, csr, current) : await firstEnrollment(x, csr, settings);
    return outcome;
  } catch (e) {
    await updateScepTransaction(deps.store, message.transactionId, 'working', { state: 'failed' });
    throw e;
  }
}

async function firstEnrollment(x: Exchange, csr: VerifiedCsr, settings: EstConfig['labels'][string]): Promise<Outcome> {
  const { deps, message } = x;
  // §3.2.2: a PKCSReq is signed with a self-signed certificate of the very key it asks to certify.
  if (Buffer.compare(Buffer.from(certificateSpki(message.signerCertificate)), Buffer.from(csr.spkiDer)) !== 0) throw new ScepFailure('badMessageCheck', 'the request is not signed with the key it asks to certify');
  if (!settings.enroll.includes('token')) throw new ScepFailure('badRequest', `label "${x.label}" does not enroll with one-time secrets`);
  const device = csr.commonName;
  if (!device) throw new ScepFailure('badRequest', 'the request\'s subject names no device (CN)');
  if (!csr.challengePassword) throw new ScepFailure('badRequest', 'the request carries no challengePassword (the one-time secret from hallmark token create)');
  const token = await checkSecretAttempt(deps, { device, secret: csr.challengePassword, label: x.label, source: x.source, now: x.now, target: `SCEP ${x.label}` });
  const actor = `scep:token:${token.id}`;
  let held: string | undefined;
  if (settings.manualApproval) {
    const decision = await deps.ports.hold({ label: x.label, device, keyId: publicKeyId(csr.spkiDer), subject: csr.subject, actor, source: x.source, now: x.now });
    held = decision.id;
    if (decision.status === 'pending') {
      await updateScepTransaction(deps.store, message.transactionId, 'working', { state: 'pending', secret_id: token.id, held_request: decision.id, request: Buffer.from(x.content), device });
      return { status: 'PENDING' };
    }
    if (decision.status !== 'approved') throw new ScepFailure('badRequest', `enrollment request ${decision.id} is ${decision.status}`);
  }
  const issued = await deps.ports.enroll({ enroller: { device, secretId: token.id }, csr, profile: settings.profile, actor, source: x.source, heldRequest: held });
  await updateScepTransaction(deps.store, message.transactionId, 'working', { state: 'issued', serial: issued.serial });
  return issuedAnswer(issued.der);
}

/** The certificate a message is signed with, when it is one this CA issued (compared byte for byte). */
async function ourCertificate(deps: ScepDeps, der: Uint8Array) {
  // Serials are kept as the hex of the INTEGER's content bytes (x509/serial.ts), leading zeros and all.
  const row = await deps.ports.certificate(serialToHex(new Uint8Array(AsnConvert.parse(der, Certificate).tbsCertificate.serialNumber)));
  return row?.der && Buffer.compare(Buffer.from(row.der), Buffer.from(der)) === 0 ? row : undefined;
}

/** RenewalReq (§3.3.1.2): signed with a current certificate of ours; its subject kept, a new key allowed. */
async function renew(x: Exchange, csr: VerifiedCsr, current: Awaited<ReturnType<typeof ourCertificate>>): Promise<Outcome> {
  const { deps, message } = x;
  if (!current) throw new ScepFailure('badRequest', 'a RenewalReq is signed with a certificate this CA issued (the one renewed)');
  const issued = await deps.ports.renew({ csr, current, actor: `scep:certificate:${current.serial}`, source: x.source, namesFromProfile: true });
  await updateScepTransaction(deps.store, message.transactionId, 'working', { state: 'issued', serial: issued.serial, device: current.identity ?? null });
  return issuedAnswer(issued.der);
}

/** CertPoll (§3.3.3): after a PENDING, the client asks by transactionID; issued once an operator approved. */
async function poll(x: Exchange): Promise<Outcome> {
  const { deps, message } = x;
  const transaction = await findScepTransaction(deps.store, message.transactionId);
  if (!transaction || transaction.label !== x.label) throw new ScepFailure('badCertId', `no transaction ${message.transactionId} to poll`);
  if (transaction.state === 'issued') {
    const row = await findCertificate(deps.store, transaction.serial!);
    return issuedAnswer(new Uint8Array(row!.der!));
  }
  if (transaction.state !== 'pending') throw new ScepFailure('badRequest', `transaction ${message.transactionId} is ${transaction.state}`);
  const csr = await verifyCsr(new Uint8Array(transaction.request!));
  if (Buffer.compare(Buffer.from(certificateSpki(message.signerCertificate)), Buffer.from(csr.spkiDer)) !== 0) throw new ScepFailure('badMessageCheck', 'the CertPoll is not signed with the key of the pending request');
  const settings = deps.labels[x.label]!;
  const device = transaction.device!;
  const decision = await deps.ports.hold({ label: x.label, device, keyId: publicKeyId(csr.spkiDer), subject: csr.subject, actor: `scep:token:${transaction.secret_id}`, source: x.source, now: x.now });
  if (decision.status === 'pending') return { status: 'PENDING' };
  if (decision.status !== 'approved') {
    await updateScepTransaction(deps.store, message.transactionId, 'pending', { state: 'rejected' });
    throw new ScepFailure('badRequest', `enrollment request ${decision.id} was ${decision.status}${decision.reason ? `: ${decision.reason}` : ''}`);
  }
  if (!(await updateScepTransaction(deps.store, message.transactionId, 'pending', { state: 'working' }))) return { status: 'PENDING' };
  try {
    const issued = await deps.ports.enroll({ enroller: { device, secretId: transaction.secret_id ?? undefined }, csr, profile: settings.profile, actor: `scep:token:${transaction.secret_id}`, source: x.source, heldRequest: decision.id });
    await updateScepTransaction(deps.store, message.transactionId, 'working', { state: 'issued', serial: issued.serial });
    return issuedAnswer(issued.der);
  } catch (e) {
    await updateScepTransaction(deps.store, message.transactionId, 'working', { state: 'failed' });
    throw e;
  }
}

const issuerAndSerial = (content: Uint8Array) => {
  try {
    return AsnConvert.parse(content, IssuerAndSerialNumber);
  } catch {
    throw new ScepFailure('badMessageCheck', 'the envelope does not hold an IssuerAndSerialNumber');
  }
};

/** GetCert (§3.3.4): a certificate by issuer and serial. */
async function getCert(x: Exchange): Promise<Outcome> {
  const wanted = issuerAndSerial(x.content);
  const row = await findCertificate(x.deps.store, serialToHex(new Uint8Array(wanted.serialNumber)));
  if (!row?.der) throw new ScepFailure('badCertId', 'no certificate with that serial');
  return issuedAnswer(new Uint8Array(row.der));
}

/** GetCRL (§3.3.4): the CRL of the CA that issued the certificate named. */
async function getCrl(x: Exchange): Promise<Outcome> {
  const wanted = issuerAndSerial(x.content);
  const ca = x.deps.issuerOf(new Uint8Array(AsnConvert.serialize(wanted.issuer)));
  const crl = ca ? x.deps.crl(ca) : undefined;
  if (!crl) throw new ScepFailure('badCertId', 'no CRL for that issuer');
  return { status: 'SUCCESS', content: crlsOnly([crl]) };
}
