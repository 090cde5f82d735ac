import { AsnConvert } from '@peculiar/asn1-schema';
import { Extensions, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { createWorkerPool } from '../workers/pool.js';
import { createBatcher } from '../workers/batcher.js';
import { packedBytesCodec } from '../workers/packed-bytes.js';
import { isCsrProblem, parseAndVerifyCsr, type CsrProblem, type ParsedCsr } from './csr-parse.js';
import { HallmarkError } from '../base/errors.js';
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
  /** DER SubjectPublicKeyInfo exactly as the request carried it (it goes into the certificate as is). */
  spkiDer: Uint8Array;
  keyType: KeyType | { unsupported: string };
  subject: string;
  /** The subject as DER, for a request that is not PKCS#10 (a CMP CertTemplate: `der` is then empty). */
  subjectDer?: Uint8Array;
  commonName?: string;
  /** The challengePassword attribute, when the request carries one (EST channel binding, RFC 7030 §3.5). */
  challengePassword?: string;
  /** The key a server-generated private key is to be encrypted to (RFC 7030 §4.4.1), when named. */
  decryptKey?: { kind: 'symmetric' | 'asymmetric'; id: Uint8Array };
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

/**
 * CSRs are checked in worker threads when four or more arrive together; fewer are checked here: one
 * ECDSA check costs about what handing it to a thread and back does (measurements in
 * docs/issuance-performance.md).
 */
const pool = createWorkerPool<Uint8Array, ParsedCsr | CsrProblem>({
  script: new URL('./csr-worker.js', import.meta.url),
  name: 'csr',
  inlineBelow: 4,
  inlineSmallAlways: true,
  codec: { encode: packedBytesCodec.encode, decodeResults: (results) => results as (ParsedCsr | CsrProblem)[] },
});
/** The workers send each request back without its DER (see csr-worker.ts): it is put back here. */
const inWorkers = async (ders: Uint8Array[]) => (await pool.run(ders)).map((r, i) => (isCsrProblem(r) ? r : { ...r, der: ders[i]! }));
const checker = createBatcher<Uint8Array, ParsedCsr | CsrProblem>((ders) =>
  pool.inline(ders.length) ? Promise.resolve(ders.map(parseAndVerifyCsr)) : inWorkers(ders),
);


/** A request that asks for nothing beyond its subject and key (a fresh object each time: callers fill it). */
export const nothingRequested = (): VerifiedCsr['requested'] => ({ ca: false, keyUsage: [], extendedKeyUsage: [], names: requestedNames(undefined), otherExtensions: [] });

export function interpretExtensions(der: Uint8Array): VerifiedCsr['requested'] {
  const requested = nothingRequested();
  const extensions = AsnConvert.parse(der, Extensions);
  // RFC 5280 §4.2: a certificate must not include more than one instance of an extension; nor may a request.
  const seen = new Set<string>();
  for (const raw of extensions) {
    if (seen.has(raw.extnID)) throw new Error(`extension ${raw.extnID} appears more than once`);
    seen.add(raw.extnID);
    const ext = x509.ExtensionFactory.create(AsnConvert.serialize(raw));
    if (ext instanceof x509.BasicConstraintsExtension) requested.ca = ext.ca;
    else if (ext instanceof x509.KeyUsagesExtension) {
      requested.keyUsage = KEY_USAGE_NAMES.filter((_, bit) => ext.usages & (1 << bit));
    } else if (ext instanceof x509.ExtendedKeyUsageExtension) {
      requested.extendedKeyUsage = ext.usages.map((u) => EKU_NAMES[String(u)] ?? String(u));
    } else if (ext instanceof x509.SubjectAlternativeNameExtension) requested.names = requestedNames(ext);
    else requested.otherExtensions.push(ext.type);
  }
  return requested;
}

/** What a parsed and verified request asks for, in the shape the profile rules read. */
export function toVerifiedCsr(parsed: ParsedCsr): VerifiedCsr {
  let requested = nothingRequested();
  if (parsed.extensionRequest) {
    try {
      requested = interpretExtensions(parsed.extensionRequest);
    } catch (e) {
      throw invalid(`CSR carries a malformed extension request: ${(e as Error).message}`);
    }
  }
  return { der: parsed.der, spkiDer: parsed.spkiDer, keyType: parsed.keyType, subject: parsed.subject, commonName: parsed.commonName, challengePassword: parsed.challengePassword, decryptKey: parsed.decryptKey, requested };
}

/** Parses a CSR and verifies its self-signature; anything malformed is a 400 that names the problem. */
export async function verifyCsr(input: string | Uint8Array): Promise<VerifiedCsr> {
  const der = decodeCsr(input);
  if (der.length === 0) throw invalid('CSR is empty');
  if (der.length > 64 * 1024) throw invalid('CSR is larger than 64 KiB');
  const parsed = await checker.submit(der);
  if (isCsrProblem(parsed)) throw new HallmarkError(parsed.code, parsed.message, 400);
  return toVerifiedCsr(parsed);
}

/**
 * A request for a key the CA holds itself (an OCSP responder key on the token): no PKCS#10 to verify,
 * since possession is not in question, and nothing requested beyond what the profile gives.
 */
export function requestForOwnKey(spkiDer: Uint8Array): VerifiedCsr {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  return {
    der: new Uint8Array(),
    spkiDer,
    keyType: keyTypeOf(spki),
    subject: '',
    requested: nothingRequested(),
  };
}
