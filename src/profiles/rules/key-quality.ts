import { keyWeakness } from '../../x509/good-key.js';
import { policyViolation, type Rule } from './types.js';

/** A weak key is refused whatever the profile (x509/good-key.ts); the weakness is named. */
export const keyQuality: Rule = {
  name: 'key-quality',
  kind: 'csr',
  check({ csr, profile }) {
    // EC points are checked with the signature; only RSA has more to look at.
    if (typeof csr.keyType === 'string' && !csr.keyType.startsWith('rsa-')) return;
    const weakness = keyWeakness(csr.spkiDer);
    if (weakness) throw policyViolation(this.name, profile, `weak key: ${weakness}`);
  },
};
