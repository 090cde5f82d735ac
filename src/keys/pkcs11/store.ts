import { createHash } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { HallmarkError } from '../../base/errors.js';
import type { CaKeyType } from '../../x509/key-types.js';
import { signatureAlgorithmFor } from '../../x509/signature-algorithms.js';
import { ecKeyType, ecSpki, keyTypeOf, rsaSpki, unwrapEcPoint } from '../../x509/spki.js';
import { ecdsaRawToDer } from '../ecdsa-signature.js';
import { formatKeyUri, type KeyUri } from '../key-uri.js';
import type { KeyProtection, KeyStore, Signer, TokenCapabilities } from '../key-store.js';
import { keyPairTemplates, restrictionGaps, type PrivateKeyAttributes } from './key-templates.js';
import { capabilitiesOf } from './capabilities.js';
import { createSignedCbcSealer } from './sealer-cbc-signed.js';
import { ownSigner } from '../service-keys.js';
import { createSessionPool } from './session-pool.js';
import { createPkcs11Sealer } from './sealer.js';
import { metrics } from '../../observability/metrics.js';
import { connectToken, type TokenOptions } from './token.js';
import { exactBuffer } from '../../x509/bytes.js';
import { createWorkerPool } from '../../workers/pool.js';
import { packedBytesCodec } from '../../workers/packed-bytes.js';
import { DIGEST_INFO_PREFIX, type SignContext } from './sign-request.js';
import type { HashName } from '../../x509/signature-algorithms.js';
import { createSpeedGauge, IN_LINE_BELOW } from './speed-gauge.js';
import { hsmUnavailable } from './errors.js';
import { createWorkingCopies, type WorkingCopyOps } from './working-copies.js';

/** RSASSA-PSS parameters per hash: MGF1 with the same hash, salt as long as the hash. */
const PSS_HASH: Record<HashName, { mechanism: graphene.MechanismEnum; mgf: graphene.RsaMgf; length: number }> = {
  sha256: { mechanism: graphene.MechanismEnum.SHA256, mgf: graphene.RsaMgf.MGF1_SHA256, length: 32 },
  sha384: { mechanism: graphene.MechanismEnum.SHA384, mgf: graphene.RsaMgf.MGF1_SHA384, length: 48 },
  sha512: { mechanism: graphene.MechanismEnum.SHA512, mgf: graphene.RsaMgf.MGF1_SHA512, length: 64 },
};

export interface Pkcs11KeyStoreOptions extends TokenOptions {
  /** Sessions kept open for concurrent signing. */
  sessions?: number;
  /** Threads that sign large batches, one session each (the CA configuration's hsm.signingThreads). */
  signingThreads?: number;
}

/** The key's objects of one class: the stored ones (token), or this process's working copies (working-copies.ts), which carry the same label and id. */
const keyTemplate = (uri: KeyUri, objectClass: graphene.ObjectClass, token: boolean): graphene.ITemplate => ({ class: objectClass, token, label: uri.object, ...(uri.id ? { id: Buffer.from(uri.id) } : {}) });

function findKey(session: graphene.Session, uri: KeyUri, objectClass: graphene.ObjectClass): graphene.Key | undefined {
  const found = session.find(keyTemplate(uri, objectClass, true));
  if (found.length > 1) {
    throw new HallmarkError('hsm_key_ambiguous', `${found.length} keys match ${formatKeyUri(uri)}; give the URI an id=`, 500);
  }
  return found.length ? found.items(0).toType<graphene.Key>() : undefined;
}

/** Working copies through graphene on one of the main thread's sessions (working-copies.ts). */
function workingCopyOps(session: graphene.Session, uri: KeyUri): WorkingCopyOps<graphene.Key> {
  return {
    findStored: () => findKey(session, uri, graphene.ObjectClass.PRIVATE_KEY),
    same: (a, b) => a.handle.equals(b.handle),
    copy(stored) {
      const copy = stored.copy({ token: false }).toType<graphene.Key>();
      if (!copy.getAttribute('token')) return copy;
      session.destroy(copy); // a module that stored the "copy": not what was asked for
      return undefined;
    },
    destroy: (copy) => session.destroy(copy),
  };
}

