/**
 * OCSP responses per second for cached `good` answers at 50 connections (wrk), beside
 * `openssl ocsp -index` answering the same requests for the same certificates, in one run, and the
 * raw PKCS#11 signing rate of the token for scale. Then live signing: the same requests each with a
 * nonce (RFC 8954: never cached, signed for each request) to Hallmark, against openssl's rate above
 * (`openssl ocsp -index` caches nothing: every answer it gave was signed live).
 * Last lines: `ocsp-live/openssl: <ratio>`, `ocsp-cached/openssl: <ratio>`.
 *
 * openssl and Hallmark's live signing are measured in alternating rounds (`--rounds`, default 3); the ratio
 * is the median of the rounds' own ratios.
 *
 *   npm run build && node dist/scripts/bench/ocsp.js [--certs 1000] [--seconds 10] [--rounds 3]
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startHallmark } from '../../src/app/server.js';
import { issueCertificate } from '../../src/ca/issue.js';
import { requestForOwnKey } from '../../src/x509/csr.js';
import { toPem } from '../../src/x509/pem.js';
import { benchCa, fmt, median, rawSignRate, runBench, spread, table } from './setup.js';
import { runWrk, writePostScript, type WrkResult } from './wrk.js';
import { profiled } from './cpu-profile.js';
import { ocspRequest } from './ocsp-request.js';
import { freePort } from '../../test/helpers/ports.js';

const { values } = parseArgs({ options: { certs: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, 'live-only': { type: 'boolean', default: false } } });
const CERTS = Number(values.certs);
const ROUNDS = Math.max(1, Number(values.rounds));
const SECONDS = Number(values.seconds);
const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Waits until the responder answers a real request. (A bare connect-and-close probe left
 * `openssl ocsp -multi` children spinning on the dead socket.)
 */
