import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The session bus's configuration without service directories: the machine's session.conf lets the bus
 * start a service when a name is first asked for (D-Bus activation), and certmonger installs one. A
 * `getcert` run before the test's own certmonger had taken its name then started a second certmonger,
 * with the bus's environment and the machine's state directories; the test's own could not take the
 * name and exited ("Unable to set well-known bus name"), and the requests went where the test never looks.
 * Here only the services a test starts itself are on its bus.
 */
const CONFIG = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=${os.tmpdir()}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;

/** A D-Bus session bus of a test's own (tpm2-abrmd, certmonger), never the machine's, that starts no service by itself. The caller kills `child`. */
export async function startSessionBus(): Promise<{ child: ChildProcess; address: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hallmark-bus-'));
  const config = path.join(dir, 'session.conf');
  fs.writeFileSync(config, CONFIG);
  const child = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  process.once('exit', () => child.kill('SIGKILL'));
  try {
    return { child, address: await firstLine(child) };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

/** The first line a child prints (dbus-daemon's address, once it listens), within 20 s. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('no address from dbus-daemon')), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const newline = text.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, newline).trim());
      }
    });
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited ${code}`)));
  });
}
