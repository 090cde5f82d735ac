/** OCSP requests as a relying party sends them (SHA-1 CertID, RFC 5019 §2.1.1), with a nonce when given. */
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Extension, Extensions } from '@peculiar/asn1-x509';
import { CertID, OCSPRequest, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import { rawSubject, subjectPublicKeyBits } from '../../src/x509/certificate-fields.js';

export function ocspRequest(issuerCert: Uint8Array, serialHex: string, nonce?: Uint8Array, hash: 'sha1' | 'sha256' = 'sha1'): Uint8Array {
  const digest = (data: Uint8Array) => new OctetString(createHash(hash).update(data).digest());
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: hash === 'sha1' ? '1.3.14.3.2.26' : '2.16.840.1.101.3.4.2.1', parameters: new Uint8Array([5, 0]).buffer }),
    issuerNameHash: digest(rawSubject(issuerCert)),
    issuerKeyHash: digest(subjectPublicKeyBits(issuerCert)),
    serialNumber: new Uint8Array(Buffer.from(serialHex, 'hex')).buffer,
  });
  const tbsRequest = new TBSRequest({ requestList: [new Request({ reqCert: certId })] });
  // id-pkix-ocsp-nonce (RFC 8954 §2.1): the nonce as an OCTET STRING inside the extension's value.
  if (nonce) tbsRequest.requestExtensions = new Extensions([new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new OctetString(AsnConvert.serialize(new OctetString(nonce))) })]);
  return new Uint8Array(AsnConvert.serialize(new OCSPRequest({ tbsRequest })));
}

