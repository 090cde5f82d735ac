import { AsnArray, AsnIntegerArrayBufferConverter, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Extensions, GeneralName, Name, SubjectPublicKeyInfo, Time } from '@peculiar/asn1-x509';
import { CertificationRequest } from '@peculiar/asn1-csr';

/*
 * The CMP messages Hallmark reads and writes (RFC 9810/4210 §5, CRMF RFC 4211), as schemas for
 * @peculiar/asn1-schema: no package of the field defines them. The CMP module is EXPLICIT TAGS, the
 * CRMF module IMPLICIT TAGS (a tagged CHOICE, Name or Time, is explicit all the same: X.680 §31.2.7).
 * Only the arms Hallmark serves are declared; a message with another body fails to parse (badRequest).
 */

/** PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String */
@AsnType({ type: AsnTypeTypes.Sequence, itemType: AsnPropTypes.Utf8String })
export class PKIFreeText extends AsnArray<string> {}

/** InfoTypeAndValue ::= SEQUENCE { infoType OBJECT IDENTIFIER, infoValue ANY DEFINED BY infoType OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class InfoTypeAndValue {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier }) infoType = '';
  @AsnProp({ type: AsnPropTypes.Any, optional: true }) infoValue?: ArrayBuffer;
  constructor(params: Partial<InfoTypeAndValue> = {}) {
    Object.assign(this, params);
  }
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: InfoTypeAndValue })
export class InfoTypeAndValues extends AsnArray<InfoTypeAndValue> {}

/** SEQUENCE OF CMPCertificate, each kept as its DER (a certificate is never re-encoded: its signature covers its bytes). */
@AsnType({ type: AsnTypeTypes.Sequence, itemType: AsnPropTypes.Any })
export class CmpCertificates extends AsnArray<ArrayBuffer> {}

/** PKIHeader (RFC 9810 §5.1.1), EXPLICIT tags. */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PKIHeader {
  @AsnProp({ type: AsnPropTypes.Integer }) pvno = 2;
  @AsnProp({ type: GeneralName }) sender = new GeneralName();
  @AsnProp({ type: GeneralName }) recipient = new GeneralName();
  @AsnProp({ type: AsnPropTypes.GeneralizedTime, context: 0, optional: true }) messageTime?: Date;
  @AsnProp({ type: AlgorithmIdentifier, context: 1, optional: true }) protectionAlg?: AlgorithmIdentifier;
  @AsnProp({ type: OctetString, context: 2, optional: true }) senderKID?: OctetString;
  @AsnProp({ type: OctetString, context: 3, optional: true }) recipKID?: OctetString;
  @AsnProp({ type: OctetString, context: 4, optional: true }) transactionID?: OctetString;
  @AsnProp({ type: OctetString, context: 5, optional: true }) senderNonce?: OctetString;
  @AsnProp({ type: OctetString, context: 6, optional: true }) recipNonce?: OctetString;
  @AsnProp({ type: PKIFreeText, context: 7, optional: true }) freeText?: PKIFreeText;
  @AsnProp({ type: InfoTypeAndValues, context: 8, optional: true }) generalInfo?: InfoTypeAndValues;
  constructor(params: Partial<PKIHeader> = {}) {
    Object.assign(this, params);
  }
}

/** OptionalValidity ::= SEQUENCE { notBefore [0] Time OPTIONAL, notAfter [1] Time OPTIONAL } (CRMF) */
@AsnType({ type: AsnTypeTypes.Sequence })
export class OptionalValidity {
  @AsnProp({ type: Time, context: 0, optional: true }) notBefore?: Time;
  @AsnProp({ type: Time, context: 1, optional: true }) notAfter?: Time;
}

