import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from './paths.js';

export interface RunningServer {
  https: number;
  http: number;
  process: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  stop(): Promise<number | null>;
}

/** Starts `hallmark serve` on free ports (with `extraArgs`) and waits for its ready line. */
export function startServer(env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<RunningServer> {
  const child = spawn('node', [CLI, 'serve', '--https-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--json', ...extraArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
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
