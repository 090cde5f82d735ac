import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * @peculiar/x509 verifies signatures (CSR proof of possession, chains) through WebCrypto. Node 20's
 * built-in implementation covers ECDSA, RSA and Ed25519, so @peculiar/webcrypto is not needed.
 * CA keys never pass through here: they sign on the token (keys/).
 */
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