/** CertTemplate (RFC 4211 §5), IMPLICIT tags but for the CHOICEs (issuer, subject: Name). */
@AsnType({ type: AsnTypeTypes.Sequence })
export class CertTemplate {
  @AsnProp({ type: AsnPropTypes.Integer, context: 0, implicit: true, optional: true }) version?: number;
  @AsnProp({ type: AsnPropTypes.Integer, context: 1, implicit: true, optional: true, converter: AsnIntegerArrayBufferConverter }) serialNumber?: ArrayBuffer;
  @AsnProp({ type: AlgorithmIdentifier, context: 2, implicit: true, optional: true }) signingAlg?: AlgorithmIdentifier;
  @AsnProp({ type: Name, context: 3, optional: true }) issuer?: Name;
  @AsnProp({ type: OptionalValidity, context: 4, implicit: true, optional: true }) validity?: OptionalValidity;
  @AsnProp({ type: Name, context: 5, optional: true }) subject?: Name;
  @AsnProp({ type: SubjectPublicKeyInfo, context: 6, implicit: true, optional: true }) publicKey?: SubjectPublicKeyInfo;
  @AsnProp({ type: AsnPropTypes.BitString, context: 7, implicit: true, optional: true }) issuerUID?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.BitString, context: 8, implicit: true, optional: true }) subjectUID?: ArrayBuffer;
  @AsnProp({ type: Extensions, context: 9, implicit: true, optional: true }) extensions?: Extensions;
}

/** CertRequest ::= SEQUENCE { certReqId INTEGER, certTemplate CertTemplate, controls Controls OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class CertRequest {
  @AsnProp({ type: AsnPropTypes.Integer }) certReqId = 0;
  @AsnProp({ type: CertTemplate }) certTemplate = new CertTemplate();
  @AsnProp({ type: AsnPropTypes.Any, optional: true }) controls?: ArrayBuffer;
}

/** POPOSigningKey ::= SEQUENCE { poposkInput [0] POPOSigningKeyInput OPTIONAL, algorithmIdentifier, signature BIT STRING } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class POPOSigningKey {
  @AsnProp({ type: AsnPropTypes.Any, context: 0, implicit: true, optional: true }) poposkInput?: ArrayBuffer;
  @AsnProp({ type: AlgorithmIdentifier }) algorithmIdentifier = new AlgorithmIdentifier();
  @AsnProp({ type: AsnPropTypes.BitString }) signature = new ArrayBuffer(0);
}

/** ProofOfPossession ::= CHOICE { raVerified [0] NULL, signature [1] POPOSigningKey, keyEncipherment [2], keyAgreement [3] } */
@AsnType({ type: AsnTypeTypes.Choice })
export class ProofOfPossession {
  @AsnProp({ type: AsnPropTypes.Null, context: 0, implicit: true }) raVerified?: null;
  @AsnProp({ type: POPOSigningKey, context: 1, implicit: true }) signature?: POPOSigningKey;
  @AsnProp({ type: AsnPropTypes.Any, context: 2 }) keyEncipherment?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.Any, context: 3 }) keyAgreement?: ArrayBuffer;
}

/** CertReqMsg ::= SEQUENCE { certReq CertRequest, popo ProofOfPossession OPTIONAL, regInfo … OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class CertReqMsg {
  @AsnProp({ type: CertRequest }) certReq = new CertRequest();
  @AsnProp({ type: ProofOfPossession, optional: true }) popo?: ProofOfPossession;
  @AsnProp({ type: AsnPropTypes.Any, optional: true }) regInfo?: ArrayBuffer;
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: CertReqMsg })
export class CertReqMessages extends AsnArray<CertReqMsg> {}

/** PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL, failInfo PKIFailureInfo OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PKIStatusInfo {
  @AsnProp({ type: AsnPropTypes.Integer }) status = 0;
  @AsnProp({ type: PKIFreeText, optional: true }) statusString?: PKIFreeText;
  @AsnProp({ type: AsnPropTypes.Any, optional: true }) failInfo?: ArrayBuffer;
  constructor(params: Partial<PKIStatusInfo> = {}) {
    Object.assign(this, params);
  }
}

/** CertOrEncCert ::= CHOICE { certificate [0] CMPCertificate, encryptedCert [1] EncryptedKey } (explicit) */
@AsnType({ type: AsnTypeTypes.Choice })
export class CertOrEncCert {
  @AsnProp({ type: AsnPropTypes.Any, context: 0 }) certificate?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.Any, context: 1 }) encryptedCert?: ArrayBuffer;
  constructor(params: Partial<CertOrEncCert> = {}) {
    Object.assign(this, params);
  }
}

