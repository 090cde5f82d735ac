import { generateKeyPairSync, sign } from 'node:crypto';
import { concatBytes, derBitString, derSequence, tlv } from '../../src/x509/der.js';
import { encodeName } from '../../src/x509/tbs-splice.js';

const ECDSA_WITH_SHA256 = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02);

/**
 * PKCS#10 requests as a device would send them (CN = device id, P-256, ecdsa-with-SHA256), made
 * quickly with node:crypto so that tens of thousands are ready before the clock starts. A key pair of
 * its own for each device: Hallmark binds one public key to one identity (docs/security-model.md, "Issuance policy").
 */
export function deviceCsrs(ids: string[], keysEvery = 1): Uint8Array[] {
  let key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return ids.map((id, i) => {
    if (i % keysEvery === 0 && i) key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(key.publicKey.export({ format: 'der', type: 'spki' }));
    const info = derSequence(Uint8Array.of(0x02, 0x01, 0x00), encodeName([['CN', id]]), spki, tlv(0xa0, new Uint8Array()));
    const signature = new Uint8Array(sign('sha256', info, key.privateKey));
    return derSequence(concatBytes([info]), ECDSA_WITH_SHA256, derBitString(signature));
  });
}
