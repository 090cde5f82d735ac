import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse, ResponseData } from '@peculiar/asn1-ocsp';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { startInProcess } from './helpers/in-process.js';
import { issueCertificate } from '../src/ca/issue.js';
import { ocspResponseSigners, type OcspResponseSigner } from '../src/ca/ocsp-signing.js';
import { createOcspResponder, SIGN_CHUNK, type OcspAnswer } from '../src/protocols/ocsp/responder.js';
import { requestForOwnKey } from '../src/x509/csr.js';
import { ocspRequest } from '../scripts/bench/ocsp-request.js';

/**
 * Live answers (nonce requests) of one batch are signed in trips of at most SIGN_CHUNK, posted together,
 * and each request is answered when its own trip is back, not when the whole batch is: the first
 * answers are out while the token still signs the last ones. Real token, real signing thread; the
 * signer is the server's own, only watched.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['live-chunks']);
});
after(() => home?.cleanup());

test('a batch of live answers goes to the signing thread in chunks, and each chunk is answered as it is signed', async () => {
  const backend = sqliteBackend();
  const hm = await startInProcess(home, backend, 'live-chunks');
  try {
    const issue = hm.running.issue;
    const certificates = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
        return issueCertificate(issue, { csr: requestForOwnKey(spki), profile: 'device', identity: `chunk-${i}`, requester: { kind: 'cli' }, actor: 'test' });
      }),
    );
    const events: string[] = [];
    const sizes: number[] = [];
    const signers = ocspResponseSigners(() => hm.running.responders());
    const watched = (ca: string): OcspResponseSigner | undefined => {
      const signer = signers(ca);
      if (!signer) return undefined;
      return {
        ...signer,
        signMany(tbs, now) {
          const trip = sizes.push(tbs.length);
          return signer.signMany(tbs, now).then((signed) => {
            events.push(`trip ${trip} signed`);
            return signed;
          });
        },
      };
    };
    const config = { ...hm.ctx.config.revocation.ocsp, noncesPerMinute: 0 };
    const answer = createOcspResponder({ issuers: issue.issuers, certificates: hm.ctx.certificates, signerFor: watched, clock: hm.ctx.clock, config, log: () => {} });
    const issuing = issue.issuers.get('issuing').certificate;
    const nonces = certificates.map(() => randomBytes(16));

    // All in one turn of the event loop: one batch.
    const answers = await Promise.all(
      certificates.map(async (c, i) => {
        const a = (await answer(ocspRequest(issuing, c.serial, nonces[i]))) as OcspAnswer;
        events.push(`answer ${i}`);
        return a;
      }),
    );

    const trips = Math.ceil(40 / SIGN_CHUNK);
    assert.equal(sizes.length, trips, `one batch, in ${trips} trips: ${sizes.join(', ')}`);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 40);
    assert.ok(sizes.every((n) => n <= SIGN_CHUNK), `no trip over ${SIGN_CHUNK}: ${sizes.join(', ')}`);
    // The first trip's requests are answered before the last trip is signed.
    const lastSigned = events.indexOf(`trip ${trips} signed`);
    const firstAnswers = events.slice(0, lastSigned).filter((e) => e.startsWith('answer '));
    assert.ok(firstAnswers.length >= sizes[0]!, `answers before the last trip was signed: ${firstAnswers.length} (events: ${events.join(', ')})`);

    // Every answer is its own request's: signed, good, its nonce echoed.
    answers.forEach((a, i) => {
      assert.ok(a.thisUpdate, `answer ${i} is signed`);
      const response = AsnConvert.parse(a.der, OCSPResponse);
      const basic = AsnConvert.parse(response.responseBytes!.response.buffer, BasicOCSPResponse);
      const data: ResponseData = basic.tbsResponseData;
      assert.equal(Buffer.from(data.responses[0]!.certID.serialNumber).toString('hex'), certificates[i]!.serial.toLowerCase());
      assert.ok(data.responses[0]!.certStatus.good !== undefined, `answer ${i} is good`);
      const nonce = data.responseExtensions?.find((e) => e.extnID === '1.3.6.1.5.5.7.48.1.2');
      assert.ok(nonce && Buffer.from(nonce.extnValue.buffer).includes(nonces[i]!), `answer ${i} echoes its nonce`);
    });
  } finally {
    await hm.close();
    await backend.cleanup();
  }
});
