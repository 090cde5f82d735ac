import fs from 'node:fs';

/**
 * A process's own peak RSS in KiB: VmHWM, which belongs to the address space made at exec (0 once it has
 * ended). Not getrusage's maxRSS: Linux keeps that figure across fork and exec, so a process started by
 * a large one reports the parent's size (the ten-million bench's 3.8 GiB as the peak of a CRL worker
 * signing a 0.9 MiB shard).
 */
export function peakRssKiB(pid: number | 'self' = 'self'): number {
  try {
    return Number(/^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * The name and CPU seconds so far (user + system) of a process or thread, from its Linux stat file
 * (`/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat`); undefined when it has ended or /proc is not
 * there. Benchmarks use it for what `process.cpuUsage()` cannot see: other processes, single threads.
 */
export function readProcStat(file: string): { name: string; cpuSeconds: number; reapedCpuSeconds: number } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // The name is in parentheses and may hold spaces; after it, state is the 1st field, utime the 12th
  // and stime the 13th, cutime and cstime (its children that ended and were waited for) the 14th and 15th
  // (proc(5)), in ticks of USER_HZ: 100 on Linux for every architecture Node supports.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100,
    reapedCpuSeconds: (Number(fields[13]) + Number(fields[14])) / 100,
  };
}

/** CPU seconds (user + system) this process has used so far, every thread included. */
export function processCpuSeconds(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1e6;
}

/**
 * CPU seconds used so far by the PostgreSQL server's processes on this machine (Linux /proc): they
 * share the cores with Hallmark, so a figure per certificate without them would flatter PostgreSQL.
 * Backends that ended count too, through the postmaster's children's time: a pool closing an idle
 * connection during a run once took its backend's seconds out of the sum (a run read -367 µs of
 * PostgreSQL per certificate). The server is this machine's own and otherwise idle during a run. Zero
 * where /proc is not readable.
 */
export function postgresCpuSeconds(): number {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return 0;
  }
  let seconds = 0;
  for (const pid of entries) {
    const stat = readProcStat(`/proc/${pid}/stat`);
    if (stat?.name.startsWith('postgres')) seconds += stat.cpuSeconds + stat.reapedCpuSeconds;
  }
  return seconds;
}

/** Each thread of a process with its stat (Linux /proc): none once the process has ended. */
function threadStats(pid: number): { tid: string; name: string; cpuSeconds: number }[] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    const stat = readProcStat(`/proc/${pid}/task/${tid}/stat`);
    return stat ? [{ tid, ...stat }] : [];
  });
}

/** CPU seconds of each of this process's threads so far, by thread id (Linux /proc). */
export function threadCpuSeconds(): Map<string, number> {
  return new Map(threadStats(process.pid).map((t) => [t.tid, t.cpuSeconds]));
}

/** A process's threads' CPU seconds so far, summed by thread name (Linux /proc; empty once it has ended). */
export function threadCpuByName(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const thread of threadStats(pid)) {
    // The main thread carries the process's name, as threads Node does not name do: told apart by its id.
    const name = thread.tid === String(pid) ? 'main thread' : thread.name;
    byName.set(name, (byName.get(name) ?? 0) + thread.cpuSeconds);
  }
  return byName;
}

/** How much each named figure grew from `before` to `after` (CPU seconds by thread name), those that grew. */
export function growthByName(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([name, seconds]): [string, number] => [name, seconds - (before.get(name) ?? 0)]).filter(([, grown]) => grown > 0));
}
