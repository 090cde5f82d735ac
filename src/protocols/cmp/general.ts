import { AsnArray, AsnConvert, AsnType, AsnTypeTypes } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { IssueDeps } from '../../ca/issue.js';
import { exactBuffer } from '../../x509/bytes.js';
import { CmpCertificates, InfoTypeAndValue, InfoTypeAndValues } from './asn1.js';

/** id-it (RFC 9810 §5.3.19, RFC 9483 §4.3) InfoTypes Hallmark answers. */
const id_it_signKeyPairTypes = '1.3.6.1.5.5.7.4.2';
const id_it_caCerts = '1.3.6.1.5.5.7.4.17';

@AsnType({ type: AsnTypeTypes.Sequence, itemType: AlgorithmIdentifier })
class AlgorithmIdentifiers extends AsnArray<AlgorithmIdentifier> {}

const EC = '1.2.840.10045.2.1';
const CURVES: Record<string, string> = { 'ec-p256': '1.2.840.10045.3.1.7', 'ec-p384': '1.3.132.0.34', 'ec-p521': '1.3.132.0.35' };
const DER_NULL = Uint8Array.of(0x05, 0x00);
const oid = (value: string) => new asn1js.ObjectIdentifier({ value }).toBER();

/** The key types the label's profile accepts, as AlgorithmIdentifiers (signKeyPairTypes). */
function keyPairTypes(keyTypes: readonly string[]): AlgorithmIdentifiers {
  return new AlgorithmIdentifiers(
    keyTypes.map((t) =>
      t.startsWith('ec-')
        ? new AlgorithmIdentifier({ algorithm: EC, parameters: oid(CURVES[t]!) })
        : t.startsWith('rsa-')
          ? new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.1', parameters: exactBuffer(DER_NULL) })
          : new AlgorithmIdentifier({ algorithm: '1.3.101.112' }),
    ),
  );
}

/**
 * A genp for a genm (RFC 9483 §4.3): caCerts (the issuing CA's chain and the root) and signKeyPairTypes
 * (what the label's profile accepts); InfoTypes Hallmark does not know are left out of the answer, as
 * RFC 9810 §5.3.19 allows.
 */
export function genpFor(genm: InfoTypeAndValues, context: { issue: IssueDeps; root: Uint8Array; profile: string }): InfoTypeAndValues {
  const profile = context.issue.profiles.get(context.profile)!;
  const answers: InfoTypeAndValue[] = [];
  for (const asked of genm) {
    if (asked.infoType === id_it_caCerts) {
      const issuer = context.issue.issuers.get(profile.issuer);
      const certs = [issuer.certificate, ...issuer.chain.slice(1), context.root].filter((c, i, all) => all.findIndex((o) => Buffer.compare(o, c) === 0) === i);
      answers.push(new InfoTypeAndValue({ infoType: id_it_caCerts, infoValue: AsnConvert.serialize(new CmpCertificates(certs.map(exactBuffer))) }));
    } else if (asked.infoType === id_it_signKeyPairTypes) {
      answers.push(new InfoTypeAndValue({ infoType: id_it_signKeyPairTypes, infoValue: AsnConvert.serialize(keyPairTypes(profile.keyTypes)) }));
    }
  }
  return new InfoTypeAndValues(answers);
}
