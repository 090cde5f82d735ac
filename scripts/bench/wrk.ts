import { execFile } from 'node:child_process';
import fs from 'node:fs';

export interface WrkResult {
  requestsPerSecond: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
}

const toMs = (value: string) => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
};

/** A wrk Lua script that POSTs the given bodies in turn (LuaJIT reads "\ddd" decimal escapes). */
export function writePostScript(file: string, path: string, contentType: string, bodies: Uint8Array[]): void {
  const lua = bodies.map((b) => `"${Array.from(b, (x) => `\\${x}`).join('')}"`).join(',\n');
  fs.writeFileSync(
    file,
    `local bodies = {\n${lua}\n}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n  return wrk.format("POST", "${path}", {["Content-Type"] = "${contentType}"}, bodies[i])\nend\n`,
  );
}

/**
 * The same for many bodies (a fleet's worth of distinct requests): a Lua table constructor that large is
 * beyond LuaJIT, so the bodies go in a file of length-prefixed records that the script reads at start.
 */
export function writePostScriptFromFile(file: string, path: string, contentType: string, bodies: Uint8Array[]): void {
  const records = Buffer.concat(bodies.flatMap((b) => [Buffer.from([b.length >> 8, b.length & 0xff]), Buffer.from(b)]));
  fs.writeFileSync(`${file}.bin`, records);
  fs.writeFileSync(
    file,
    `local f = assert(io.open("${file}.bin", "rb"))
local data = f:read("*a")
f:close()
local bodies = {}
local at = 1
while at < #data do
  local n = data:byte(at) * 256 + data:byte(at + 1)
  bodies[#bodies + 1] = data:sub(at + 2, at + 1 + n)
  at = at + 2 + n
end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "${path}", {["Content-Type"] = "${contentType}"}, bodies[i])
end
`,
  );
}

/** Runs wrk (Debian package `wrk`) against a loopback URL for a bounded time. */
export function runWrk(url: string, script: string, options: { connections: number; seconds: number; threads?: number }): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'wrk',
      ['-t', String(options.threads ?? 2), '-c', String(options.connections), '-d', `${options.seconds}s`, '--latency', '-s', script, url],
      { timeout: (options.seconds + 30) * 1000 },
      (error, stdout) => {
        if (error) return reject(new Error(`wrk failed: ${error.message}\n${stdout}`));
        const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
        const p50 = /\s50%\s+(\S+)/.exec(stdout);
        const p99 = /\s99%\s+(\S+)/.exec(stdout);
        const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
        if (!rps) return reject(new Error(`cannot read wrk output:\n${stdout}`));
        resolve({ requestsPerSecond: Number(rps[1]), p50ms: toMs(p50?.[1] ?? ''), p99ms: toMs(p99?.[1] ?? ''), non2xx: Number(non2xx?.[1] ?? 0) });
      },
    );
  });
}
