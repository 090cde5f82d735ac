import { constants, createCipheriv, createDecipheriv, publicEncrypt, randomBytes, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { CMSVersion, ContentInfo, EncryptedContent, EncryptedContentInfo, EnvelopedData, IssuerAndSerialNumber, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo, RecipientInfos, id_data, id_envelopedData } from '@peculiar/asn1-cms';
import type { RsaDecryptScheme } from '../../keys/key-store.js';
import { exactBuffer } from '../../x509/bytes.js';
import { RsaEsOaepParams } from '@peculiar/asn1-rsa';
import { ScepFailure } from './failure.js';

/** Content encryption SCEP clients use (RFC 8894 §3.5.2: AES in GetCACaps; DES3 from older clients). */
const CIPHERS: Record<string, { name: string; keyBytes: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyBytes: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyBytes: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyBytes: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyBytes: 24 },
};
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const RSAES_OAEP = '1.2.840.113549.1.1.7';

const SHA1 = '1.3.14.3.2.26';
const SHA256 = '2.16.840.1.101.3.4.2.1';

/** RSAES-OAEP-params (RFC 8017 §A.2.1): SHA-1 (the default, absent) or SHA-256, MGF1 with the same hash, no label. */
function oaepScheme(parameters: ArrayBuffer | null | undefined): RsaDecryptScheme {
  if (!parameters || parameters.byteLength <= 2) return 'rsa-oaep-sha1';
  let params: RsaEsOaepParams;
  try {
    params = AsnConvert.parse(parameters, RsaEsOaepParams);
  } catch {
    throw new ScepFailure('badAlg', 'RSAES-OAEP parameters that do not parse');
  }
  const hash = params.hashAlgorithm.algorithm;
  const mgfHash = params.maskGenAlgorithm.parameters ? AsnConvert.parse(params.maskGenAlgorithm.parameters, AlgorithmIdentifier).algorithm : SHA1;
  if (hash === SHA1 && mgfHash === SHA1) return 'rsa-oaep-sha1';
  if (hash === SHA256 && mgfHash === SHA256) return 'rsa-oaep-sha256';
  throw new ScepFailure('badAlg', `RSAES-OAEP with ${hash} and MGF1 with ${mgfHash}: SHA-1 or SHA-256, the same for both`);
}

/** The recipient a key transport names: issuer and serial of a certificate. */
export interface Recipient {
  issuer: Uint8Array;
  serial: Uint8Array;
}

const issuerSerialOf = (certificate: Uint8Array): Recipient => {
  const tbs = AsnConvert.parse(certificate, Certificate).tbsCertificate;
  return { issuer: new Uint8Array(AsnConvert.serialize(tbs.issuer)), serial: new Uint8Array(tbs.serialNumber) };
};

const sameRecipient = (rid: RecipientIdentifier, ours: Recipient) =>
  Boolean(rid.issuerAndSerialNumber) &&
  Buffer.compare(Buffer.from(AsnConvert.serialize(rid.issuerAndSerialNumber!.issuer)), Buffer.from(ours.issuer)) === 0 &&
  Buffer.compare(Buffer.from(rid.issuerAndSerialNumber!.serialNumber), Buffer.from(ours.serial)) === 0;

/**
 * Opens a pkcsPKIEnvelope (RFC 8894 §3.2.2): an EnvelopedData for the RA. Its content-encryption key
 * comes off the RA's key on the token (C_Decrypt, PKCS#1 v1.5 or OAEP); the content is then decrypted
 * here. Returns the content and the content-encryption algorithm (the answer uses the same).
 */
