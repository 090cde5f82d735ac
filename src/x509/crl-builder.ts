import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BaseCRLNumber,
  CRLNumber,
  DistributionPoint,
  DistributionPointName,
  FreshestCRL,
  GeneralName,
  IssuingDistributionPoint,
  id_ce_deltaCRLIndicator,
  id_ce_freshestCRL,
  id_ce_issuingDistributionPoint,
  CRLReason,
  Extension,
  Extensions,
  InvalidityDate,
  KeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  id_ce_invalidityDate,
  type AlgorithmIdentifier,
} from '@peculiar/asn1-x509';
import { exactBuffer } from './bytes.js';
import { concatBytes, derBitString, derSequence, derTime, derUnsignedInteger, tlv, tlvHeader } from './der.js';

export interface CrlEntry {
  /** Lowercase hex. */
  serial: string;
  revokedAt: Date;
  /** CRLReason code; 0 (unspecified) is left out, as RFC 5280 §5.3.1 asks. */
  reasonCode: number;
  invalidityDate?: Date;
}

export interface CrlHeader {
  /** The issuer's subject exactly as in its certificate. */
  issuer: Uint8Array;
  issuerKeyId: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  number: bigint;
  signature: AlgorithmIdentifier;
  /**
   * A partitioned CRL's own URL, as its certificates' CRL distribution point names it: the issuing
   * distribution point (RFC 5280 §5.2.5, critical), with onlyContainsUserCerts. Absent: the CRL covers
   * every certificate of the issuer.
   */
  distributionPoint?: string;
  /** A delta CRL: the number of the complete CRL it updates (delta CRL indicator, §5.2.4, critical). */
  baseNumber?: bigint;
  /** A complete CRL with deltas: where they are (freshest CRL, §5.2.6, non-critical; never in a delta). */
  freshestCrl?: string;
}

const der = (value: unknown) => new Uint8Array(AsnConvert.serialize(value));
const extension = (extnID: string, value: unknown, critical = false) => der(new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) }));

/** The reasonCode entry extension for each code, encoded once. */
const reasonExtensions = new Map<number, Uint8Array>();
function reasonExtension(code: number): Uint8Array {
  let ext = reasonExtensions.get(code);
  if (!ext) reasonExtensions.set(code, (ext = extension(id_ce_cRLReasons, new CRLReason(code))));
  return ext;
}

/** revokedCertificates entry (RFC 5280 §5.1.2.6) with reasonCode and invalidityDate (§5.3.1, §5.3.2). */
export function encodeCrlEntry(entry: CrlEntry): Uint8Array {
  const extensions: Uint8Array[] = [];
  if (entry.reasonCode !== 0) extensions.push(reasonExtension(entry.reasonCode));
  if (entry.invalidityDate) extensions.push(extension(id_ce_invalidityDate, new InvalidityDate(entry.invalidityDate)));
  const parts = [derUnsignedInteger(Buffer.from(entry.serial, 'hex')), derTime(entry.revokedAt)];
  if (extensions.length) parts.push(derSequence(...extensions));
  return derSequence(...parts);
}

const distributionPointName = (url: string) => new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] });

/** The extensions that say what a CRL covers and where its deltas are, in that order. */
function scopeExtensions(header: CrlHeader): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (header.distributionPoint) {
    const idp = new IssuingDistributionPoint({ distributionPoint: distributionPointName(header.distributionPoint), onlyContainsUserCerts: true });
    out.push(extension(id_ce_issuingDistributionPoint, idp, true));
  }
  if (header.baseNumber !== undefined) out.push(extension(id_ce_deltaCRLIndicator, new BaseCRLNumber(Number(header.baseNumber)), true));
  else if (header.freshestCrl) out.push(extension(id_ce_freshestCRL, new FreshestCRL([new DistributionPoint({ distributionPoint: distributionPointName(header.freshestCrl) })])));
  return out;
}

