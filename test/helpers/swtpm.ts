import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { mustRun } from './run.js';

/** A software TPM (swtpm) made for one test: its state, EK certificates from a local CA, a TCTI for tpm2-tools. */
export interface SoftTpm {
  /** TPM2TOOLS_TCTI for tpm2-tools. */
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
  const child = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${state}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, '--flags', 'startup-clear'], { stdio: 'ignore' });
  await listening(port, child);
  return {
    env: { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` },
    caFiles: [path.join(ca, 'swtpm-localca-rootca-cert.pem'), path.join(ca, 'issuercert.pem')],
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
