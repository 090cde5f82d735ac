import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mustRun, run } from './run.js';
import { startSessionBus } from './session-bus.js';

/**
 * A software TPM (swtpm) made for one test: its state, EK certificates from a local CA, and a resource
 * manager in front of it (tpm2-abrmd on a private D-Bus session bus), as a real device has: a TPM holds
 * three transient objects at a time, and TLS through tpm2-openssl needs more (the key, hash sequences).
 */
export interface SoftTpm {
  /** TPM2TOOLS_TCTI (tpm2-tools), TPM2OPENSSL_TCTI (openssl's tpm2 provider) and the bus they reach abrmd on. */
  env: NodeJS.ProcessEnv;
  /** The local CA that certified the EK (the "TPM manufacturer" root, PEM files). */
  caFiles: string[];
  stop(): Promise<void>;
}

const portFree = (port: number) =>
  new Promise<number | undefined>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: got } = server.address() as net.AddressInfo;
      server.close(() => resolve(got));
    });
  });

/** Two free ports in a row: the swtpm TCTI of tpm2-tools finds the control port at the TPM port + 1. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await portFree(0);
    if (port && port < 65535 && (await portFree(port + 1))) return port;
  }
  throw new Error('no two free ports in a row');
}

/** Waits until the port accepts connections (a deadline, not a sleep). */
async function listening(port: number, child: ChildProcess, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`swtpm exited ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`swtpm did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Manufactures a TPM state in `dir` (swtpm_setup: EK key pairs and EK certificates signed by a local
 * CA made for it, as a TPM vendor's would be) and starts swtpm on free ports; `stop` kills it.
 */
export async function startSoftTpm(dir: string): Promise<SoftTpm> {
  const state = path.join(dir, 'state');
  const ca = path.join(dir, 'ca');
  fs.mkdirSync(state, { recursive: true });
  fs.mkdirSync(ca, { recursive: true });
  fs.writeFileSync(path.join(dir, 'localca.conf'), [`statedir = ${ca}`, `signingkey = ${ca}/signkey.pem`, `issuercert = ${ca}/issuercert.pem`, `certserial = ${ca}/certserial`, ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'localca.options'), '--platform-manufacturer Hallmark-Test\n--platform-version 2.1\n--platform-model swtpm\n');
  fs.writeFileSync(path.join(dir, 'setup.conf'), [`create_certs_tool = /usr/bin/swtpm_localca`, `create_certs_tool_config = ${dir}/localca.conf`, `create_certs_tool_options = ${dir}/localca.options`, 'active_pcr_banks = sha256', ''].join('\n'));
  await mustRun('swtpm_setup', ['--tpm2', '--tpmstate', state, '--create-ek-cert', '--config', path.join(dir, 'setup.conf'), '--overwrite']);
  const port = await freePortPair();
  const ctrl = port + 1;
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
  };
  process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  try {
    const swtpm = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${state}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, '--flags', 'startup-clear'], { stdio: 'ignore' });
    children.push(swtpm);
    await listening(port, swtpm);
    const bus = await startSessionBus();
    children.push(bus.child);
    const address = bus.address;
    const busName = `com.hallmark.Tabrmd.p${port}`;
    const tcti = `tabrmd:bus_type=session,bus_name=${busName}`;
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, TPM2TOOLS_TCTI: tcti, TPM2OPENSSL_TCTI: tcti };
    const abrmd = spawn('/usr/sbin/tpm2-abrmd', ['--session', `--dbus-name=${busName}`, `--tcti=swtpm:host=127.0.0.1,port=${port}`, '--allow-root'], { env, stdio: 'ignore' });
    children.push(abrmd);
    // Ready when a TPM command goes through it (a deadline, not a sleep).
    for (const until = Date.now() + 30_000; ; ) {
      if (abrmd.exitCode !== null) throw new Error(`tpm2-abrmd exited ${abrmd.exitCode}`);
      if ((await run('tpm2_getcap', ['properties-fixed'], { env, timeoutMs: 10_000 })).code === 0) break;
      if (Date.now() > until) throw new Error('tpm2-abrmd did not answer');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { env, caFiles: [path.join(ca, 'swtpm-localca-rootca-cert.pem'), path.join(ca, 'issuercert.pem')], stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** One TPM and the files tpm2-tools made with it. */
export interface Tpm {
  soft: SoftTpm;
  dir: string;
}

export const KEY_ATTRIBUTES = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign';
export const TLS_HANDLE = '0x81000010';
// tpm2-openssl for the key, openssl's own digests (a TPM hash sequence per TLS transcript is slow and scarce).
export const TPM_PROVIDER = ['-provider', 'tpm2', '-provider', 'default', '-propquery', '?provider=tpm2,tpm2.digest!=yes'];

export const tpmTools = (tpm: Tpm, tool: string, args: string[]) => mustRun(tool, args, { env: tpm.soft.env, cwd: tpm.dir });
export const tpmB64 = (tpm: Tpm, file: string) => fs.readFileSync(path.join(tpm.dir, file)).toString('base64');

/** A TPM made for the test: its EK (and the EK certificate swtpm_setup stored), an AK, a storage primary. */
export async function makeTpm(root: string, name: string): Promise<Tpm> {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const tpm = { soft: await startSoftTpm(dir), dir };
  await tpmTools(tpm, 'tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub']);
  await tpmTools(tpm, 'tpm2_createak', ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', 'ak.pub', '-n', 'ak.name']);
  await tpmTools(tpm, 'tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc', '-c', 'primary.ctx']);
  // The RSA EK certificate at the TCG index 0x01c00002, as a device reads it.
  await tpmTools(tpm, 'tpm2_nvread', ['0x1c00002', '-C', 'o', '-o', 'ek-cert.der']);
  return tpm;
}

/** A key made in the TPM (with its creation ticket, for TPM2_CertifyCreation), loaded. */
export async function makeKey(tpm: Tpm, name: string, attributes = KEY_ATTRIBUTES): Promise<void> {
  await tpmTools(tpm, 'tpm2_create', ['-C', 'primary.ctx', '-G', 'ecc', '-u', `${name}.pub`, '-r', `${name}.priv`, '-a', attributes, '--creation-data', `${name}.cdata`, '--creation-ticket', `${name}.ticket`, '--creation-hash', `${name}.chash`]);
  await tpmTools(tpm, 'tpm2_load', ['-C', 'primary.ctx', '-u', `${name}.pub`, '-r', `${name}.priv`, '-c', `${name}.ctx`]);
}

/** What the device (or station) sends for a challenge: EK certificate and public areas, base64. */
export const evidence = (tpm: Tpm, key: string, options: { ak?: Tpm } = {}) => ({
  ekCertificate: tpmB64(tpm, 'ek-cert.der'),
  ekPublic: tpmB64(tpm, 'ek.pub'),
  akPublic: tpmB64(options.ak ?? tpm, 'ak.pub'),
  keyPublic: tpmB64(tpm, `${key}.pub`),
});

/** TPM2_ActivateCredential with the EK's policy (PolicySecret of the endorsement hierarchy); undefined when the TPM refuses. */
export async function activate(tpm: Tpm, credential: string): Promise<Buffer | undefined> {
  const file = path.join(tpm.dir, `cred-${randomBytes(4).toString('hex')}.bin`);
  fs.writeFileSync(file, Buffer.from(credential, 'base64'));
  const out = `${file}.out`;
  await tpmTools(tpm, 'tpm2_startauthsession', ['--policy-session', '-S', 'session.ctx']);
  await tpmTools(tpm, 'tpm2_policysecret', ['-S', 'session.ctx', '-c', 'e']);
  const r = await run('tpm2_activatecredential', ['-c', 'ak.ctx', '-C', 'ek.ctx', '-i', file, '-o', out, '-P', 'session:session.ctx'], { env: tpm.soft.env, cwd: tpm.dir });
  await run('tpm2_flushcontext', ['session.ctx'], { env: tpm.soft.env, cwd: tpm.dir });
  return r.code === 0 ? fs.readFileSync(out) : undefined;
}

/** TPM2_CertifyCreation of the key by the AK, qualifyingData = the nonce: the attestation and its signature, base64. */
export async function certifyCreation(tpm: Tpm, key: string, nonceHex: string) {
  await tpmTools(tpm, 'tpm2_certifycreation', ['-C', 'ak.ctx', '-c', `${key}.ctx`, '-d', `${key}.chash`, '-t', `${key}.ticket`, '-g', 'sha256', '-q', nonceHex, '-o', `${key}.sig`, '--attestation', `${key}.attest`]);
  return { attestation: tpmB64(tpm, `${key}.attest`), signature: tpmB64(tpm, `${key}.sig`) };
}

/** The whole answer: the recovered credential, and the key certified over the nonce. */
export async function answerFor(tpm: Tpm, challenge: { challenge: string; nonce: string; credential: string }, key: string) {
  const secret = await activate(tpm, challenge.credential);
  if (!secret) throw new Error('the TPM did not recover the credential');
  return { challenge: challenge.challenge, activatedSecret: secret.toString('base64'), ...(await certifyCreation(tpm, key, challenge.nonce)) };
}

