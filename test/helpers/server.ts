import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import os from 'node:os';
import { CLI } from './paths.js';

export interface RunningServer {
  https: number;
  http: number;
  process: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  stop(): Promise<number | null>;
}

/** Every `hallmark serve` a test started and that still runs: killed when the test process exits, whatever happened. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * How long a start may take before it is called failed: a deadline, not a sleep (the ready line ends the
 * wait), longer on a loaded machine (a busy 2-core CI runner took over 20 s).
 */
const startDeadlineMs = () => 30_000 * Math.max(1, Math.ceil(os.loadavg()[0]! / os.cpus().length));

/** Starts `hallmark serve` on free ports (with `extraArgs`) and waits for its ready line; a start that fails kills the child. */
export function startServer(env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<RunningServer> {
  const child = spawn('node', [CLI, 'serve', '--https-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--json', ...extraArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const deadline = startDeadlineMs();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within ${deadline / 1000} s: ${stderr}`));
    }, deadline);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: { https: number; http: number } };
      if (!msg.ready) return;
      clearTimeout(timer);
      resolve({
        ...msg.ready,
        process: child,
        log: () => stderr,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done(child.exitCode);
            child.once('exit', (code) => done(code));
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
