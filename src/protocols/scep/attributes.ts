import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { attribute } from '../../signing/cms.js';
import { tlv } from '../../x509/der.js';

/** SCEP's signed attributes (RFC 8894 §3.2.1), under id-VeriSign pki-attributes 2.16.840.1.113733.1.9. */
export const SCEP_ATTRIBUTES = {
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionID: '2.16.840.1.113733.1.9.7',
} as const;

/** messageType values (§3.2.1.2). */
export const MESSAGE_TYPE = { CertRep: '3', RenewalReq: '17', PKCSReq: '19', CertPoll: '20', GetCert: '21', GetCRL: '22' } as const;
/** pkiStatus values (§3.2.1.3). */
export const PKI_STATUS = { SUCCESS: '0', FAILURE: '2', PENDING: '3' } as const;

const printable = (value: string) => tlv(0x13, new TextEncoder().encode(value)).slice().buffer as ArrayBuffer;
export const printableAttribute = (oid: string, value: string) => attribute(oid, printable(value));
export const nonceAttribute = (oid: string, nonce: Uint8Array) => attribute(oid, AsnConvert.serialize(new OctetString(nonce)));
