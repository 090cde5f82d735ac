import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import graphene from 'graphene-pk11';
import { makeTestHome } from './hsm.js';
import { mustRun, run } from './run.js';
import { startSoftTpm } from './swtpm.js';
import { readEnvironment } from '../../src/config/env.js';

/**
 * A PKCS#11 module made ready for a test: its token initialised with a PIN in a file, whatever it
 * talks to started (openCryptoki's pkcsslotd, a software TPM), and `stop` to take it all down.
 */
export interface ModuleUnderTest {
  name: 'softhsm' | 'opencryptoki' | 'tpm2-pkcs11';
  modulePath: string;
  tokenLabel: string;
  pin: string;
  /** HALLMARK_PKCS11_* and what the module itself reads (SOFTHSM2_CONF, TPM2_PKCS11_*), for a `hallmark` process. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export const OPENCRYPTOKI = '/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so';
export const TPM2_PKCS11 = '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so';

function pinFile(dir: string, pin: string): string {
  const file = path.join(dir, 'user.pin');
  fs.writeFileSync(file, `${pin}\n`, { mode: 0o600 });
  return file;
}

export async function softHsm(dir: string): Promise<ModuleUnderTest> {
  const home = await makeTestHome(['hallmark-softhsm']);
  return {
    name: 'softhsm',
    modulePath: readEnvironment(home.env).pkcs11Module,
    tokenLabel: 'hallmark-softhsm',
    pin: home.pin,
    env: { SOFTHSM2_CONF: home.env.SOFTHSM2_CONF, HALLMARK_PKCS11_MODULE: readEnvironment(home.env).pkcs11Module, HALLMARK_PKCS11_TOKEN: 'hallmark-softhsm', HALLMARK_PKCS11_PIN_FILE: pinFile(dir, home.pin) },
    stop: async () => home.cleanup(),
  };
}

const OCK_LABEL = 'hallmark-ock';
/** openCryptoki's compiled-in default SO PIN of a new software token. */
const OCK_DEFAULT_SO_PIN = '87654321';
const OCK_STATE = '/var/lib/opencryptoki/swtok';
const pkcsslotdPid = () => {
  try {
    const pid = Number(fs.readFileSync('/var/run/pkcsslotd.pid', 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
};

async function stopSlotd(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  for (const until = Date.now() + 10_000; Date.now() < until; ) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(pid, 'SIGKILL');
}

/** Starts pkcsslotd (it forks and writes its pid file) and waits for the software token's slot to answer. */
async function startSlotd(): Promise<number> {
  await mustRun('/usr/sbin/pkcsslotd', []);
  for (const until = Date.now() + 20_000; ; ) {
    const pid = pkcsslotdPid();
    if (pid && (await run('/usr/sbin/pkcsconf', ['-t', '-c', '3'], { timeoutMs: 10_000 })).code === 0) return pid;
    if (Date.now() > until) throw new Error('pkcsslotd did not come up');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * openCryptoki 3.8's software token (slot 3 in Debian's opencryptoki.conf) behind pkcsslotd. Its
 * state directory is compiled in (/var/lib/opencryptoki/swtok), so the test owns the machine's
 * software token: it refuses to touch one initialised under another label, and starts from an empty
 * one (the daemon stopped, the state removed) when it finds its own from an earlier run.
 * PINs: openCryptoki takes 4 to 8 characters.
 */
export async function openCryptoki(dir: string): Promise<ModuleUnderTest> {
  const wasRunning = pkcsslotdPid() !== undefined;
  let pid = pkcsslotdPid() ?? (await startSlotd());
  const info = await mustRun('/usr/sbin/pkcsconf', ['-t', '-c', '3']);
  const label = /Label:\s*(.*?)\s*$/m.exec(info)?.[1];
  const initialised = /TOKEN_INITIALIZED/.test(info);
  if (initialised && label !== OCK_LABEL) throw new Error(`openCryptoki's software token is in use here (label "${label}"); the test will not touch it`);
  if (initialised) {
    await stopSlotd(pid);
    for (const entry of fs.readdirSync(OCK_STATE)) {
      if (entry === 'TOK_OBJ') for (const object of fs.readdirSync(path.join(OCK_STATE, entry))) fs.rmSync(path.join(OCK_STATE, entry, object), { force: true, recursive: true });
      else fs.rmSync(path.join(OCK_STATE, entry), { force: true, recursive: true });
    }
    pid = await startSlotd();
  }
  const pin = randomBytes(4).toString('hex');
  const soPin = randomBytes(4).toString('hex');
  // In a child process, so that this one loads the module fresh, after the token exists.
  const script = path.join(dir, 'ock-init.mjs');
  fs.writeFileSync(
    script,
    `import graphene from ${JSON.stringify(path.join(process.cwd(), 'node_modules', 'graphene-pk11', 'build', 'cjs', 'index.js'))};
const [soPin, initial, pin] = process.argv.slice(2);
const mod = graphene.Module.load(${JSON.stringify(OPENCRYPTOKI)}, 'ock');
mod.initialize();
const slot = mod.getSlots(true).items(0);
slot.lib.C_InitToken(slot.handle, ${JSON.stringify(OCK_DEFAULT_SO_PIN)}, ${JSON.stringify(OCK_LABEL.padEnd(32, ' '))});
let session = slot.open(graphene.SessionFlag.RW_SESSION | graphene.SessionFlag.SERIAL_SESSION);
session.login(${JSON.stringify(OCK_DEFAULT_SO_PIN)}, graphene.UserType.SO);
session.lib.C_SetPIN(session.handle, ${JSON.stringify(OCK_DEFAULT_SO_PIN)}, soPin);
session.initPin(initial);
session.logout();
session.close();
// A PIN the SO sets is flagged "to be changed": the user sets its own, as an operator would.
session = slot.open(graphene.SessionFlag.RW_SESSION | graphene.SessionFlag.SERIAL_SESSION);
session.login(initial, graphene.UserType.USER);
session.lib.C_SetPIN(session.handle, initial, pin);
session.logout();
session.close();
mod.finalize();
`,
  );
  await mustRun('node', [script, soPin, randomBytes(4).toString('hex'), pin]);
  return {
    name: 'opencryptoki',
    modulePath: OPENCRYPTOKI,
    tokenLabel: OCK_LABEL,
    pin,
    env: { HALLMARK_PKCS11_MODULE: OPENCRYPTOKI, HALLMARK_PKCS11_TOKEN: OCK_LABEL, HALLMARK_PKCS11_PIN_FILE: pinFile(dir, pin) },
    stop: async () => {
      // A daemon that ran before the test keeps running; one the test started is stopped.
      const running = pkcsslotdPid();
      if (running && !wasRunning) await stopSlotd(running);
    },
  };
}

const TPM_LABEL = 'hallmark-tpm';

/**
 * tpm2-pkcs11 over a software TPM (swtpm behind tpm2-abrmd), its store in a temp directory, the
 * token and Hallmark's sealing key made with tpm2_ptool (the module does not implement
 * C_GenerateKey for AES keys): the steps docs/hsm.md gives an operator.
 */
export async function tpm2Pkcs11(dir: string): Promise<ModuleUnderTest> {
  const tpm = await startSoftTpm(path.join(dir, 'tpm'));
  const store = path.join(dir, 'tpm2-pkcs11');
  fs.mkdirSync(store);
  const env: NodeJS.ProcessEnv = { TPM2_PKCS11_STORE: store, TPM2_PKCS11_TCTI: tpm.env.TPM2TOOLS_TCTI, DBUS_SESSION_BUS_ADDRESS: tpm.env.DBUS_SESSION_BUS_ADDRESS, TPM2TOOLS_TCTI: tpm.env.TPM2TOOLS_TCTI };
  const pin = randomBytes(8).toString('hex');
  const soPin = randomBytes(8).toString('hex');
  const ptool = (args: string[]) => mustRun('tpm2_ptool', args, { env: { ...process.env, ...env } });
  try {
    await ptool(['init', '--path', store]);
    await ptool(['addtoken', '--pid', '1', '--label', TPM_LABEL, '--sopin', soPin, '--userpin', pin, '--path', store]);
    await ptool(['addkey', '--label', TPM_LABEL, '--key-label', 'hallmark-secrets', '--algorithm', 'aes256', '--userpin', pin, '--path', store]);
  } catch (e) {
    await tpm.stop();
    throw e;
  }
  return {
    name: 'tpm2-pkcs11',
    modulePath: TPM2_PKCS11,
    tokenLabel: TPM_LABEL,
    pin,
    env: { ...env, HALLMARK_PKCS11_MODULE: TPM2_PKCS11, HALLMARK_PKCS11_TOKEN: TPM_LABEL, HALLMARK_PKCS11_PIN_FILE: pinFile(dir, pin) },
    stop: () => tpm.stop(),
  };
}

/** How many session-object private keys labelled `label` this process holds (the key store's working copies). */
export function workingCopiesOf(module: ModuleUnderTest, label: string): number {
  const mod = graphene.Module.load(module.modulePath, 'test');
  const slots = mod.getSlots(true);
  for (let i = 0; i < slots.length; i++) {
    if (slots.items(i).getToken().label.trim() !== module.tokenLabel) continue;
    const session = slots.items(i).open(graphene.SessionFlag.SERIAL_SESSION);
    try {
      return session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label, token: false }).length;
    } finally {
      session.close();
    }
  }
  throw new Error(`no token labelled ${module.tokenLabel}`);
}

/** A second view of the token from this process (as another PKCS#11 user would have), to pull its sessions away. */
export function closeAllSessions(module: ModuleUnderTest): void {
  const mod = graphene.Module.load(module.modulePath, 'test');
  const slots = mod.getSlots(true);
  for (let i = 0; i < slots.length; i++) if (slots.items(i).getToken().label.trim() === module.tokenLabel) slots.items(i).closeAll();
}

