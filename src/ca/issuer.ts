import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Name } from '@peculiar/asn1-x509';
import type { Signer, KeyStore } from '../keys/key-store.js';
import { parseKeyUri } from '../keys/key-uri.js';
import type { CaRow, CaStore } from '../store/cas.js';
import { HallmarkError } from '../errors.js';
import { lintIssuerFromCertificate, type LintIssuer } from '../lint/index.js';

/** A CA that can sign: its certificate, its key on the token, and its chain up to (not incl.) the root. */
export interface IssuerCa {
  name: string;
  certificate: Uint8Array;
  subject: Name;
  ski: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  signer: Signer;
  /** DER certificates from this CA up to, not including, the root. Empty for the root itself. */
  chain: Uint8Array[];
  isRoot: boolean;
  /** What the pre-signing lint needs to know about this CA as an issuer. */
  lint: LintIssuer;
}

export interface IssuerRegistry {
  get(name: string): IssuerCa;
  list(): IssuerCa[];
}

export function issuerFromRow(row: CaRow, signer: Signer, chain: Uint8Array[]): IssuerCa {
  const cert = AsnConvert.parse(row.certificate, Certificate);
  return {
    name: row.name,
    certificate: new Uint8Array(row.certificate),
    subject: cert.tbsCertificate.subject,
    ski: Buffer.from(row.ski, 'hex'),
    notBefore: new Date(Number(row.not_before)),
    notAfter: new Date(Number(row.not_after)),
    signer,
    chain,
    isRoot: row.parent === null,
    lint: lintIssuerFromCertificate(new Uint8Array(row.certificate)),
  };
}

/** Loads every CA and its signer once; issuance then needs no lookups per certificate. */
export async function loadIssuers(cas: CaStore, keys: KeyStore): Promise<IssuerRegistry> {
  const rows = await cas.list();
  const byName = new Map(rows.map((r) => [r.name, r]));
  const issuers = new Map<string, IssuerCa>();
  for (const row of rows) {
    const chain: Uint8Array[] = [];
    for (let r: CaRow | undefined = row; r && r.parent; r = byName.get(r.parent)) chain.push(new Uint8Array(r.certificate));
    issuers.set(row.name, issuerFromRow(row, await keys.getSigner(parseKeyUri(row.key_uri)), chain));
  }
  return {
    get(name) {
      const issuer = issuers.get(name);
      if (!issuer) throw new HallmarkError('unknown_ca', `no CA named "${name}"; run \`hallmark ca list\` (or \`hallmark init\` on a new installation)`, 404);
      return issuer;
    },
    list: () => [...issuers.values()],
  };
}
