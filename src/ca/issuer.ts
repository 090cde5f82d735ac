import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Name } from '@peculiar/asn1-x509';
import type { Signer, KeyStore } from '../keys/key-store.js';
import { parseKeyUri } from '../keys/key-uri.js';
import type { CaRow, CaStore } from '../store/cas.js';
import { HallmarkError } from '../base/errors.js';
import { lintIssuerFromCertificate, type LintIssuer } from '../lint/index.js';
import type { Clock } from '../base/clock.js';

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
  /** The CA this is a generation of, and when it took over issuance. */
  family: string;
  activeFrom: Date;
}

export interface IssuerRegistry {
  /** A family's current generation (the one issuing now), or a generation by its own name. */
  get(name: string): IssuerCa;
  /** Exactly this generation (CRLs, OCSP, responder certificates). */
  exact(name: string): IssuerCa;
  /** Every generation not retired. */
  list(): IssuerCa[];
  /** The generations of a family not retired, newest first. */
  generations(family: string): IssuerCa[];
  /** Loads CAs added since (a rollover by the CLI or another instance); true when the set changed. */
  refresh(): Promise<boolean>;
  version(): number;
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
    family: row.family ?? row.name,
    activeFrom: new Date(Number(row.active_from ?? row.created_at)),
  };
}

/** Loads every CA and its signer once; issuance then needs no lookups per certificate. */
export async function loadIssuers(cas: CaStore, keys: KeyStore, clock: Clock): Promise<IssuerRegistry> {
  const issuers = new Map<string, IssuerCa>();
  let version = 0;
  let signature = '';

  async function load(): Promise<boolean> {
    // Retired and revoked generations sign nothing more.
    const rows = (await cas.list()).filter((r) => (r.retired_at === null || r.retired_at === undefined) && r.status !== 'revoked');
    const next = rows.map((r) => r.name).sort().join(',');
    if (next === signature) return false;
    const byName = new Map(rows.map((r) => [r.name, r]));
    for (const row of rows) {
      if (issuers.has(row.name)) continue;
      const chain: Uint8Array[] = [];
      for (let r: CaRow | undefined = row; r && r.parent; r = byName.get(r.parent)) chain.push(new Uint8Array(r.certificate));
      issuers.set(row.name, issuerFromRow(row, await keys.getSigner(parseKeyUri(row.key_uri)), chain));
    }
    for (const name of [...issuers.keys()]) if (!byName.has(name)) issuers.delete(name);
    signature = next;
    version++;
    return true;
  }
  await load();

  const unknown = (name: string) => new HallmarkError('unknown_ca', `no CA named "${name}"; run \`hallmark ca list\` (or \`hallmark init\` on a new installation)`, 404);
  const generations = (family: string) => [...issuers.values()].filter((i) => i.family === family).sort((a, b) => b.activeFrom.getTime() - a.activeFrom.getTime());
  return {
    get(name) {
      const now = clock.now().getTime();
      const current = generations(name).find((g) => g.activeFrom.getTime() <= now) ?? generations(name).at(-1);
      const issuer = current ?? issuers.get(name);
      if (!issuer) throw unknown(name);
      return issuer;
    },
    exact(name) {
      const issuer = issuers.get(name);
      if (!issuer) throw unknown(name);
      return issuer;
    },
    list: () => [...issuers.values()],
    generations,
    refresh: load,
    version: () => version,
  };
}
