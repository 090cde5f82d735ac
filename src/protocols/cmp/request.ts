import { children, content, DerError, readTlv, whole, type Tlv } from '../../x509/der-reader.js';
import { derSequence } from '../../x509/der.js';
import { interpretExtensions, nothingRequested, verifyCsr, type VerifiedCsr } from '../../x509/csr.js';
import { nameText, verifySignedByKey } from '../../x509/csr-parse.js';
import { HallmarkError } from '../../base/errors.js';
import { CmpFailure } from './failure.js';

/**
 * The parts of a CMP message that are checked as the bytes that were sent, never as re-encoded: the
 * ProtectedPart the protection covers (RFC 9810 §5.1.3) and a certificate request's CertRequest, which
 * its proof of possession signs (RFC 4211 §4.1).
 */
export interface RawMessage {
  der: Uint8Array;
  header: Tlv;
  body: Tlv;
  /** DER SEQUENCE { header, body } as sent. */
  protectedPart: Uint8Array;
}

export function rawMessage(der: Uint8Array): RawMessage {
  try {
    const outer = readTlv(der, 0);
    if (outer.tag !== 0x30 || outer.end !== der.length) throw new DerError('not one DER SEQUENCE');
    const [header, body] = children(der, outer);
    if (!header || !body) throw new DerError('no header and body');
    return { der, header, body, protectedPart: derSequence(whole(der, header), whole(der, body)) };
  } catch (e) {
    throw new CmpFailure('badDataFormat', `not a DER PKIMessage: ${(e as Error).message}`);
  }
}

/** A tagged field of a CertTemplate by its context number, if present. */
const field = (fields: Tlv[], n: number) => fields.find((f) => f.tag === (0xa0 | n) || f.tag === (0x80 | n));

/** The content of an IMPLICIT-tagged SEQUENCE as a SEQUENCE of its own (re-tagged 0x30), for readers that expect one. */
const asSequence = (bytes: Uint8Array, tlv: Tlv) => {
  const copy = bytes.slice(tlv.start, tlv.end);
  copy[0] = 0x30;
  return copy;
};

/**
 * The one certificate request of an ir, cr or kur (RFC 9483 §4.1.1: one CertReqMsg), its proof of
 * possession checked: a signature by the template's public key over the DER CertRequest
 * (POPOSigningKey without poposkInput). What it asks for, in the shape the profile rules read.
 */
export function certificateRequest(message: RawMessage): VerifiedCsr {
  const { der } = message;
  let msg: Tlv[];
  try {
    const [requests] = children(der, message.body);
    const all = children(der, requests!);
    if (all.length !== 1) throw new CmpFailure('badRequest', `${all.length} certificate requests in one message: send one (RFC 9483 §4.1.1)`);
    msg = children(der, all[0]!);
  } catch (e) {
    if (e instanceof CmpFailure) throw e;
    throw new CmpFailure('badDataFormat', `the certificate request is not CertReqMessages: ${(e as Error).message}`);
  }
  const [certReq, popo] = msg;
  let template: Tlv[];
  try {
    // certReqId is read from the parsed message; the template's fields from the bytes as sent.
    const [, templateTlv] = children(der, certReq!);
    template = children(der, templateTlv!);
  } catch (e) {
    throw new CmpFailure('badDataFormat', `the CertRequest cannot be read: ${(e as Error).message}`);
  }
  const publicKey = field(template, 6);
  const subject = field(template, 5);
  if (!publicKey || !subject) throw new CmpFailure('badCertTemplate', 'the certificate template needs a subject and a public key (RFC 9483 §4.1.1)');
  if (!popo || popo.tag !== 0xa1) throw new CmpFailure('badPOP', 'the request carries no signature proof of possession (POPOSigningKey): Hallmark accepts no other');
  const popoFields = children(der, popo);
  if (popoFields[0]?.tag === 0xa0) throw new CmpFailure('badPOP', 'POPOSigningKey with poposkInput: sign the CertRequest itself (the template has subject and key)');
  const [algorithm, signatureTlv] = popoFields;
  if (!algorithm || !signatureTlv || signatureTlv.tag !== 0x03) throw new CmpFailure('badDataFormat', 'POPOSigningKey is not { algorithmIdentifier, signature }');
  const signatureBits = content(der, signatureTlv);
  if (signatureBits[0] !== 0) throw new CmpFailure('badPOP', 'the POP signature has unused bits');

  const spkiBytes = asSequence(der, publicKey);
  // The proof signs the CertRequest as sent; its algorithm and bits are read from the message itself.
  const popBytes = new Uint8Array([...spkiBytes, ...whole(der, certReq!), ...whole(der, algorithm)]);
  const spkiTlv = readTlv(popBytes, 0);
  const signed = popBytes.subarray(spkiBytes.length, spkiBytes.length + (certReq!.end - certReq!.start));
  const algorithmTlv = readTlv(popBytes, spkiBytes.length + signed.length);
  const checked = verifySignedByKey(popBytes, spkiTlv, signed, algorithmTlv, signatureBits.subarray(1));
  if ('code' in checked) throw new CmpFailure(checked.code === 'csr_signature' ? 'badPOP' : 'badCertTemplate', checked.message.replace(/CSR/g, 'request'));

  const nameTlvs = children(der, subject);
  if (nameTlvs.length !== 1) throw new CmpFailure('badCertTemplate', 'the template subject is not one Name');
  const name = nameText(der, nameTlvs[0]!);
  let requested: VerifiedCsr['requested'] | undefined;
  const extensions = field(template, 9);
  if (extensions) {
    try {
      requested = interpretExtensions(asSequence(der, extensions));
    } catch (e) {
      throw new CmpFailure('badCertTemplate', `the template's extensions cannot be read: ${(e as Error).message}`);
    }
  }
  return {
    der: new Uint8Array(),
    spkiDer: checked.spkiDer,
    keyType: checked.keyType,
    subject: name.text,
    subjectDer: whole(der, nameTlvs[0]!).slice(),
    commonName: name.commonName,
    requested: requested ?? nothingRequested(),
  };
}

/** A p10cr's PKCS#10 request, verified as every CSR is (RFC 9483 §4.1.4). */
export async function pkcs10Request(message: RawMessage): Promise<VerifiedCsr> {
  const [request] = children(message.der, message.body);
  if (!request) throw new CmpFailure('badDataFormat', 'p10cr without a CertificationRequest');
  try {
    return await verifyCsr(whole(message.der, request));
  } catch (e) {
    if (e instanceof HallmarkError) throw new CmpFailure(e.code === 'csr_signature' ? 'badPOP' : 'badDataFormat', e.message);
    throw e;
  }
}
