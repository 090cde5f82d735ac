import { AsnArray, AsnConvert, AsnType, AsnTypeTypes } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { IssueDeps } from '../../ca/issue.js';
import type { Profile } from '../../profiles/schema.js';
import { activeInternalCertificates } from '../../store/certificates.js';
import { createCrlStore } from '../../store/crls.js';
import type { Store } from '../../store/handle.js';
import { derSequence, tlv } from '../../x509/der.js';
import { exactBuffer } from '../../x509/bytes.js';
import type { KeyType } from '../../x509/key-types.js';
import { keyAlgorithmIdentifier } from '../../x509/spki.js';
import { CmpCertificates, InfoTypeAndValue, InfoTypeAndValues } from './asn1.js';

/** id-it (RFC 9810 §5.3.19, RFC 9483 §4.3) InfoTypes Hallmark answers. */
const id_it_signKeyPairTypes = '1.3.6.1.5.5.7.4.2';
const id_it_currentCRL = '1.3.6.1.5.5.7.4.6';
const id_it_unsupportedOIDs = '1.3.6.1.5.5.7.4.7';
const id_it_suppLangTags = '1.3.6.1.5.5.7.4.16';
const id_it_caCerts = '1.3.6.1.5.5.7.4.17';
const id_it_rootCaKeyUpdate = '1.3.6.1.5.5.7.4.18';
const id_it_certReqTemplate = '1.3.6.1.5.5.7.4.19';
/** id-regCtrl-algId and id-regCtrl-rsaKeyLen (RFC 9483 §4.3.3): the key a certificate request should carry. */
const id_regCtrl_algId = '1.3.6.1.5.5.7.5.1.11';
const id_regCtrl_rsaKeyLen = '1.3.6.1.5.5.7.5.1.12';

@AsnType({ type: AsnTypeTypes.Sequence, itemType: AlgorithmIdentifier })
class AlgorithmIdentifiers extends AsnArray<AlgorithmIdentifier> {}

const oid = (value: string) => new Uint8Array(new asn1js.ObjectIdentifier({ value }).toBER());

/** The key types the label's profile accepts, as AlgorithmIdentifiers (signKeyPairTypes). */
const keyPairTypes = (keyTypes: readonly KeyType[]) => new AlgorithmIdentifiers(keyTypes.map(keyAlgorithmIdentifier));

/**
 * CertReqTemplateContent ::= SEQUENCE { certTemplate CertTemplate, keySpec Controls OPTIONAL } (RFC 9483
 * §4.3.3): the subject the device asks for (CN its id, as the label's enrollment requires) and, as
 * keySpec, the key types the profile accepts (id-regCtrl-algId for a curve, id-regCtrl-rsaKeyLen for RSA).
 */
function certReqTemplate(keyTypes: readonly KeyType[], device: string): Uint8Array {
  const subject = derSequence(tlv(0x31, derSequence(oid('2.5.4.3'), tlv(0x0c, new TextEncoder().encode(device)))));
  const template = derSequence(tlv(0xa5, subject)); // subject [5] Name (explicit: Name is a CHOICE)
  const controls = keyTypes.map((t) =>
    t.startsWith('rsa-')
      ? derSequence(oid(id_regCtrl_rsaKeyLen), Uint8Array.of(0x02, 0x02, (Number(t.slice(4)) >> 8) & 0xff, Number(t.slice(4)) & 0xff))
      : derSequence(oid(id_regCtrl_algId), new Uint8Array(AsnConvert.serialize(keyAlgorithmIdentifier(t)))),
  );
  return derSequence(template, derSequence(...controls));
}

type GenmContext = { issue: IssueDeps; store: Store; root: Uint8Array; rootCa: string; profile: string; device: string; now: Date };

/** What Hallmark answers for each InfoType it serves: the value's DER, or undefined when it has none (no CRL yet). */
const ANSWERS: Record<string, (context: GenmContext, profile: Profile) => Promise<Uint8Array | undefined>> = {
  [id_it_caCerts]: async (context, profile) => {
    const issuer = context.issue.issuers.get(profile.issuer);
    const certs = [issuer.certificate, ...issuer.chain.slice(1), context.root].filter((c, i, all) => all.findIndex((o) => Buffer.compare(o, c) === 0) === i);
    return new Uint8Array(AsnConvert.serialize(new CmpCertificates(certs.map(exactBuffer))));
  },
  [id_it_signKeyPairTypes]: async (_context, profile) => new Uint8Array(AsnConvert.serialize(keyPairTypes(profile.keyTypes))),
  [id_it_certReqTemplate]: async (context, profile) => certReqTemplate(profile.keyTypes, context.device),
  [id_it_rootCaKeyUpdate]: (context) => rootCaKeyUpdate(context),
  [id_it_currentCRL]: async (context, profile) => {
    const crl = await createCrlStore(context.store).latest(context.issue.issuers.get(profile.issuer).name);
    return crl ? new Uint8Array(crl.der) : undefined;
  },
  // RFC 9810 §5.3.19.16: the one language tag the server's free texts use.
  [id_it_suppLangTags]: async () => derSequence(tlv(0x0c, new TextEncoder().encode('en'))),
};

/**
 * A genp for a genm (RFC 9483 §4.3): caCerts (the issuing CA's chain and the root), rootCaKeyUpdate
 * (the root and its rollover links), certReqTemplate (the subject and key types to ask for), currentCRL
 * (the issuing CA's newest complete CRL), signKeyPairTypes (what the label's profile accepts) and
 * suppLangTags (en). InfoTypes Hallmark does not serve (encryption keys, symmetric algorithms, a
 * revocation passphrase…) are listed back in unsupportedOIDs (RFC 9810 §5.3.19.7).
 */
export async function genpFor(genm: InfoTypeAndValues, context: GenmContext): Promise<InfoTypeAndValues> {
  const profile = context.issue.profiles.get(context.profile)!;
  const answers: InfoTypeAndValue[] = [];
  const unsupported: string[] = [];
  for (const asked of genm) {
    const answer = ANSWERS[asked.infoType];
    if (!answer) {
      unsupported.push(asked.infoType);
      continue;
    }
    const der = await answer(context, profile);
    if (der) answers.push(new InfoTypeAndValue({ infoType: asked.infoType, infoValue: exactBuffer(der) }));
  }
  if (unsupported.length) answers.push(new InfoTypeAndValue({ infoType: id_it_unsupportedOIDs, infoValue: exactBuffer(derSequence(...unsupported.map(oid))) }));
  return new InfoTypeAndValues(answers);
}

/**
 * RootCaKeyUpdateContent ::= SEQUENCE { newWithNew CMPCertificate, newWithOld [0] CMPCertificate
 * OPTIONAL, oldWithNew [1] CMPCertificate OPTIONAL } (RFC 9483 §4.3.2): the current root, and the link
 * certificates of its rollover (ca/rollover.ts) while they are valid.
 */
async function rootCaKeyUpdate(context: GenmContext): Promise<Uint8Array> {
  const current = context.issue.issuers.get(context.rootCa).name;
  const links = await activeInternalCertificates(context.store, 'link', context.now.getTime());
  const newWithOld = links.find((l) => l.issuer !== current && l.der);
  const oldWithNew = links.find((l) => l.issuer === current && l.der);
  return derSequence(context.root, ...(newWithOld ? [tlv(0xa0, new Uint8Array(newWithOld.der!))] : []), ...(oldWithNew ? [tlv(0xa1, new Uint8Array(oldWithNew.der!))] : []));
}
