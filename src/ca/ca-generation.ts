import type { Name } from '@peculiar/asn1-x509';
import type { Signer } from '../keys/key-store.js';
import { formatKeyUri, type KeyUri } from '../keys/key-uri.js';
import type { CaKeyType } from '../x509/key-types.js';
import { nameToText } from '../x509/names.js';
import { randomSerial, serialToHex } from '../x509/serial.js';
import type { CaRow } from '../store/cas.js';
import type { CertificateIntent } from '../store/certificates.js';
import { buildCaCertificate } from './ca-certificate.js';

const DAY = 86_400_000;

export interface CaParent {
  name: string;
  subject: Name;
  ski: Uint8Array;
  signer: Signer;
  certificate: Uint8Array;
  notAfter: Date;
}

/**
 * Certifies one CA (a root when `parent` is absent): its validity never outlives the parent's, the
 * certificate is linted and signed by the parent (or by itself). Returns the row to record.
 */
export async function certifyCa(input: {
  name: string;
  family: string;
  subject: Name;
  signer: Signer;
  uri: KeyUri;
  keyType: CaKeyType;
  validityDays: number;
  pathLength?: number;
  parent?: CaParent;
  now: Date;
  activeFrom: Date;
  publicBaseUrl: string;
  /** A subordinate's certificate is recorded as its parent's intent before the parent signs it. */
  recordIntent?: (intent: CertificateIntent) => Promise<void>;
}): Promise<CaRow> {
  const notBefore = new Date(Math.floor(input.now.getTime() / 1000) * 1000 - 60_000);
  let notAfter = new Date(notBefore.getTime() + input.validityDays * DAY);
  if (input.parent && notAfter > input.parent.notAfter) notAfter = input.parent.notAfter;
  const serial = randomSerial();
  const cert = await buildCaCertificate({
    serial,
    subject: input.subject,
    subjectSigner: input.signer,
    notBefore,
    notAfter,
    pathLength: input.pathLength,
    parent: input.parent,
    publicBaseUrl: input.publicBaseUrl,
    beforeSigning:
      input.parent && input.recordIntent
        ? (tbs) =>
            input.recordIntent!({
              serial: serialToHex(serial),
              issuer: input.parent!.name,
              profile: 'ca',
              identity: input.name,
              subject: nameToText(input.subject),
              not_before: notBefore.getTime(),
              not_after: notAfter.getTime(),
              key_type: input.keyType,
              requested_by: 'ceremony',
              created_at: input.now.getTime(),
              tbs,
            })
        : undefined,
  });
  return {
    name: input.name,
    parent: input.parent?.name ?? null,
    key_uri: formatKeyUri(input.uri),
    key_type: input.keyType,
    certificate: Buffer.from(cert.der),
    serial: serialToHex(serial),
    subject: nameToText(input.subject),
    ski: Buffer.from(cert.ski).toString('hex'),
    not_before: notBefore.getTime(),
    not_after: notAfter.getTime(),
    status: 'active',
    created_at: input.now.getTime(),
    family: input.family,
    active_from: input.activeFrom.getTime(),
    retired_at: null,
  };
}

