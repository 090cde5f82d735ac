import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { issueCertificate } from '../../src/ca/issue.js';
import { requestForOwnKey } from '../../src/x509/csr.js';
import { toPem } from '../../src/x509/pem.js';
import type { InProcessHallmark } from './in-process.js';
import { run } from './run.js';

/**
 * A device certificate issued by `hm` (a fresh P-256 key, identity `name`), written under `dir` with the
 * issuing CA and the chain, and `ask`: `openssl ocsp` about it against `hm`'s responder, which verifies
 * the answer (`-resp_text`: the response printed too).
 */
export async function ocspSubject(hm: InProcessHallmark, dir: string, name: string) {
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
  const cert = await issueCertificate(hm.running.issue, { csr: requestForOwnKey(spki), profile: 'device', identity: name, requester: { kind: 'cli' }, actor: 'test' });
  const files = { cert: path.join(dir, `${name}.pem`), issuing: path.join(dir, 'issuing.pem'), chain: path.join(dir, 'chain.pem') };
  fs.writeFileSync(files.cert, cert.certificate);
  fs.writeFileSync(files.issuing, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
  fs.writeFileSync(files.chain, hm.rootPem + fs.readFileSync(files.issuing, 'utf8'));
  const ask = () => run('openssl', ['ocsp', '-no_nonce', '-issuer', files.issuing, '-cert', files.cert, '-url', `http://127.0.0.1:${hm.running.http}/ocsp`, '-CAfile', files.chain, '-resp_text']);
  return { serial: cert.serial, ask };
}
