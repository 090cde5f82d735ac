/** PKIFailureInfo bits (RFC 9810 §5.2.3), by name. */
export const FAILURE_BITS = {
  badAlg: 0,
  badMessageCheck: 1,
  badRequest: 2,
  badTime: 3,
  badCertId: 4,
  badDataFormat: 5,
  wrongAuthority: 6,
  incorrectData: 7,
  missingTimeStamp: 8,
  badPOP: 9,
  certRevoked: 10,
  certConfirmed: 11,
  wrongIntegrity: 12,
  badRecipientNonce: 13,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  badSenderNonce: 18,
  badCertTemplate: 19,
  signerNotTrusted: 20,
  transactionIdInUse: 21,
  unsupportedVersion: 22,
  notAuthorized: 23,
  systemUnavail: 24,
  systemFailure: 25,
  duplicateCertReq: 26,
} as const;
export type FailureName = keyof typeof FAILURE_BITS;

/** A CMP refusal: answered as an `error` message whose PKIStatusInfo says rejection, the bit and the reason. */
export class CmpFailure extends Error {
  constructor(
    readonly failure: FailureName,
    message: string,
  ) {
    super(message);
    this.name = 'CmpFailure';
  }
}

/** PKIFailureInfo as DER BIT STRING with one named bit set (trailing zero bits dropped, X.690 §11.2.2). */
export function failureInfoDer(failure: FailureName): Uint8Array {
  const bit = FAILURE_BITS[failure];
  const bytes = new Uint8Array((bit >> 3) + 1);
  bytes[bit >> 3] = 0x80 >> (bit & 7);
  return Uint8Array.of(0x03, bytes.length + 1, 7 - (bit & 7), ...bytes);
}