/** A TBSCertList encoded and hashed, waiting for its signature. */
export interface UnsignedCrl {
  /** The digest of the TBSCertList with `hash`, which is what the CA key signs. */
  digest: Uint8Array;
  entries: number;
  /** The TBSCertList minus its entries (which this module encodes itself), for the linter. */
  tbsWithoutEntries: Uint8Array;
  /** The whole CertificateList with this signature (the signature algorithm is the header's). */
  withSignature(signature: Uint8Array): Uint8Array;
}

/**
 * A v2 CRL (RFC 5280 §5.1) encoded from a stream of entries: each entry becomes DER bytes as it arrives
 * (no row objects are kept), and the TBSCertList is hashed as one stream with `hash` (a node:crypto
 * name). Signing is the caller's (ca/crl.ts): this module only encodes.
 */
export async function encodeCrl(header: CrlHeader, entries: AsyncIterable<CrlEntry>, hash: string): Promise<UnsignedCrl> {
  const sink = createByteSink();
  let count = 0;
  for await (const entry of entries) {
    sink.write(encodeCrlEntry(entry));
    count++;
  }
  const chunks = sink.chunks();
  const entriesLength = sink.length();
  const crlExtensions = tlv(
    0xa0, // [0] EXPLICIT Extensions
    der(
      new Extensions([
        AsnConvert.parse(extension(id_ce_authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(exactBuffer(header.issuerKeyId)) })), Extension),
        AsnConvert.parse(extension(id_ce_cRLNumber, new CRLNumber(Number(header.number))), Extension),
        ...scopeExtensions(header).map((e) => AsnConvert.parse(e, Extension)),
      ]),
    ),
  );
  const signatureAlgorithm = der(header.signature);
  const prefix = concatBytes([
    derUnsignedInteger(Uint8Array.of(1)), // version v2
    signatureAlgorithm,
    header.issuer,
    derTime(header.thisUpdate),
    derTime(header.nextUpdate),
  ]);
  const tbsWithoutEntries = derSequence(prefix, crlExtensions);
  // revokedCertificates is absent, not empty, when there are no entries (§5.1.2.6).
  const revokedHeader = count ? tlvHeader(0x30, entriesLength) : new Uint8Array();
  const tbsContentLength = prefix.length + revokedHeader.length + entriesLength + crlExtensions.length;
  const tbsHeader = tlvHeader(0x30, tbsContentLength);

  const hasher = createHash(hash);
  for (const part of [tbsHeader, prefix, revokedHeader, ...chunks, crlExtensions]) hasher.update(part);
  return {
    digest: new Uint8Array(hasher.digest()),
    entries: count,
    tbsWithoutEntries,
    withSignature(signature) {
      const tail = concatBytes([signatureAlgorithm, derBitString(signature)]);
      const total = tbsHeader.length + tbsContentLength + tail.length;
      const out = Buffer.alloc(total + 6);
      const outer = tlvHeader(0x30, total);
      let offset = 0;
      for (const part of [outer, tbsHeader, prefix, revokedHeader, ...chunks, crlExtensions, tail]) {
        out.set(part, offset);
        offset += part.length;
      }
      return out.subarray(0, offset);
    },
  };
}

/** Appends bytes into 1 MiB blocks: a million entries make ~40 objects, not a million. */
function createByteSink() {
  const BLOCK = 1 << 20;
  const blocks: Buffer[] = [];
  let current = Buffer.alloc(BLOCK);
  let used = 0;
  let total = 0;
  return {
    write(bytes: Uint8Array) {
      let offset = 0;
      while (offset < bytes.length) {
        if (used === BLOCK) {
          blocks.push(current);
          current = Buffer.alloc(BLOCK);
          used = 0;
        }
        const n = Math.min(bytes.length - offset, BLOCK - used);
        current.set(bytes.subarray(offset, offset + n), used);
        used += n;
        offset += n;
      }
      total += bytes.length;
    },
    chunks: (): Uint8Array[] => [...blocks, current.subarray(0, used)],
    length: () => total,
  };
}
