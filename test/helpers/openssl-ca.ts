import path from 'node:path';
import { mustRun } from './run.js';

/** A CA and a leaf made by openssl alone: certificates Hallmark never issued, for "not ours" cases. */
export async function foreignCa(dir: string) {
  const ca = { key: path.join(dir, 'foreign-ca.key'), cert: path.join(dir, 'foreign-ca.pem') };
  await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-subj', '/CN=Foreign CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = { key: path.join(dir, 'foreign-leaf.key'), csr: path.join(dir, 'foreign-leaf.csr'), cert: path.join(dir, 'foreign-leaf.pem') };
  await mustRun('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', leaf.key, '-out', leaf.csr, '-subj', '/CN=foreign device']);
  await mustRun('openssl', ['x509', '-req', '-in', leaf.csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', leaf.cert, '-days', '10']);
  return { ca, leaf };
}
