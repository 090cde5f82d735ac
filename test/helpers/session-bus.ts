import { spawn, type ChildProcess } from 'node:child_process';

/** A D-Bus session bus of a test's own (tpm2-abrmd, certmonger), never the machine's. The caller kills `child`. */
export async function startSessionBus(): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
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
