import { createHash } from 'node:crypto';
import { AsnArray, AsnConvert, AsnIntegerArrayBufferConverter, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, GeneralName, GeneralNames } from '@peculiar/asn1-x509';
import {
  Attribute,
  CMSVersion,
  ContentInfo,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
  SigningTime,
  id_data,
  id_signedData,
  id_contentType,
  id_messageDigest,
  id_signingTime,
} from '@peculiar/asn1-cms';
import * as asn1js from 'asn1js';
import type { Signer } from '../keys/key-store.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import { concatBytes, derSequence, tlv } from '../x509/der.js';
import { exactBuffer } from '../x509/bytes.js';

/** id-aa-timeStampToken (RFC 3161 appendix A). */
const id_aa_timeStampToken = '1.2.840.113549.1.9.16.2.14';
/** id-aa-signingCertificateV2 (RFC 5035 §3). */
const id_aa_signingCertificateV2 = '1.2.840.113549.1.9.16.2.47';
export const DIGEST_OIDS = { sha256: '2.16.840.1.101.3.4.2.1', sha384: '2.16.840.1.101.3.4.2.2' } as const;
export type DigestName = keyof typeof DIGEST_OIDS;

/** IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber } (RFC 5035). */
@AsnType({ type: AsnTypeTypes.Sequence })
class IssuerSerial {
  @AsnProp({ type: GeneralNames }) issuer = new GeneralNames();
  @AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })
  serialNumber = new ArrayBuffer(0);
}

/** ESSCertIDv2 with the default hash, SHA-256, left out as DER requires (RFC 5035 §4). */
@AsnType({ type: AsnTypeTypes.Sequence })
class EssCertIdV2 {
  @AsnProp({ type: OctetString }) certHash = new OctetString();
  @AsnProp({ type: IssuerSerial }) issuerSerial = new IssuerSerial();
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: EssCertIdV2 })
class EssCertIdV2s extends AsnArray<EssCertIdV2> {}

/** SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies … OPTIONAL }. */
@AsnType({ type: AsnTypeTypes.Sequence })
class SigningCertificateV2 {
  @AsnProp({ type: EssCertIdV2s }) certs = new EssCertIdV2s();
}

// Certificates parsed once per bytes object (signers.ts keeps a signer's chain as the same objects).
const parsedCertificates = new WeakMap<Uint8Array, Certificate>();
const parsed = (der: Uint8Array) => {
  let certificate = parsedCertificates.get(der);
  if (!certificate) parsedCertificates.set(der, (certificate = AsnConvert.parse(der, Certificate)));
  return certificate;
};

export const attribute = (type: string, value: ArrayBuffer) => new Attribute({ attrType: type, attrValues: [value] });
const bytesOf = (value: ArrayBuffer) => new Uint8Array(value);

export interface SignedDataInput {
  /** The encapsulated content's type: id-data for a detached signature, id-ct-TSTInfo for a time-stamp. */
  contentType: string;
  /** The content, when it travels inside (a TSTInfo); absent for a detached signature. */
  content?: Uint8Array;
  digestAlgorithm: DigestName;
  /** The content's digest (of `content` when given). */
  digest: Uint8Array;
  signer: Signer;
  /** The signer's certificate first, then its CAs below the root. */
  chain: Uint8Array[];
  /** Whether the chain travels in `certificates` (a time-stamp carries it only when asked: certReq). */
  includeCertificates: boolean;
  signingTime?: Date;
  /**
   * A time-stamp token over the signature value, carried as the unsigned attribute id-aa-timeStampToken
   * (RFC 3161 appendix A): the signature stays provably older than a later revocation of the signer.
   */
  signatureTimestamp?: (signatureValue: Uint8Array) => Promise<Uint8Array>;
  /** Further signed attributes a protocol defines (SCEP's messageType, transactionID, nonces…). */
  extraAttributes?: Attribute[];
}

/**
 * CMS SignedData (RFC 5652) with one signer: the signed attributes carry the content type, the
 * messageDigest, signingTime when given and signingCertificateV2 (RFC 5035, binding the signer's
 * certificate); the signature is over their DER SET OF (§5.4), made by the key on the token.
 */
