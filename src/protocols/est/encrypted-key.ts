import { createHash, createPrivateKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { derSequence, derSetOrder } from '../../x509/der.js';
import { x509 } from '../../x509/crypto-provider.js';
import { fromPemBlocks } from '../../x509/pem.js';

const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const ID_ENVELOPED_DATA = '1.2.840.113549.1.7.3';
/** id-ct-KP-aKeyPackage (RFC 5958 §3): the content type of an AsymmetricKeyPackage. */
const ID_KEY_PACKAGE = '2.16.840.1.101.2.1.2.78.5';
const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const ID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const ID_SHA256 = '2.16.840.1.101.3.4.2.1';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

/** Who signs the key package: the EST server that made the key (its HTTPS key and chain, leaf first). */
export interface KeyPackageSigner {
  key: KeyObject;
  chain: Uint8Array[];
}

/** The server's HTTPS key and chain (PEM, leaf first) as the signer of what it generates. */
export function keyPackageSignerOf(material: { key: string; cert: string }): KeyPackageSigner {
  return { key: createPrivateKey(material.key), chain: fromPemBlocks(material.cert, ['CERTIFICATE']) };
}

const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer;

/**
 * pkijs splits an encapsulated or encrypted content into a constructed OCTET STRING (BER). DER
 * wants one primitive OCTET STRING (X.690 §10.2), so the value is set after construction.
 */
const primitiveOctets = (bytes: Uint8Array) => new asn1js.OctetString({ valueHex: toArrayBuffer(bytes) });

const attribute = (type: string, value: asn1js.AsnType) => new pkijs.Attribute({ type, values: [value] });

/**
 * The signed key package of RFC 7030 §4.4.2: the AsymmetricKeyPackage (RFC 5958 §2, a SEQUENCE OF
 * OneAsymmetricKey; a PKCS#8 PrivateKeyInfo is its version 1) in a SignedData whose eContentType is
 * id-ct-KP-aKeyPackage, signed by the party that generated the key. Returns the SignedData itself,
 * the content the EnvelopedData then encrypts (RFC 5958 §4).
 */
function signedKeyPackage(pkcs8: Uint8Array, signer: KeyPackageSigner, now: Date): Uint8Array {
  const keyPackage = derSequence(pkcs8);
  const leaf = pkijs.Certificate.fromBER(toArrayBuffer(signer.chain[0]!));
  const sha256 = new pkijs.AlgorithmIdentifier({ algorithmId: ID_SHA256 });
  // SignedAttributes is a SET OF: DER order by encoding (X.690 §11.6), which pkijs keeps as given.
  const attributes = [
    attribute(ID_CONTENT_TYPE, new asn1js.ObjectIdentifier({ value: ID_KEY_PACKAGE })),
    attribute(ID_SIGNING_TIME, new asn1js.UTCTime({ valueDate: now })),
    attribute(ID_MESSAGE_DIGEST, new asn1js.OctetString({ valueHex: toArrayBuffer(createHash('sha256').update(keyPackage).digest()) })),
  ];
  const sorted = derSetOrder(attributes.map((a) => new Uint8Array(a.toSchema().toBER(false)))).map((der) => pkijs.Attribute.fromBER(toArrayBuffer(der)));
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: sorted });
  // RFC 5652 §5.4: the signature covers the attributes' DER with the SET OF tag, not the [0] IMPLICIT.
  const toSign = new Uint8Array(signedAttrs.toSchema().toBER(false));
  toSign[0] = 0x31;
  const isEc = signer.key.asymmetricKeyType === 'ec';
  if (!isEc && signer.key.asymmetricKeyType !== 'rsa') throw new Error(`cannot sign a key package with a ${signer.key.asymmetricKeyType} key`);
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: leaf.issuer, serialNumber: leaf.serialNumber }),
    digestAlgorithm: sha256,
    signedAttrs,
    // RFC 5758 §3.2: ecdsa-with-SHA256 has no parameters; RFC 4055 §5: sha256WithRSAEncryption has NULL.
    signatureAlgorithm: isEc ? new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_WITH_SHA256 }) : new pkijs.AlgorithmIdentifier({ algorithmId: SHA256_WITH_RSA, algorithmParams: new asn1js.Null() }),
    signature: primitiveOctets(new Uint8Array(sign('sha256', toSign, signer.key))),
  });
  const encapContentInfo = new pkijs.EncapsulatedContentInfo({ eContentType: ID_KEY_PACKAGE });
  encapContentInfo.eContent = primitiveOctets(keyPackage);
  const signedData = new pkijs.SignedData({
    // RFC 5652 §5.1: version 3 because the eContentType is not id-data.
    version: 3,
    digestAlgorithms: [sha256],
    encapContentInfo,
    certificates: derSetOrder(signer.chain).map((der) => pkijs.Certificate.fromBER(toArrayBuffer(der))),
    signerInfos: [signerInfo],
  });
  return new Uint8Array(signedData.toSchema(true).toBER(false));
}

