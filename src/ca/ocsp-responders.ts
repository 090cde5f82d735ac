import { randomBytes } from 'node:crypto';
import type { KeyStore, Signer } from '../keys/key-store.js';
import { formatKeyUri, parseKeyUri } from '../keys/key-uri.js';
import type { Store } from '../store/handle.js';
import { requestForOwnKey } from '../x509/csr.js';
import { subjectPublicKeyBits } from '../x509/certificate-fields.js';
import { responderKeyHash } from '../x509/ocsp.js';
import { issueBatch, type IssueDeps, type IssuedCertificate } from './issue.js';
import { insertResponder, newestResponder, type ResponderRow } from '../store/responders.js';
import type { StoreTx } from '../store/handle.js';
import { serviceKeyType } from '../keys/service-keys.js';
import { inLastThirdOfLife } from './renewal-due.js';

/** A delegated OCSP responder of one CA: its certificate and its key on the token. */
export interface Responder {
  ca: string;
  serial: string;
  certificate: Uint8Array;
  signer: Signer;
  keyHash: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

export interface ResponderDeps {
  store: Store;
  keys: KeyStore;
  issue: IssueDeps;
  tokenLabel: string;
}


const dueForRenewal = (row: ResponderRow, now: number) => inLastThirdOfLife(Number(row.not_before), Number(row.not_after), now);

async function load(deps: ResponderDeps, row: ResponderRow): Promise<Responder> {
  const certificate = new Uint8Array(row.certificate);
  return {
    ca: row.ca,
    serial: row.serial,
    certificate,
    signer: await deps.keys.getSigner(parseKeyUri(row.key_uri)),
    keyHash: responderKeyHash(subjectPublicKeyBits(certificate)),
    notBefore: new Date(Number(row.not_before)),
    notAfter: new Date(Number(row.not_after)),
  };
}

/**
 * A responder key is generated on the token like a CA key and certified by its CA under the
 * `ocsp-signer` profile (id-kp-OCSPSigning, id-pkix-ocsp-nocheck).
 */
async function createResponder(deps: ResponderDeps, ca: string): Promise<ResponderRow> {
  const uri = { token: deps.tokenLabel, object: `hallmark-ocsp-${ca}-${randomBytes(4).toString('hex')}` };
  const signer = await deps.keys.createKey(uri, await serviceKeyType(deps.keys));
  // The responder is recorded in the transaction that records its certificate.
  let row: ResponderRow | undefined;
  const record = async (tx: StoreTx, outcomes: (IssuedCertificate | Error)[]) => {
    const issued = outcomes[0]!;
    if (issued instanceof Error) return;
    row = {
      serial: issued.serial,
      ca,
      key_uri: formatKeyUri(uri),
      certificate: Buffer.from(issued.der),
      not_before: issued.notBefore.getTime(),
      not_after: issued.notAfter.getTime(),
      created_at: deps.issue.clock.now().getTime(),
    };
    await insertResponder(tx, row);
  };
  const [issued] = await issueBatch(deps.issue, [{ csr: requestForOwnKey(signer.spki), profile: 'ocsp-signer', identity: ca, issuer: ca, requester: { kind: 'system' }, actor: 'system:ocsp' }], { alongside: record });
  if (issued instanceof Error) throw issued;
  return row!;
}

/**
 * The responder each CA answers with: the newest one, or a new one when there is none or the newest
 * has entered the last third of its life — so a replacement exists well before expiry, and the switch
 * needs no restart (callers swap the map they use).
 */
export async function ensureResponders(deps: ResponderDeps, log: (line: string) => void): Promise<Map<string, Responder>> {
  const now = deps.issue.clock.now().getTime();
  const result = new Map<string, Responder>();
  for (const issuer of deps.issue.issuers.list()) {
    let row = await newestResponder(deps.store, issuer.name);
    if (!row || dueForRenewal(row, now)) {
      row = await createResponder(deps, issuer.name);
      log(`OCSP responder for CA ${issuer.name}: new certificate ${row.serial}, valid until ${new Date(Number(row.not_after)).toISOString()}`);
    }
    result.set(issuer.name, await load(deps, row));
  }
  return result;
}
