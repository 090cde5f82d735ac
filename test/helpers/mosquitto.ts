import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Mosquitto as a relying party: TLS with `require_certificate true`, the chain in `dir/chain.pem`, its
 * own certificate and key in `dir/broker.pem` and `dir/broker.key`, and the CRL it loads at start in
 * `dir/<crlFile>`; TLS 1.2 unless told otherwise. Resolves once the port accepts connections (up to a minute on a loaded machine).
 */
export async function startBroker(dir: string, port: number, crlFile = 'crl.pem', options: { tlsVersion?: 'tlsv1.2' | 'tlsv1.3'; identityAsUsername?: boolean } = {}): Promise<ChildProcess> {
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'user root',
      'allow_anonymous true',
      `cafile ${path.join(dir, 'chain.pem')}`,
      `certfile ${path.join(dir, 'broker.pem')}`,
      `keyfile ${path.join(dir, 'broker.key')}`,
      'require_certificate true',
      `crlfile ${path.join(dir, crlFile)}`,
      `tls_version ${options.tlsVersion ?? 'tlsv1.2'}`,
      ...(options.identityAsUsername ? ['use_identity_as_username true'] : []),
      `log_dest file ${path.join(dir, 'broker.log')}`,
      'log_type all',
      '',
    ].join('\n'),
  );
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  process.on('exit', () => child.kill('SIGKILL'));
  // Waits on the broker's port (readiness), up to a minute on a loaded machine.
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('mosquitto did not start');
}

