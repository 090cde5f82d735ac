import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { threadCpuSeconds } from './proc-stat.js';

/**
 * With HALLMARK_BENCH_CPU_PROFILE=<dir>, this process's main thread is profiled (V8's sampling
 * profiler) while `run` lasts and written as <dir>/<name>-<time>.cpuprofile (open it in Chrome's
 * DevTools), and each thread's CPU share over the run is logged. Profiling costs the main thread a few
 * per cent: figures from such a run are not for the tables. Without the variable, `run` runs as is.
 */
export async function profiled<T>(name: string, run: () => Promise<T>, log: (line: string) => void): Promise<T> {
  const dir = process.env.HALLMARK_BENCH_CPU_PROFILE;
  if (!dir) return run();
  const threadsBefore = threadCpuSeconds();
  const started = performance.now();
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<any>((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await post('Profiler.stop');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${name}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
    const seconds = (performance.now() - started) / 1000;
    const after = threadCpuSeconds();
    // Node 20 names none of its threads: the main thread is the one whose id is the process's.
    const shares = [...after]
      .map(([tid, cpu]) => ({ thread: tid === String(process.pid) ? 'main' : tid, share: (cpu - (threadsBefore.get(tid) ?? 0)) / seconds }))
      .filter((t) => t.share >= 0.005)
      .sort((a, b) => b.share - a.share);
    log(`${name}: threads' CPU, share of one core over ${seconds.toFixed(1)} s: ${shares.map((t) => `${t.thread} ${(t.share * 100).toFixed(0)}%`).join(', ')}`);
  }
}
