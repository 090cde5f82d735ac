import { isoTime } from '../base/iso-time.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import type { CaRow } from '../store/cas.js';
import { toPem } from '../x509/pem.js';
import { signatureAlgorithmName } from '../x509/algorithm-names.js';

/** A CA as the CLI and the REST API show it; the PEM certificate only where asked for. */
export const caView = (row: CaRow, withPem = false) => ({
  name: row.name,
  parent: row.parent,
  subject: row.subject,
  serial: row.serial,
  keyType: row.key_type,
  keyUri: row.key_uri,
  notBefore: new Date(Number(row.not_before)).toISOString(),
  notAfter: new Date(Number(row.not_after)).toISOString(),
  status: row.status,
  family: row.family ?? row.name,
  activeFrom: isoTime(row.active_from),
  retiredAt: isoTime(row.retired_at),
  signatureAlgorithm: signatureAlgorithmName(AsnConvert.parse(row.certificate, Certificate).signatureAlgorithm.algorithm),
  ...(withPem ? { certificate: toPem(row.certificate, 'CERTIFICATE') } : {}),
});