function readSpki(publicKey: graphene.Key): SubjectPublicKeyInfo {
  const { keyType } = publicKey.getAttribute({ keyType: null }) as { keyType: graphene.KeyType };
  if (keyType === graphene.KeyType.EC) {
    // graphene reads CKA_EC_PARAMS back under its older name, paramsECDSA.
    const attrs = publicKey.getAttribute({ paramsEC: null, pointEC: null }) as { paramsEC?: Buffer; paramsECDSA?: Buffer; pointEC: Buffer };
    const params = attrs.paramsEC ?? attrs.paramsECDSA;
    if (!params?.length) throw new HallmarkError('hsm_key_type', 'token EC key has no CKA_EC_PARAMS', 500);
    const type = ecKeyType(exactBuffer(params));
    const pointEC = attrs.pointEC;
    if (typeof type !== 'string') throw new HallmarkError('hsm_key_type', `token key has an unsupported ${type.unsupported}`, 500);
    return ecSpki(type, unwrapEcPoint(new Uint8Array(pointEC)));
  }
  if (keyType === graphene.KeyType.RSA) {
    const { modulus, publicExponent } = publicKey.getAttribute({ modulus: null, publicExponent: null }) as { modulus: Buffer; publicExponent: Buffer };
    return rsaSpki(new Uint8Array(modulus), new Uint8Array(publicExponent));
  }
  throw new HallmarkError('hsm_key_type', `token key type ${keyType} is not supported`, 500);
}

/** How often a key not found may make the module initialise again (see getSigner). */
const REFRESH_INTERVAL_MS = 5_000;

/** Signing timed for the metrics, a failure counted. */
async function measuredSigning<T>(work: () => Promise<T>): Promise<T> {
  const stop = metrics.hsmSignSeconds.startTimer();
  try {
    return await work();
  } catch (e) {
    metrics.hsmErrors.inc({ operation: 'sign' });
    throw e;
  } finally {
    stop();
  }
}