export async function signedData(input: SignedDataInput): Promise<Uint8Array> {
  const certificate = parsed(input.chain[0]!);
  const issuerSerial = new IssuerSerial();
  issuerSerial.issuer = new GeneralNames([new GeneralName({ directoryName: certificate.tbsCertificate.issuer })]);
  issuerSerial.serialNumber = certificate.tbsCertificate.serialNumber;
  const essCertId = new EssCertIdV2();
  essCertId.certHash = new OctetString(createHash('sha256').update(input.chain[0]!).digest());
  essCertId.issuerSerial = issuerSerial;
  const signingCertificate = new SigningCertificateV2();
  signingCertificate.certs = new EssCertIdV2s([essCertId]);

  // DER orders a SET OF by its elements' encodings (X.690 §11.6): verifiers re-encode before checking.
  const attributes = [
    attribute(id_contentType, new asn1js.ObjectIdentifier({ value: input.contentType }).toBER()),
    ...(input.signingTime ? [attribute(id_signingTime, AsnConvert.serialize(new SigningTime(input.signingTime)))] : []),
    attribute(id_messageDigest, AsnConvert.serialize(new OctetString(input.digest))),
    attribute(id_aa_signingCertificateV2, AsnConvert.serialize(signingCertificate)),
    ...(input.extraAttributes ?? []),
  ]
    .map((a) => ({ a, der: bytesOf(AsnConvert.serialize(a)) }))
    .sort((x, y) => Buffer.compare(x.der, y.der));
  const signedAttributesDer = tlv(0x31, Buffer.concat(attributes.map((x) => x.der)));
  const signature = await input.signer.sign(signedAttributesDer);

  const digestAlgorithm = new AlgorithmIdentifier({ algorithm: DIGEST_OIDS[input.digestAlgorithm] });
  const signerInfo = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: certificate.tbsCertificate.issuer, serialNumber: certificate.tbsCertificate.serialNumber }) }),
    digestAlgorithm,
    signedAttrs: attributes.map((x) => x.a),
    signatureAlgorithm: algorithmIdentifier(input.signer.algorithm),
    signature: new OctetString(signature),
    unsignedAttrs: input.signatureTimestamp ? [attribute(id_aa_timeStampToken, exactBuffer(await input.signatureTimestamp(signature)))] : undefined,
  });
  // SignedData is put together from its fields' encodings: the certificates go in as the DER they are
  // (re-serialising parsed certificates through the schema cost ~7 ms a signature, the token 0.2 ms).
  const field = (value: object) => new Uint8Array(AsnConvert.serialize(value));
  const data = derSequence(
    // RFC 5652 §5.1: version 3 when the content is not id-data.
    Uint8Array.of(0x02, 0x01, input.contentType === id_data ? CMSVersion.v1 : CMSVersion.v3),
    field(new DigestAlgorithmIdentifiers([digestAlgorithm])),
    field(new EncapsulatedContentInfo({ eContentType: input.contentType, eContent: input.content ? new EncapsulatedContent({ single: new OctetString(input.content) }) : undefined })),
    // certificates [0] IMPLICIT SET OF, in DER order (X.690 §11.6)
    ...(input.includeCertificates ? [tlv(0xa0, concatBytes([...input.chain].sort((a, b) => Buffer.compare(a, b))))] : []),
    field(new SignerInfos([signerInfo])),
  );
  return bytesOf(AsnConvert.serialize(new ContentInfo({ contentType: id_signedData, content: exactBuffer(data) })));
}

/**
 * A detached CMS SignedData over an artifact known only by its digest, with the signer's chain in
 * `certificates` so that a verifier needs only the root.
 */
export const detachedSignedData = (input: { digestAlgorithm: DigestName; digest: Uint8Array; signer: Signer; chain: Uint8Array[]; signingTime: Date; signatureTimestamp?: SignedDataInput['signatureTimestamp'] }): Promise<Uint8Array> =>
  signedData({ ...input, contentType: id_data, includeCertificates: true });