export async function openEnvelope(der: Uint8Array, ra: { certificate: Uint8Array; decrypt: (data: Uint8Array, scheme: RsaDecryptScheme) => Promise<Uint8Array> }): Promise<{ content: Uint8Array; cipherOid: string }> {
  let enveloped: EnvelopedData;
  try {
    const info = AsnConvert.parse(der, ContentInfo);
    if (info.contentType !== id_envelopedData) throw new Error('not EnvelopedData');
    enveloped = AsnConvert.parse(info.content, EnvelopedData);
  } catch {
    throw new ScepFailure('badMessageCheck', 'the pkcsPKIEnvelope is not a CMS EnvelopedData');
  }
  const ours = issuerSerialOf(ra.certificate);
  const recipient = enveloped.recipientInfos.find((r: RecipientInfo) => r.ktri && sameRecipient(r.ktri.rid, ours))?.ktri;
  if (!recipient) throw new ScepFailure('badMessageCheck', 'the request is not encrypted to this RA certificate (GetCACert gives the current one)');
  const algorithm = recipient.keyEncryptionAlgorithm.algorithm;
  let scheme: RsaDecryptScheme;
  if (algorithm === RSA_ENCRYPTION) scheme = 'rsa-pkcs1';
  else if (algorithm === RSAES_OAEP) scheme = oaepScheme(recipient.keyEncryptionAlgorithm.parameters);
  else throw new ScepFailure('badAlg', `key transport ${algorithm}: rsaEncryption or RSAES-OAEP`);
  const cipherInfo = enveloped.encryptedContentInfo;
  const cipher = CIPHERS[cipherInfo.contentEncryptionAlgorithm.algorithm];
  if (!cipher) throw new ScepFailure('badAlg', `content encryption ${cipherInfo.contentEncryptionAlgorithm.algorithm}: AES-CBC or DES-EDE3-CBC`);
  const iv = cipherInfo.contentEncryptionAlgorithm.parameters ? AsnConvert.parse(cipherInfo.contentEncryptionAlgorithm.parameters, OctetString) : undefined;
  const encrypted = cipherInfo.encryptedContent?.value ?? (cipherInfo.encryptedContent?.constructedValue ? new OctetString(Buffer.concat(cipherInfo.encryptedContent.constructedValue.map((o) => Buffer.from(o.buffer)))) : undefined);
  if (!iv || !encrypted) throw new ScepFailure('badMessageCheck', 'the envelope has no IV or no encrypted content');
  let key: Uint8Array;
  try {
    key = await ra.decrypt(new Uint8Array(recipient.encryptedKey.buffer), scheme);
  } catch (e) {
    // SoftHSM2, for one, does RSAES-OAEP with SHA-1 only: a token that refuses the mechanism is badAlg.
    if (/CKR_(ARGUMENTS_BAD|MECHANISM_INVALID|MECHANISM_PARAM_INVALID)/.test((e as Error).message)) throw new ScepFailure('badAlg', `the token holding the RA key does not do ${scheme}: ${(e as Error).message}`);
    throw new ScepFailure('badMessageCheck', `the content-encryption key does not decrypt with the RA key (encrypted to another key?): ${(e as Error).message}`);
  }
  if (key.length !== cipher.keyBytes) throw new ScepFailure('badMessageCheck', 'the content-encryption key does not fit its algorithm');
  try {
    const decipher = createDecipheriv(cipher.name, key, Buffer.from(iv.buffer));
    return { content: new Uint8Array(Buffer.concat([decipher.update(Buffer.from(encrypted.buffer)), decipher.final()])), cipherOid: cipherInfo.contentEncryptionAlgorithm.algorithm };
  } catch {
    throw new ScepFailure('badMessageCheck', 'the envelope\'s content does not decrypt');
  }
}

/**
 * A pkcsPKIEnvelope for the requester (RFC 8894 §3.3.2): `content` encrypted with a fresh key under
 * `cipherOid` (the request's own), the key transported to the requester's certificate with
 * rsaEncryption (PKCS#1 v1.5, what every SCEP client decrypts).
 */
export function sealEnvelope(content: Uint8Array, recipientCertificate: Uint8Array, cipherOid: string): Uint8Array {
  const cipher = CIPHERS[cipherOid] ?? CIPHERS['2.16.840.1.101.3.4.1.42']!;
  const oid = CIPHERS[cipherOid] ? cipherOid : '2.16.840.1.101.3.4.1.42';
  const key = randomBytes(cipher.keyBytes);
  const iv = randomBytes(cipher.name.startsWith('des') ? 8 : 16);
  const encipher = createCipheriv(cipher.name, key, iv);
  const encrypted = Buffer.concat([encipher.update(content), encipher.final()]);
  const certificate = AsnConvert.parse(recipientCertificate, Certificate);
  const publicKey = new X509Certificate(Buffer.from(recipientCertificate)).publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa') throw new ScepFailure('badAlg', 'the answer is encrypted to the requester\'s certificate, which must hold an RSA key (RFC 8894 §3.1)');
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key);
  const ktri = new KeyTransRecipientInfo({
    version: CMSVersion.v0,
    rid: new RecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: certificate.tbsCertificate.issuer, serialNumber: certificate.tbsCertificate.serialNumber }) }),
    keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: RSA_ENCRYPTION, parameters: exactBuffer(Uint8Array.of(0x05, 0x00)) }),
    encryptedKey: new OctetString(encryptedKey),
  });
  const enveloped = new EnvelopedData({
    version: CMSVersion.v0,
    recipientInfos: new RecipientInfos([new RecipientInfo({ ktri })]),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: oid, parameters: AsnConvert.serialize(new OctetString(iv)) }),
      encryptedContent: new EncryptedContent({ value: new OctetString(encrypted) }),
    }),
  });
  return new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: id_envelopedData, content: AsnConvert.serialize(enveloped) })));
}