/** CertifiedKeyPair ::= SEQUENCE { certOrEncCert, privateKey [0] OPTIONAL, publicationInfo [1] OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class CertifiedKeyPair {
  @AsnProp({ type: CertOrEncCert }) certOrEncCert = new CertOrEncCert();
}

/** CertResponse ::= SEQUENCE { certReqId INTEGER, status PKIStatusInfo, certifiedKeyPair OPTIONAL, rspInfo OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class CertResponse {
  @AsnProp({ type: AsnPropTypes.Integer }) certReqId = 0;
  @AsnProp({ type: PKIStatusInfo }) status = new PKIStatusInfo();
  @AsnProp({ type: CertifiedKeyPair, optional: true }) certifiedKeyPair?: CertifiedKeyPair;
  constructor(params: Partial<CertResponse> = {}) {
    Object.assign(this, params);
  }
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: CertResponse })
export class CertResponses extends AsnArray<CertResponse> {}

/** CertRepMessage ::= SEQUENCE { caPubs [1] SEQUENCE OF CMPCertificate OPTIONAL, response SEQUENCE OF CertResponse } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class CertRepMessage {
  @AsnProp({ type: CmpCertificates, context: 1, optional: true }) caPubs?: CmpCertificates;
  @AsnProp({ type: CertResponses }) response = new CertResponses();
}

/** CertStatus ::= SEQUENCE { certHash OCTET STRING, certReqId INTEGER, statusInfo PKIStatusInfo OPTIONAL, hashAlg [0] OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class CertStatus {
  @AsnProp({ type: OctetString }) certHash = new OctetString();
  @AsnProp({ type: AsnPropTypes.Integer }) certReqId = 0;
  @AsnProp({ type: PKIStatusInfo, optional: true }) statusInfo?: PKIStatusInfo;
  @AsnProp({ type: AlgorithmIdentifier, context: 0, optional: true }) hashAlg?: AlgorithmIdentifier;
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: CertStatus })
export class CertConfirmContent extends AsnArray<CertStatus> {}

/** RevDetails ::= SEQUENCE { certDetails CertTemplate, crlEntryDetails Extensions OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class RevDetails {
  @AsnProp({ type: CertTemplate }) certDetails = new CertTemplate();
  @AsnProp({ type: Extensions, optional: true }) crlEntryDetails?: Extensions;
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: RevDetails })
export class RevReqContent extends AsnArray<RevDetails> {}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: PKIStatusInfo })
export class PKIStatusInfos extends AsnArray<PKIStatusInfo> {}

/** RevRepContent ::= SEQUENCE { status SEQUENCE OF PKIStatusInfo, revCerts [0] OPTIONAL, crls [1] OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class RevRepContent {
  @AsnProp({ type: PKIStatusInfos }) status = new PKIStatusInfos();
}

/** ErrorMsgContent ::= SEQUENCE { pKIStatusInfo, errorCode INTEGER OPTIONAL, errorDetails PKIFreeText OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class ErrorMsgContent {
  @AsnProp({ type: PKIStatusInfo }) pKIStatusInfo = new PKIStatusInfo();
  @AsnProp({ type: AsnPropTypes.Integer, optional: true }) errorCode?: number;
  @AsnProp({ type: PKIFreeText, optional: true }) errorDetails?: PKIFreeText;
}

/** PollReqContent ::= SEQUENCE OF SEQUENCE { certReqId INTEGER } (RFC 9810 §5.3.22) */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PollReq {
  @AsnProp({ type: AsnPropTypes.Integer }) certReqId = 0;
}
@AsnType({ type: AsnTypeTypes.Sequence, itemType: PollReq })
export class PollReqContent extends AsnArray<PollReq> {}

