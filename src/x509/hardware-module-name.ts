import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { GeneralName, OtherName } from '@peculiar/asn1-x509';

/** id-on-hardwareModuleName (RFC 4108 §5). */
export const ID_ON_HARDWARE_MODULE_NAME = '1.3.6.1.5.5.7.8.4';
/** tcg-sv-tpm20: the hwType of a TPM 2.0 (TCG OID registry; TPM 2.0 Keys for Device Identity and Attestation). */
export const HW_TYPE_TPM20 = '2.23.133.1.2';

/** HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING } (RFC 4108 §5). */
@AsnType({ type: AsnTypeTypes.Sequence })
export class HardwareModuleName {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier }) hwType = '';
  @AsnProp({ type: OctetString }) hwSerialNum = new OctetString();
  constructor(params: Partial<HardwareModuleName> = {}) {
    Object.assign(this, params);
  }
}

export interface HardwareModule {
  type: string;
  serial: Uint8Array;
}

/** The otherName GeneralName that names a hardware module (a TPM) in a subjectAltName. */
export const hardwareModuleGeneralName = (module: HardwareModule): GeneralName =>
  new GeneralName({
    otherName: new OtherName({
      typeId: ID_ON_HARDWARE_MODULE_NAME,
      value: AsnConvert.serialize(new HardwareModuleName({ hwType: module.type, hwSerialNum: new OctetString(module.serial) })),
    }),
  });
