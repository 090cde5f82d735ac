import { webcrypto } from 'node:crypto';
import { x509 } from '../../src/x509/crypto-provider.js';

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** PKCS#10 requests made in-process (a factory makes thousands), each with its own fresh P-256 key. */
export async function deviceCsrs(count: number, name: (i: number) => string): Promise<{ csr: string; spki: Buffer }[]> {
  const out: { csr: string; spki: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${name(i)}`, keys: keys as never, signingAlgorithm: alg });
    out.push({ csr: csr.toString('pem'), spki: Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)) });
  }
  return out;
}
