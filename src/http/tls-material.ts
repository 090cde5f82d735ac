import fs from 'node:fs';
import path from 'node:path';
import { createPrivateKey, generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { x509 } from '../x509/crypto-provider.js';
import { issueCertificate, type IssueDeps } from '../ca/issue.js';
import { inLastThirdOfLife } from '../ca/renewal-due.js';

export interface TlsMaterial {
  key: string;
  /** Leaf then chain, PEM. */
  cert: string;
  notAfter: Date;
}

/** One spelling per address: "::1" and "0:0:0:0:0:0:0:1" are the same name. */
const canonicalName = (name: string) =>
  isIP(name) === 6 ? `ip:${new URL(`http://[${name}]`).hostname}` : isIP(name) === 4 ? `ip:${name}` : `dns:${name.toLowerCase()}`;

function coversNames(cert: X509Certificate, names: string[]): boolean {
  const present = new Set(
    (cert.subjectAltName ?? '')
      .split(', ')
      .map((entry) => (entry.startsWith('DNS:') ? canonicalName(entry.slice(4)) : entry.startsWith('IP Address:') ? canonicalName(entry.slice(11)) : entry)),
  );
  return names.every((n) => present.has(canonicalName(n)));
}

const tlsFiles = (home: string) => {
  const dir = path.join(home, 'tls');
  return { dir, keyFile: path.join(dir, 'server.key'), certFile: path.join(dir, 'server.crt') };
};

function writeWhole(file: string, content: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, content, { mode });
  fs.renameSync(temporary, file);
}

/**
 * The HTTPS material on disk when it is still good: issued by our CA (which may have been re-created),
 * covering every name, not in the last third of its life, and a key that belongs to the certificate.
 * Otherwise undefined.
 */
export function readTlsMaterial(home: string, names: string[], issue: IssueDeps): TlsMaterial | undefined {
  const issuer = new X509Certificate(Buffer.from(issue.issuers.get(issue.profiles.get('tls-server')?.issuer ?? 'issuing').certificate));
  const { keyFile, certFile } = tlsFiles(home);
  let keyPem: string;
  let certPem: string;
  let cert: X509Certificate;
  let keyMatches: boolean;
  try {
    keyPem = fs.readFileSync(keyFile, 'utf8');
    certPem = fs.readFileSync(certFile, 'utf8');
    cert = new X509Certificate(certPem);
    keyMatches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    // Missing or unreadable: issued afresh.
    return undefined;
  }
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  const good = keyMatches && cert.checkIssued(issuer) && cert.verify(issuer.publicKey) && coversNames(cert, names) && !inLastThirdOfLife(from, to, issue.clock.now().getTime());
  return good ? { key: keyPem, cert: certPem, notAfter: new Date(to) } : undefined;
}

/**
 * The HTTPS listener's certificate, issued by Hallmark itself under the `tls-server` profile and
 * kept under $HALLMARK_HOME/tls. The TLS key has to be in memory for Node's TLS stack, so it is a
 * software key (mode 0600), unlike CA and responder keys. Re-issued when missing, when the names it
 * must cover changed, or in the last third of its life.
 */
export async function ensureTlsMaterial(home: string, names: string[], issue: IssueDeps): Promise<TlsMaterial> {
  const current = readTlsMaterial(home, names, issue);
  if (current) return current;
  const { keyFile, certFile, dir } = tlsFiles(home);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey: publicKeyObject } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), alg, true, ['sign']);
  // DER, not JWK: Node 20 can deadlock exporting a JWK of a fresh key when a GC collects its
  // key-generation job at that moment (both take the key's mutex; seen in this project's tests).
  const publicKey = await webcrypto.subtle.importKey('spki', publicKeyObject.export({ type: 'spki', format: 'der' }), alg, true, ['verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${names[0] ?? 'localhost'}`,
    keys: { privateKey: cryptoKey, publicKey } as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) ? 'ip' : 'dns', value: n })))],
  });
  const issued = await issueCertificate(issue, {
    csr: new Uint8Array(csr.rawData),
    profile: 'tls-server',
    requester: { kind: 'system' },
    actor: 'system:tls',
    source: 'serve',
  });
  const certPem = issued.certificate + issued.chain.join('');
  // Each file replaced whole (rename), so a reader never sees half of one; a reader between the two
  // renames sees a key and certificate that do not match, and readTlsMaterial refuses that pair.
  writeWhole(keyFile, keyPem, 0o600);
  writeWhole(certFile, certPem, 0o600);
  return { key: keyPem, cert: certPem, notAfter: issued.notAfter };
}