/**
 * RFC 7030 §4.4.2 with additional encryption: the signed key package inside a CMS EnvelopedData
 * (RFC 5652 §6) to the client's certificate — KeyTransRecipientInfo (RSA-OAEP, SHA-256) for an RSA
 * key, KeyAgreeRecipientInfo (ECDH, dhSinglePass-stdDH-sha256kdf-scheme, AES-256 key wrap, RFC 5753)
 * for an EC key — and AES-256-CBC for the content. Returns the ContentInfo's DER.
 */
export async function encryptedKeyPackage(pkcs8: Uint8Array, signer: KeyPackageSigner, recipient: Uint8Array, now: Date): Promise<Uint8Array> {
  const signed = signedKeyPackage(pkcs8, signer, now);
  const enveloped = new pkijs.EnvelopedData({ disableSplit: true });
  enveloped.addRecipientByCertificate(pkijs.Certificate.fromBER(toArrayBuffer(recipient)), { oaepHashAlgorithm: 'SHA-256', kdfAlgorithm: 'SHA-256', kekEncryptionLength: 256 });
  await enveloped.encrypt({ name: 'AES-CBC', length: 256 } as { name: string }, toArrayBuffer(signed));
  enveloped.encryptedContentInfo.contentType = ID_SIGNED_DATA;
  // RFC 5652 §6.1: version 0 when every RecipientInfo is version 0 (ktri by issuer and serial); a kari
  // is always version 3, which makes the EnvelopedData version 2.
  enveloped.version = enveloped.recipientInfos.every((r) => r.variant === 1) ? 0 : 2;
  return new Uint8Array(new pkijs.ContentInfo({ contentType: ID_ENVELOPED_DATA, content: enveloped.toSchema() }).toSchema().toBER(false));
}

/**
 * The client certificate a server-generated key may be encrypted to (RFC 7030 §4.4.1.2): the one this
 * connection authenticated with, when the identifier the request carries is its subjectKeyIdentifier
 * and its keyUsage (when present) allows the key to encrypt keys (RFC 5280 §4.2.1.3: keyEncipherment
 * for RSA, keyAgreement for EC). Otherwise the reason it may not.
 */
export function recipientProblem(certificate: Uint8Array | undefined, identifier: Uint8Array): string | undefined {
  const asked = Buffer.from(identifier).toString('hex');
  if (!certificate) return `no client certificate on this connection to encrypt the key to (AsymmetricDecryptKeyIdentifier ${asked}); connect with the certificate whose key it names`;
  const cert = new x509.X509Certificate(certificate);
  const keyId = cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId.toLowerCase();
  if (keyId !== asked) return `AsymmetricDecryptKeyIdentifier ${asked} is not the key of this connection's client certificate (${keyId ? `subjectKeyIdentifier ${keyId}` : 'which has no subjectKeyIdentifier'})`;
  const keyType = new X509Certificate(certificate).publicKey.asymmetricKeyType;
  if (keyType !== 'ec' && keyType !== 'rsa') return `the client certificate's ${keyType} key cannot receive an encrypted key (RSA or EC only)`;
  const usage = cert.getExtension(x509.KeyUsagesExtension)?.usages;
  const needed = keyType === 'ec' ? x509.KeyUsageFlags.keyAgreement : x509.KeyUsageFlags.keyEncipherment;
  if (usage !== undefined && !(usage & needed)) return `the client certificate's keyUsage does not allow ${needed === x509.KeyUsageFlags.keyAgreement ? 'keyAgreement' : 'keyEncipherment'}, which encrypting the key to it needs`;
  return undefined;
}