/** PollRepContent ::= SEQUENCE OF SEQUENCE { certReqId INTEGER, checkAfter INTEGER, reason PKIFreeText OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PollRep {
  @AsnProp({ type: AsnPropTypes.Integer }) certReqId = 0;
  @AsnProp({ type: AsnPropTypes.Integer }) checkAfter = 0;
  @AsnProp({ type: PKIFreeText, optional: true }) reason?: PKIFreeText;
}
@AsnType({ type: AsnTypeTypes.Sequence, itemType: PollRep })
export class PollRepContent extends AsnArray<PollRep> {}

/** PKIBody: the arms Hallmark serves, EXPLICIT tags (RFC 9810 §5.1.2). */
@AsnType({ type: AsnTypeTypes.Choice })
export class PKIBody {
  @AsnProp({ type: CertReqMessages, context: 0 }) ir?: CertReqMessages;
  @AsnProp({ type: CertRepMessage, context: 1 }) ip?: CertRepMessage;
  @AsnProp({ type: CertReqMessages, context: 2 }) cr?: CertReqMessages;
  @AsnProp({ type: CertRepMessage, context: 3 }) cp?: CertRepMessage;
  @AsnProp({ type: CertificationRequest, context: 4 }) p10cr?: CertificationRequest;
  @AsnProp({ type: CertReqMessages, context: 7 }) kur?: CertReqMessages;
  @AsnProp({ type: CertRepMessage, context: 8 }) kup?: CertRepMessage;
  @AsnProp({ type: RevReqContent, context: 11 }) rr?: RevReqContent;
  @AsnProp({ type: RevRepContent, context: 12 }) rp?: RevRepContent;
  @AsnProp({ type: AsnPropTypes.Null, context: 19 }) pkiconf?: null;
  @AsnProp({ type: InfoTypeAndValues, context: 21 }) genm?: InfoTypeAndValues;
  @AsnProp({ type: InfoTypeAndValues, context: 22 }) genp?: InfoTypeAndValues;
  @AsnProp({ type: ErrorMsgContent, context: 23 }) error?: ErrorMsgContent;
  @AsnProp({ type: CertConfirmContent, context: 24 }) certConf?: CertConfirmContent;
  @AsnProp({ type: PollReqContent, context: 25 }) pollReq?: PollReqContent;
  @AsnProp({ type: PollRepContent, context: 26 }) pollRep?: PollRepContent;
  constructor(params: Partial<PKIBody> = {}) {
    Object.assign(this, params);
  }
}

/** PKIMessage ::= SEQUENCE { header, body, protection [0] BIT STRING OPTIONAL, extraCerts [1] OPTIONAL } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PKIMessage {
  @AsnProp({ type: PKIHeader }) header = new PKIHeader();
  @AsnProp({ type: PKIBody }) body = new PKIBody();
  @AsnProp({ type: AsnPropTypes.BitString, context: 0, optional: true }) protection?: ArrayBuffer;
  @AsnProp({ type: CmpCertificates, context: 1, optional: true }) extraCerts?: CmpCertificates;
  constructor(params: Partial<PKIMessage> = {}) {
    Object.assign(this, params);
  }
}

/** ProtectedPart ::= SEQUENCE { header PKIHeader, body PKIBody }: what the protection covers (§5.1.3). */
@AsnType({ type: AsnTypeTypes.Sequence })
export class ProtectedPart {
  @AsnProp({ type: PKIHeader }) header = new PKIHeader();
  @AsnProp({ type: PKIBody }) body = new PKIBody();
  constructor(params: Partial<ProtectedPart> = {}) {
    Object.assign(this, params);
  }
}

/** PBMParameter ::= SEQUENCE { salt OCTET STRING, owf AlgorithmIdentifier, iterationCount INTEGER, mac AlgorithmIdentifier } */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PBMParameter {
  @AsnProp({ type: OctetString }) salt = new OctetString();
  @AsnProp({ type: AlgorithmIdentifier }) owf = new AlgorithmIdentifier();
  @AsnProp({ type: AsnPropTypes.Integer }) iterationCount = 0;
  @AsnProp({ type: AlgorithmIdentifier }) mac = new AlgorithmIdentifier();
}

/** PBKDF2-params (RFC 8018 §A.2): salt (specified), iterationCount, keyLength, prf (default hmacWithSHA1). */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PBKDF2Params {
  @AsnProp({ type: OctetString }) salt = new OctetString();
  @AsnProp({ type: AsnPropTypes.Integer }) iterationCount = 0;
  @AsnProp({ type: AsnPropTypes.Integer, optional: true }) keyLength?: number;
  @AsnProp({ type: AlgorithmIdentifier, optional: true }) prf?: AlgorithmIdentifier;
}

/** PBMAC1-params (RFC 8018 §A.5, RFC 9481 §6.1.1): the key from PBKDF2, the MAC an HMAC. */
@AsnType({ type: AsnTypeTypes.Sequence })
export class PBMAC1Params {
  @AsnProp({ type: AlgorithmIdentifier }) keyDerivationFunc = new AlgorithmIdentifier();
  @AsnProp({ type: AlgorithmIdentifier }) messageAuthScheme = new AlgorithmIdentifier();
}
