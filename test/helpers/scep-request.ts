import { createHash, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { derSetOrder } from '../../src/x509/der.js';

/**
 * A SCEP pkiMessage built with pkijs (nobody's code here), for the operations certmonger does not send
 * (GetCert, GetCRL, RenewalReq): the content enveloped to the RA with RSAES-OAEP (SHA-1 unless told) and AES-256-CBC, signed
 * with the requester's key and certificate, SCEP's attributes signed with it (RFC 8894 §3.2).
 */
export async function scepRequest(input: { messageType: string; transactionId: string; content: Uint8Array; raCertificate: Uint8Array; signer: { certificate: Uint8Array; key: webcrypto.CryptoKey }; signingTime?: Date; oaepHash?: 'SHA-1' | 'SHA-256' }): Promise<Uint8Array> {
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto }) as unknown as pkijs.ICryptoEngine;
  const ab = (b: Uint8Array) => b.slice().buffer;
  const enveloped = new pkijs.EnvelopedData();
  enveloped.addRecipientByCertificate(pkijs.Certificate.fromBER(ab(input.raCertificate)), { oaepHashAlgorithm: input.oaepHash ?? 'SHA-1' }, 1, engine);
  await enveloped.encrypt({ name: 'AES-CBC', length: 256 } as never, ab(input.content), engine);
  const envelope = new Uint8Array(new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.ENVELOPED_DATA, content: enveloped.toSchema() }).toSchema().toBER(false));
  const printable = (value: string) => new asn1js.PrintableString({ value });
  const attribute = (type: string, value: asn1js.AsnType) => new pkijs.Attribute({ type, values: [value] });
  const attributes = [
    attribute('1.2.840.113549.1.9.3', new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })),
    attribute('1.2.840.113549.1.9.4', new asn1js.OctetString({ valueHex: ab(createHash('sha256').update(envelope).digest()) })),
    attribute('2.16.840.1.113733.1.9.2', printable(input.messageType)),
    attribute('2.16.840.1.113733.1.9.7', printable(input.transactionId)),
    attribute('2.16.840.1.113733.1.9.5', new asn1js.OctetString({ valueHex: ab(webcrypto.getRandomValues(new Uint8Array(16))) })),
    ...(input.signingTime ? [attribute('1.2.840.113549.1.9.5', new asn1js.UTCTime({ valueDate: input.signingTime }))] : []),
  ];
  const sorted = derSetOrder(attributes.map((a) => new Uint8Array(a.toSchema().toBER(false)))).map((der) => pkijs.Attribute.fromBER(ab(der)));
  const certificate = pkijs.Certificate.fromBER(ab(input.signer.certificate));
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: '1.2.840.113549.1.7.1', eContent: new asn1js.OctetString({ valueHex: ab(envelope) }) }),
    certificates: [certificate],
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: certificate.issuer, serialNumber: certificate.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: sorted }),
      }),
    ],
  });
  await signed.sign(input.signer.key, 0, 'SHA-256', undefined, engine);
  return new Uint8Array(new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) }).toSchema().toBER(false));
}