/** A KeyStore over a PKCS#11 token through graphene-pk11 (SoftHSM2 in development and tests). */
export function createPkcs11KeyStore(options: Pkcs11KeyStoreOptions): KeyStore {
  const connection = connectToken(options);
  const pool = createSessionPool(connection, options.sessions ?? 8);
  const signingWorkers = createWorkerPool<Uint8Array, Uint8Array>({
    script: new URL('./signing-worker.js', import.meta.url),
    workerData: { modulePath: options.modulePath, tokenLabel: options.tokenLabel, pin: options.pin },
    name: 'pkcs11-signing',
    size: options.signingThreads ?? 1,
    codec: packedBytesCodec,
    // Small batches are signed on the main thread's sessions until the signing threads run.
    inlineBelow: 4,
  });
  // Handles are only valid for one initialisation of the module, and copies live as long as the session
  // that made them: all forgotten on a reset.
  const privateKeys = createWorkingCopies<graphene.Key>();
  const fastToken = createSpeedGauge();
  // A key the store was asked for that the token does not hold: a token fault like the others (503).
  const keyMissing = (kind: 'private' | 'public', name: string) => new HallmarkError('hsm_key_missing', `no ${kind} key ${name} on token "${options.tokenLabel}"`, 503);

  pool.onReset(() => privateKeys.clear());

  /** `name` is the URI's text form; signers pass it in so the signing path does not format it each time. */
  async function privateKey(session: graphene.Session, uri: KeyUri, name = formatKeyUri(uri)): Promise<graphene.Key> {
    const key = privateKeys.fresh(name) ?? privateKeys.check(name, workingCopyOps(session, uri));
    if (!key) throw keyMissing('private', name);
    return key;
  }

  function makeSigner(uri: KeyUri, spki: SubjectPublicKeyInfo): Signer {
    const keyType = keyTypeOf(spki) as CaKeyType;
    const algorithm = signatureAlgorithmFor(keyType);
    const spkiDer = new Uint8Array(AsnConvert.serialize(spki));
    // SoftHSM 2.6 has no CKM_ECDSA_SHA256: the digest is made here and signed with CKM_ECDSA; RSA
    // signs the DER DigestInfo with CKM_RSA_PKCS (RFC 8017 §9.2), so both can take a streamed hash.
    const mechanism = algorithm.family === 'ecdsa' ? 'ECDSA' : 'RSA_PKCS';
    const keyName = formatKeyUri(uri);
    const signDigest = (digest: Uint8Array) => measuredSigning(() => sign(digest));
    // What the token signs for a digest, and the signature as X.509 carries it.
    const tokenInput = (digest: Uint8Array) => (algorithm.family === 'ecdsa' ? Buffer.from(digest) : Buffer.concat([DIGEST_INFO_PREFIX[algorithm.hash], digest]));
    const fromToken = (signature: Buffer) => (algorithm.family === 'ecdsa' ? ecdsaRawToDer(new Uint8Array(signature)) : new Uint8Array(signature));
    const sign = (digest: Uint8Array) =>
      pool.run(async (session) => {
        const key = await privateKey(session, uri, keyName);
        const signature = await new Promise<Buffer>((resolve, reject) => session.createSign(mechanism, key).once(tokenInput(digest), (error, value) => (error ? reject(error) : resolve(value))));
        return fromToken(signature);
      }, 'signing');
    const sign1 = (data: Uint8Array) => signDigest(createHash(algorithm.hash).update(data).digest());
    // A few signatures made right here, on one session, the calling thread waiting on the token: on a
    // fast token that costs less than a trip to the signing threads (speed-gauge.ts).
    const signHere = (items: Uint8Array[]) =>
      measuredSigning(() =>
        pool.run(async (session) => {
          const key = await privateKey(session, uri, keyName);
          const started = performance.now();
          const signatures = items.map((data) => fromToken(session.createSign(mechanism, key).once(tokenInput(createHash(algorithm.hash).update(data).digest()))));
          fastToken.took(((performance.now() - started) * 1000) / items.length);
          return signatures;
        }, 'signing'),
      );
    const keyId = uri.id ? Buffer.from(uri.id).toString('hex') : undefined;
    const signContext: SignContext = { keyLabel: uri.object, keyId, family: algorithm.family, hash: algorithm.hash };
    async function signMany(items: Uint8Array[]): Promise<Uint8Array[]> {
      if (items.length < IN_LINE_BELOW && fastToken.fast()) return signHere(items);
      if (signingWorkers.inline(items.length)) return Promise.all(items.map(sign1));
      return measuredSigning(() =>
        signingWorkers.run(items, signContext).catch((e: unknown) => {
          throw hsmUnavailable('signing', e);
        }),
      );
    }
    if (algorithm.family !== 'rsa-pkcs1') return { keyType, algorithm, spki: spkiDer, signDigest, sign: sign1, signMany };
    const pss = { name: 'RSA_PKCS_PSS', params: new graphene.RsaPssParams(PSS_HASH[algorithm.hash].mechanism, PSS_HASH[algorithm.hash].mgf, PSS_HASH[algorithm.hash].length) };
    const signDigestPss = (digest: Uint8Array) =>
      pool.run(async (session) => {
        if (digest.length !== PSS_HASH[algorithm.hash].length) throw new HallmarkError('invalid_digest', `an RSA-PSS signature by this key is over a ${algorithm.hash} digest`, 400);
        const key = await privateKey(session, uri, keyName);
        return new Uint8Array(await new Promise<Buffer>((resolve, reject) => session.createSign(pss, key).once(Buffer.from(digest), (error, value) => (error ? reject(error) : resolve(value)))));
      }, 'signing');
    return { keyType, algorithm, spki: spkiDer, signDigest, sign: sign1, signMany, signDigestPss };
  }

  const supportedCaKey = (spki: SubjectPublicKeyInfo, uri: KeyUri) => {
    const type = keyTypeOf(spki);
    if (type !== 'ec-p256' && type !== 'ec-p384' && type !== 'rsa-3072' && type !== 'rsa-4096') {
      throw new HallmarkError('hsm_key_type', `${formatKeyUri(uri)} is ${typeof type === 'string' ? type : type.unsupported}, not a CA key type`, 500);
    }
  };

  let known: TokenCapabilities | undefined;
  let lastRefresh = 0;
  const capabilities = async () => (known ??= await pool.run((session) => capabilitiesOf(session.slot), 'mechanism list'));

  /** Refuses a key type the token cannot make, naming what is missing and what it can make instead. */
  async function mustSupport(keyType: CaKeyType): Promise<void> {
    const caps = await capabilities();
    if (caps.keyTypes.includes(keyType)) return;
    const { label, manufacturer, model } = caps.token;
    throw new HallmarkError(
      'hsm_key_type_unsupported',
      `token "${label}" (${manufacturer} ${model}) cannot make ${keyType} keys: ${caps.keyTypeGaps[keyType]}. ` +
        `It can make ${caps.keyTypes.join(', ') || 'no CA key type'}; choose one of those in the CA configuration, or another token (hallmark hsm check shows what a token offers)`,
      400,
    );
  }

  const self: KeyStore = {
    async createKey(uri, keyType, createOptions) {
      await mustSupport(keyType);
      const spki = await pool.run((session) => {
        if (findKey(session, uri, graphene.ObjectClass.PRIVATE_KEY) || findKey(session, uri, graphene.ObjectClass.PUBLIC_KEY)) {
          throw new HallmarkError('hsm_key_exists', `a key named ${formatKeyUri(uri)} already exists on the token; refusing to overwrite it`, 409);
        }
        const t = keyPairTemplates(uri, keyType, createOptions);
        const pair = session.generateKeyPair(t.mechanism, t.publicKey, t.privateKey);
        // What the token made, not what was asked: a module that ignores an attribute is caught here.
        const made = pair.privateKey.getAttribute({ sensitive: null, extractable: null, alwaysSensitive: null, neverExtractable: null, sign: null, decrypt: null, derive: null, unwrap: null }) as PrivateKeyAttributes;
        const gaps = restrictionGaps(made, createOptions);
        if (gaps.length) {
          session.destroy(pair.privateKey);
          session.destroy(pair.publicKey);
          throw new HallmarkError('hsm_key_attributes', `token "${options.tokenLabel}" made ${formatKeyUri(uri)} ${gaps.join(', ')} although asked otherwise; the key was deleted. This module cannot hold Hallmark's keys as it is configured`, 503);
        }
        return readSpki(pair.publicKey);
      }, 'key generation');
      return makeSigner(uri, spki);
    },
    capabilities,
    async getSigner(uri) {
      const lookup = () =>
        pool.run((session) => {
          const publicKey = findKey(session, uri, graphene.ObjectClass.PUBLIC_KEY);
          return publicKey ? readSpki(publicKey) : undefined;
        }, 'key lookup');
      let spki = await lookup();
      if (!spki && Date.now() - lastRefresh > REFRESH_INTERVAL_MS) {
        // tpm2-pkcs11 reads the token's objects when it initialises: a key another process made since
        // (an OCSP responder key, a rolled-over CA) is found only after initialising again. At most
        // once per interval: asking again and again for a destroyed key must not keep resetting sessions.
        lastRefresh = Date.now();
        pool.refresh();
        spki = await lookup();
      }
      if (!spki) throw keyMissing('public', formatKeyUri(uri));
      supportedCaKey(spki, uri);
      return makeSigner(uri, spki);
    },
    async deleteKey(uri) {
      await pool.run((session) => {
        for (const objectClass of [graphene.ObjectClass.PRIVATE_KEY, graphene.ObjectClass.PUBLIC_KEY]) {
          const key = findKey(session, uri, objectClass);
          if (key) session.destroy(key);
        }
        privateKeys.drop(formatKeyUri(uri), workingCopyOps(session, uri));
        // Every other working copy of it in this process, the signing threads' too (session objects are
        // visible to all of an application's sessions): they stop signing now, not at their next check.
        const copies = session.find(keyTemplate(uri, graphene.ObjectClass.PRIVATE_KEY, false));
        for (let i = 0; i < copies.length; i++) session.destroy(copies.items(i));
      }, 'key deletion');
    },
    async decrypt(uri, ciphertext, scheme) {
      return pool.run(async (session) => {
        const key = await privateKey(session, uri);
        const mechanism = scheme === 'rsa-pkcs1' ? 'RSA_PKCS' : { name: 'RSA_PKCS_OAEP', params: scheme === 'rsa-oaep-sha1' ? new graphene.RsaOaepParams(graphene.MechanismEnum.SHA1, graphene.RsaMgf.MGF1_SHA1) : new graphene.RsaOaepParams(graphene.MechanismEnum.SHA256, graphene.RsaMgf.MGF1_SHA256) };
        // A wrong padding (a message encrypted to another key) is the caller's refusal, not a token fault.
        try {
          return new Uint8Array(session.createDecipher(mechanism, key).once(Buffer.from(ciphertext), Buffer.alloc(ciphertext.length)));
        } catch (e) {
          throw new HallmarkError('decrypt_failed', `the token could not decrypt with ${formatKeyUri(uri)}: ${(e as Error).message}`, 400);
        }
      }, 'decryption');
    },
    async getSealer(uri, sealerOptions) {
      const caps = await capabilities();
      if (caps.sealing === 'aes-256-gcm') return createPkcs11Sealer(pool, uri);
      if (caps.sealing !== 'aes-256-cbc-signed') {
        throw new HallmarkError('hsm_sealing_unsupported', `token "${caps.token.label}" cannot seal Hallmark's secrets: ${caps.sealingGap}`, 503);
      }
      // The ciphertext is signed by a key of its own on the token, made with the AES key on first use.
      const authUri = { token: uri.token, object: sealerOptions?.authObject ?? `${uri.object}-auth` };
      let authenticator: Promise<Signer> | undefined;
      const authenticate = () =>
        (authenticator ??= ownSigner(self, authUri).catch((e) => {
          authenticator = undefined;
          throw e;
        }));
      return createSignedCbcSealer(pool, uri, authenticate);
    },
    async hasKey(uri) {
      return pool.run((session) => Boolean(findKey(session, uri, graphene.ObjectClass.PRIVATE_KEY)), 'key lookup');
    },
    async describeProtection(uri) {
      return pool.run(async (session) => {
        // The stored key, not the working copy that signs (that one has CKA_TOKEN false).
        const key = findKey(session, uri, graphene.ObjectClass.PRIVATE_KEY);
        if (!key) throw keyMissing('private', formatKeyUri(uri));
        return key.getAttribute({
          token: null,
          private: null,
          sensitive: null,
          extractable: null,
          alwaysSensitive: null,
          neverExtractable: null,
        }) as KeyProtection;
      }, 'key inspection');
    },
    async close() {
      await signingWorkers.close();
      pool.close();
      connection.close();
    },
  };
  return self;
}