async function waitForResponder(url: string, body: Uint8Array): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no OCSP responder at ${url}`);
}

async function main() {
  const ca = await benchCa();
  // Every request comes from one address here: the per-address nonce limit would answer most tryLater.
  ca.ctx.config.revocation.ocsp.noncesPerMinute = 0;
  const running = await startHallmark(ca.ctx, { host: '127.0.0.1', httpsPort: 0, httpPort: 0, log: () => {} });
  try {
    const issuing = running.issue.issuers.get('issuing');
    log(`measuring the raw PKCS#11 signing rate…`);
    const raw = await rawSignRate(issuing.signer);

    log(`issuing ${CERTS} certificates…`);
    const serials: { serial: string; notAfter: Date; subject: string }[] = [];
    for (let i = 0; i < CERTS; i++) {
      // A key of its own for each: one public key is bound to one identity.
      const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
      const c = await issueCertificate(running.issue, { csr: requestForOwnKey(spki), profile: 'device', identity: `bench-${i}`, requester: { kind: 'cli' }, actor: 'bench' });
      serials.push({ serial: c.serial, notAfter: c.notAfter, subject: c.subject });
    }
    const bodies = serials.map((s) => ocspRequest(issuing.certificate, s.serial));
    const script = path.join(ca.home, 'ocsp.lua');
    writePostScript(script, '/ocsp', 'application/ocsp-request', bodies);

    if (values['live-only']) {
      // For profiling the live path alone (node --cpu-prof): nonce requests, nothing else.
      const nonceScript = path.join(ca.home, 'ocsp-nonce.lua');
      writePostScript(nonceScript, '/ocsp', 'application/ocsp-request', serials.map((s) => ocspRequest(issuing.certificate, s.serial, randomBytes(32))));
      const cpu = process.cpuUsage();
      const live = await profiled('ocsp-live', () => runWrk(`http://127.0.0.1:${running.http}/ocsp`, nonceScript, { connections: 50, seconds: SECONDS }), log);
      const used = process.cpuUsage(cpu);
      const perAnswer = (used.user + used.system) / (live.requestsPerSecond * SECONDS);
      console.log(`Hallmark OCSP, nonce (signed live), 50 conns: ${fmt(live.requestsPerSecond)}/s, p50 ${fmt(live.p50ms, 2)} ms, ${fmt(perAnswer)} µs of server CPU each (all threads)`);
      return;
    }
    // Warm the cache: every request once (each of these is signed live).
    const warmStart = Date.now();
    for (const body of bodies) {
      const r = await fetch(`http://127.0.0.1:${running.http}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
      if (r.status !== 200) throw new Error(`warm-up answered ${r.status}`);
      await r.arrayBuffer();
    }
    const liveRate = CERTS / ((Date.now() - warmStart) / 1000);

    log(`wrk: Hallmark, cached responses, 50 connections, ${SECONDS}s…`);
    const hallmark = await runWrk(`http://127.0.0.1:${running.http}/ocsp`, script, { connections: 50, seconds: SECONDS });

    // The reference: openssl's own responder over an index of the same certificates, signing live.
    const dir = path.join(ca.home, 'openssl-ocsp');
    fs.mkdirSync(dir);
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'r.key'), '-subj', '/CN=ref', '-out', path.join(dir, 'r.csr')], { stdio: 'ignore' });
    const responder = await issueCertificate(running.issue, { csr: fs.readFileSync(path.join(dir, 'r.csr'), 'utf8'), profile: 'ocsp-signer', identity: 'reference', requester: { kind: 'cli' }, actor: 'bench' });
    fs.writeFileSync(path.join(dir, 'r.pem'), responder.certificate);
    fs.writeFileSync(path.join(dir, 'ca.pem'), toPem(issuing.certificate, 'CERTIFICATE'));
    const utc = (d: Date) => d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
    fs.writeFileSync(path.join(dir, 'index.txt'), serials.map((s) => `V\t${utc(s.notAfter)}\t\t${s.serial.toUpperCase()}\tunknown\t/CN=${s.subject}\n`).join(''));
    const referenceScript = path.join(ca.home, 'ocsp-ref.lua');
    writePostScript(referenceScript, '/', 'application/ocsp-request', bodies);
    /** One round of openssl's responder, started for it and ended after it. */
    async function opensslRound(): Promise<WrkResult> {
      // A port free now (a guessed one hit RabbitMQ's 25672 on a machine that runs it).
      const port = await freePort();
      const openssl = spawn('openssl', ['ocsp', '-index', path.join(dir, 'index.txt'), '-port', String(port), '-rsigner', path.join(dir, 'r.pem'), '-rkey', path.join(dir, 'r.key'), '-CA', path.join(dir, 'ca.pem'), '-nmin', '60', '-multi', '2'], { stdio: ['ignore', 'ignore', 'inherit'] });
      let done = false;
      openssl.on('exit', (code) => done || log(`openssl ocsp exited early (${code})`));
      try {
        await waitForResponder(`http://127.0.0.1:${port}/`, bodies[0]!);
        log(`wrk: openssl ocsp -index -multi 2, 50 connections, ${SECONDS}s…`);
        return await runWrk(`http://127.0.0.1:${port}/`, referenceScript, { connections: 50, seconds: SECONDS });
      } finally {
        done = true;
        // -multi forks workers in a session of their own (openssl calls setsid): end that whole group now,
        // before Hallmark is measured again (its children kept spinning on wrk's closed sockets, taking
        // both cores from the live measurement that followed).
        try {
          process.kill(-openssl.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }

    // Live signing: a nonce in every request, so that nothing is cached and every answer is signed.
    const nonceBodies = serials.map((s) => ocspRequest(issuing.certificate, s.serial, randomBytes(32)));
    const nonceScript = path.join(ca.home, 'ocsp-nonce.lua');
    writePostScript(nonceScript, '/ocsp', 'application/ocsp-request', nonceBodies);
    const liveRound = () => {
      log(`wrk: Hallmark, a nonce in every request (signed live), 50 connections, ${SECONDS}s…`);
      return runWrk(`http://127.0.0.1:${running.http}/ocsp`, nonceScript, { connections: 50, seconds: SECONDS });
    };
    // This machine's speed drifts by a third within minutes: openssl and Hallmark take turns (ABBA…),
    // and each round's ratio compares neighbours in time. The medians are reported.
    const rounds: { reference: WrkResult; live: WrkResult }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) {
        const reference = await opensslRound();
        rounds.push({ reference, live: await liveRound() });
      } else {
        const live = await liveRound();
        rounds.push({ reference: await opensslRound(), live });
      }
    }
    // wrk counts answers, not what they say: a sample must be signed answers (successful), not tryLater.
    for (const body of nonceBodies.slice(0, 20)) {
      const answer = new Uint8Array(await (await fetch(`http://127.0.0.1:${running.http}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body })).arrayBuffer());
      if (answer.length < 100) throw new Error(`a nonce request was answered ${Buffer.from(answer).toString('hex')}, not signed`);
    }
    const middle = (pick: (r: (typeof rounds)[number]) => WrkResult) => rounds.map(pick).sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(rounds.length / 2)]!;
    const rates = (pick: (r: (typeof rounds)[number]) => WrkResult) => rounds.map((r) => pick(r).requestsPerSecond);
    const reference = middle((r) => r.reference);
    const live = middle((r) => r.live);
    const liveOverOpenssl = median(rounds.map((r) => r.live.requestsPerSecond / r.reference.requestsPerSecond));
    console.log(
      table([
        ['', 'requests/s', 'p50 ms', 'p99 ms', 'non-2xx'],
        ['raw PKCS#11 ECDSA P-256 signatures', fmt(raw), '', '', ''],
        ['Hallmark OCSP, first answer (signed live, 1 client)', fmt(liveRate), '', '', ''],
        ['Hallmark OCSP, cached good, 50 conns', fmt(hallmark.requestsPerSecond), fmt(hallmark.p50ms, 2), fmt(hallmark.p99ms, 2), hallmark.non2xx],
        [`openssl ocsp -index -multi 2 (signs every answer live), 50 conns, median of ${ROUNDS}`, fmt(reference.requestsPerSecond) + spread(rates((r) => r.reference)), fmt(reference.p50ms, 2), fmt(reference.p99ms, 2), reference.non2xx],
        [`Hallmark OCSP, nonce (signed live), 50 conns, median of ${ROUNDS}`, fmt(live.requestsPerSecond) + spread(rates((r) => r.live)), fmt(live.p50ms, 2), fmt(live.p99ms, 2), live.non2xx],
      ]),
    );
    console.log(`rounds' live/openssl: ${rounds.map((r) => (r.live.requestsPerSecond / r.reference.requestsPerSecond).toFixed(2)).join(', ')}`);
    console.log(`ocsp-live/openssl: ${liveOverOpenssl.toFixed(3)} (median of the rounds' ratios)`);
    console.log(`cached/raw-sign: ${(hallmark.requestsPerSecond / raw).toFixed(2)}`);
    console.log(`ocsp-cached/openssl: ${(hallmark.requestsPerSecond / reference.requestsPerSecond).toFixed(2)}`);
  } finally {
    await running.close();
    await ca.cleanup();
  }
}

runBench(main);
