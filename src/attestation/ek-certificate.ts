import { createHash, createPublicKey } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { x509 } from '../x509/crypto-provider.js';
import { HallmarkError } from '../base/errors.js';
import { publicKeyOf, type TpmPublic } from './tpm-public.js';

/** TCG attribute OIDs of the TPM in an EK certificate's subjectAltName directoryName (TCG EK Credential Profile §3.2.9). */
const TPM_MANUFACTURER = '2.23.133.2.1';
const TPM_MODEL = '2.23.133.2.2';
const TPM_VERSION = '2.23.133.2.3';

/** A TPM as Hallmark knows it: its endorsement key, and the manufacturer's certificate of it when there is one. */
export interface EkIdentity {
  /** SHA-256 of the EK's SubjectPublicKeyInfo (hex): the TPM's identity in Hallmark's records. */
  id: string;
  spkiDer: Uint8Array;
  certificate?: {
    serial: string;
    issuer: string;
    authorityKeyId?: string;
    /** TPM manufacturer code, e.g. 00001014 (from "id:00001014"). */
    manufacturer?: string;
    model?: string;
    version?: string;
  };
}

const refused = (code: string, message: string) => new HallmarkError(code, message, 403);

function tpmAttributes(cert: x509.X509Certificate): { manufacturer?: string; model?: string; version?: string } {
  const ext = cert.extensions.find((e) => e.type === id_ce_subjectAltName);
  if (!ext) return {};
  const found: Record<string, string> = {};
  for (const name of AsnConvert.parse(ext.value, SubjectAlternativeName)) {
    for (const rdn of name.directoryName ?? []) for (const attribute of rdn) found[attribute.type] = attribute.value.toString();
  }
  const strip = (v?: string) => v?.replace(/^id:/, '');
  return { manufacturer: strip(found[TPM_MANUFACTURER]), model: found[TPM_MODEL], version: strip(found[TPM_VERSION]) };
}

const validAt = (cert: x509.X509Certificate, now: Date) => cert.notBefore.getTime() <= now.getTime() && now.getTime() <= cert.notAfter.getTime();

/**
 * The TPM's identity, once its EK is trusted: an EK certificate that chains (through intermediates the
 * client sends, at most four) to a configured TPM manufacturer certificate, every link valid now, whose
 * public key is the EK's own; or, where the profile allows it, the bare EK (its trust then comes from
 * whoever vouches for the device: a provisioning station, a one-time secret).
 */
export async function trustedEk(input: { ek: TpmPublic; certificate?: Uint8Array; intermediates?: Uint8Array[]; anchors: Uint8Array[]; now: Date; certificateRequired: boolean }): Promise<EkIdentity> {
  const spkiDer = new Uint8Array(publicKeyOf(input.ek).export({ type: 'spki', format: 'der' }));
  const id = createHash('sha256').update(spkiDer).digest('hex');
  if (!input.certificate) {
    if (input.certificateRequired) throw refused('ek_certificate_required', 'this profile needs the EK certificate from the TPM\'s manufacturer (ekCertificate: read it with tpm2_nvread 0x1c00002 for an RSA EK)');
    return { id, spkiDer };
  }
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(input.certificate);
  } catch {
    throw new HallmarkError('invalid_request', 'ekCertificate is not a DER or PEM X.509 certificate', 400);
  }
  const certKey = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  if (!certKey.equals(publicKeyOf(input.ek))) throw refused('ek_mismatch', 'the EK certificate is for another key than the EK public area sent (ekPublic)');
  if (!validAt(cert, input.now)) throw refused('ek_untrusted', `the EK certificate is not valid now (${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})`);
  const anchors = input.anchors.map((der) => new x509.X509Certificate(der));
  const pool = [...anchors, ...(input.intermediates ?? []).map((der) => new x509.X509Certificate(der))];
  let current = cert;
  for (let depth = 0; depth < 5; depth++) {
    let issuer: x509.X509Certificate | undefined;
    for (const candidate of pool) {
      if (candidate.subject !== current.issuer || !validAt(candidate, input.now)) continue;
      if (await current.verify({ publicKey: candidate.publicKey, signatureOnly: true }).catch(() => false)) {
        issuer = candidate;
        break;
      }
    }
    if (!issuer) break;
    if (anchors.some((a) => a.equal(issuer))) {
      return {
        id,
        spkiDer,
        certificate: { serial: cert.serialNumber.toLowerCase(), issuer: cert.issuer, authorityKeyId: cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase(), ...tpmAttributes(cert) },
      };
    }
    current = issuer;
  }
  throw refused('ek_untrusted', `the EK certificate (issuer "${cert.issuer}") does not chain to a TPM manufacturer this CA trusts (attestation.tpmRoots in the CA configuration)`);
}

/**
 * hwSerialNum of the HardwareModuleName for a TPM (TCG "TPM 2.0 Keys for Device Identity and
 * Attestation" §8.x): with an EK certificate, "<manufacturer>:<EK AKI hex>:<EK serial hex>"; without,
 * the SHA-256 of the EK public key.
 */
export function tpmHardwareSerial(ek: EkIdentity): Uint8Array {
  const c = ek.certificate;
  if (c) return new TextEncoder().encode(`${c.manufacturer ?? ''}:${c.authorityKeyId ?? ''}:${c.serial}`);
  return new Uint8Array(createHash('sha256').update(ek.spkiDer).digest());
}
