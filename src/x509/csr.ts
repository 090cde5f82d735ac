import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { HallmarkError } from '../errors.js';
import { x509 } from './crypto-provider.js';
import { keyTypeOf } from './spki.js';
import { fromPemBlocks } from './pem.js';
import type { KeyType } from './key-types.js';

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};
const KEY_USAGE_NAMES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

export interface RequestedNames {
  dns: string[];
  uri: string[];
  ip: string[];
  email: string[];
  /** Name types Hallmark never copies from a CSR (directoryName, otherName, …). */
  other: string[];
}

/** What a PKCS#10 request asks for, after its signature (proof of possession) was verified. */
export interface VerifiedCsr {
  der: Uint8Array;
  spki: SubjectPublicKeyInfo;
  spkiDer: Uint8Array;
  keyType: KeyType | { unsupported: string };
  subject: string;
  commonName?: string;
  requested: {
    ca: boolean;
    keyUsage: string[];
    extendedKeyUsage: string[];
    names: RequestedNames;
    /** OIDs of requested extensions Hallmark does not interpret (never copied). */
    otherExtensions: string[];
  };
}

const invalid = (message: string) => new HallmarkError('csr_invalid', message, 400);

/** Accepts PEM (CERTIFICATE REQUEST or NEW CERTIFICATE REQUEST), base64 DER (EST) or raw DER. */
export function decodeCsr(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') return input;
  if (input.includes('-----BEGIN')) {
    let blocks: Uint8Array[];
    try {
      blocks = fromPemBlocks(input, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    if (blocks.length !== 1) throw invalid(`expected one PEM CERTIFICATE REQUEST block, found ${blocks.length}`);
    return blocks[0]!;
  }
  const compact = input.replace(/\s+/g, '');
  if (!compact || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw invalid('CSR is neither PEM nor base64');
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

function requestedNames(san: x509.SubjectAlternativeNameExtension | undefined): RequestedNames {
  const names: RequestedNames = { dns: [], uri: [], ip: [], email: [], other: [] };
  for (const name of san?.names.items ?? []) {
    if (name.type === 'dns') names.dns.push(name.value);
    else if (name.type === 'url') names.uri.push(name.value);
    else if (name.type === 'ip') names.ip.push(name.value);
    else if (name.type === 'email') names.email.push(name.value);
    else names.other.push(`${name.type}:${name.value}`);
  }
  return names;
}

/** Parses a CSR and verifies its self-signature; anything malformed is a 400 that names the problem. */
export async function verifyCsr(input: string | Uint8Array): Promise<VerifiedCsr> {
  const der = decodeCsr(input);
  if (der.length === 0) throw invalid('CSR is empty');
  if (der.length > 64 * 1024) throw invalid('CSR is larger than 64 KiB');
  let csr: x509.Pkcs10CertificateRequest;
  let spki: SubjectPublicKeyInfo;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    spki = AsnConvert.parse(csr.publicKey.rawData, SubjectPublicKeyInfo);
  } catch (e) {
    throw invalid(`CSR is not a valid PKCS#10 request: ${(e as Error).message}`);
  }
  let verified = false;
  try {
    verified = await csr.verify();
  } catch (e) {
    throw new HallmarkError('csr_signature', `cannot verify the CSR signature: ${(e as Error).message}`, 400);
  }
  if (!verified) throw new HallmarkError('csr_signature', 'CSR signature does not verify (no proof of possession of the key)', 400);

  const requested: VerifiedCsr['requested'] = { ca: false, keyUsage: [], extendedKeyUsage: [], names: requestedNames(undefined), otherExtensions: [] };
  try {
    for (const ext of csr.extensions) {
      if (ext instanceof x509.BasicConstraintsExtension) requested.ca = ext.ca;
      else if (ext instanceof x509.KeyUsagesExtension) {
        requested.keyUsage = KEY_USAGE_NAMES.filter((_, bit) => ext.usages & (1 << bit));
      } else if (ext instanceof x509.ExtendedKeyUsageExtension) {
        requested.extendedKeyUsage = ext.usages.map((u) => EKU_NAMES[String(u)] ?? String(u));
      } else if (ext instanceof x509.SubjectAlternativeNameExtension) requested.names = requestedNames(ext);
      else requested.otherExtensions.push(ext.type);
    }
  } catch (e) {
    throw invalid(`CSR carries a malformed extension request: ${(e as Error).message}`);
  }
  return {
    der,
    spki,
    spkiDer: new Uint8Array(csr.publicKey.rawData),
    keyType: keyTypeOf(spki),
    subject: csr.subject,
    commonName: csr.subjectName.getField('CN')[0],
    requested,
  };
}

/**
 * A request for a key the CA holds itself (an OCSP responder key on the token): no PKCS#10 to verify,
 * since possession is not in question, and nothing requested beyond what the profile gives.
 */
export function requestForOwnKey(spkiDer: Uint8Array): VerifiedCsr {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  return {
    der: new Uint8Array(),
    spki,
    spkiDer,
    keyType: keyTypeOf(spki),
    subject: '',
    requested: { ca: false, keyUsage: [], extendedKeyUsage: [], names: { dns: [], uri: [], ip: [], email: [], other: [] }, otherExtensions: [] },
  };
}
