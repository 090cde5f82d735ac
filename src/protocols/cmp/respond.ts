import { randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, GeneralName, Name } from '@peculiar/asn1-x509';
import type { LoadedSigner } from '../../signing/signers.js';
import { exactBuffer } from '../../x509/bytes.js';
import { derGeneralizedTime } from '../../x509/der.js';
import { algorithmIdentifier } from '../../x509/signature-algorithms.js';
import { subjectKeyIdentifierOf } from './responder-key-id.js';
import { CmpCertificates, ErrorMsgContent, InfoTypeAndValue, InfoTypeAndValues, PKIBody, PKIFreeText, PKIHeader, PKIMessage, PKIStatusInfo, ProtectedPart } from './asn1.js';
import { failureInfoDer, type FailureName } from './failure.js';

/** id-it-implicitConfirm (RFC 9810 §5.1.1.1): the certificate needs no certConf. */
export const id_it_implicitConfirm = '1.3.6.1.5.5.7.4.13';
/** id-it-confirmWaitTime (RFC 9810 §5.1.1.2): until when the server waits for the certConf. */
const id_it_confirmWaitTime = '1.3.6.1.5.5.7.4.14';

/** What an answer repeats of the request it answers (RFC 9810 §5.1.1: transactionID, nonces, the sender as recipient). */
export interface AnswerTo {
  pvno: number;
  sender: GeneralName;
  transactionID?: ArrayBuffer;
  senderNonce?: ArrayBuffer;
}

/** The empty directory name (RFC 9483 §3.1: the sender or recipient when none is known). */
export const NULL_DN = () => new GeneralName({ directoryName: new Name() });

/**
 * A response, signature-protected by the CMP responder's key on the token (RFC 9483 §3.2), with the
 * responder's certificate first in extraCerts and its CAs below the root after it (§3.3). The header
 * carries a fresh senderNonce (returned, to be recorded) and the request's nonce as recipNonce.
 */
export async function protectedResponse(responder: LoadedSigner, to: AnswerTo, body: PKIBody, options: { implicitConfirm?: boolean; confirmWaitTime?: Date; now: Date }): Promise<{ der: Uint8Array; senderNonce: Uint8Array }> {
  const certificate = AsnConvert.parse(responder.chain[0]!, Certificate);
  const senderNonce = new Uint8Array(randomBytes(16));
  const header = new PKIHeader({
    pvno: to.pvno === 3 ? 3 : 2,
    sender: new GeneralName({ directoryName: certificate.tbsCertificate.subject }),
    recipient: to.sender ?? NULL_DN(),
    messageTime: new Date(Math.floor(options.now.getTime() / 1000) * 1000),
    protectionAlg: algorithmIdentifier(responder.key.algorithm),
    senderKID: new OctetString(subjectKeyIdentifierOf(certificate)),
    transactionID: to.transactionID ? new OctetString(to.transactionID) : undefined,
    senderNonce: new OctetString(senderNonce),
    recipNonce: to.senderNonce ? new OctetString(to.senderNonce) : undefined,
    generalInfo: generalInfo(options),
  });
  const part = new Uint8Array(AsnConvert.serialize(new ProtectedPart({ header, body })));
  const signature = await responder.key.sign(part);
  const message = new PKIMessage({ header, body, protection: exactBuffer(signature), extraCerts: new CmpCertificates(responder.chain.map(exactBuffer)) });
  return { der: new Uint8Array(AsnConvert.serialize(message)), senderNonce };
}

/** PKIStatusInfo: accepted (0), or rejection (2) with a failure bit and the reason in words. */
export function statusInfo(outcome: { failure: FailureName; reason: string } | undefined): PKIStatusInfo {
  if (!outcome) return new PKIStatusInfo({ status: 0 });
  return new PKIStatusInfo({ status: 2, statusString: new PKIFreeText([outcome.reason]), failInfo: exactBuffer(failureInfoDer(outcome.failure)) });
}

/** An `error` message body (RFC 9810 §5.3.21): rejection, the failure bit, the reason. */
export function errorBody(failure: FailureName, reason: string): PKIBody {
  const content = new ErrorMsgContent();
  content.pKIStatusInfo = statusInfo({ failure, reason });
  return new PKIBody({ error: content });
}

/** The answer's generalInfo: implicitConfirm granted, or until when the certConf is awaited. */
function generalInfo(options: { implicitConfirm?: boolean; confirmWaitTime?: Date }): InfoTypeAndValues | undefined {
  if (options.implicitConfirm) return new InfoTypeAndValues([new InfoTypeAndValue({ infoType: id_it_implicitConfirm, infoValue: exactBuffer(Uint8Array.of(0x05, 0x00)) })]);
  if (options.confirmWaitTime) return new InfoTypeAndValues([new InfoTypeAndValue({ infoType: id_it_confirmWaitTime, infoValue: exactBuffer(derGeneralizedTime(options.confirmWaitTime)) })]);
  return undefined;
}
