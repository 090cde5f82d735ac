/** failInfo values (RFC 8894 §3.2.1.4), sent as a PrintableString of the number. */
export const FAIL_INFO = { badAlg: '0', badMessageCheck: '1', badRequest: '2', badTime: '3', badCertId: '4' } as const;
export type FailInfo = keyof typeof FAIL_INFO;

/** A SCEP request refused: answered with a CertRep of pkiStatus FAILURE and this failInfo, signed by the RA. */
export class ScepFailure extends Error {
  constructor(
    readonly failInfo: FailInfo,
    message: string,
  ) {
    super(message);
    this.name = 'ScepFailure';
  }
}
