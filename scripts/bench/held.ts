/**
 * What holding N pre-signed OCSP responses costs a process, without a database or a token: the memory
 * per million and the pause of a full garbage collection, for the pre-signed set's table
 * (protocols/ocsp/held-responses.ts: typed-array columns and a counted arena) against the reference
 * measured in the same run, the shape it replaced (a Map of one record per response, the bytes in shared
 * slabs); and what finding one response costs (a lookup in random order, as never-asked requests come). A full collection stops the process: at ten million responses the record shape's is what an
 * OCSP answer or a revocation's look may wait behind. Each shape is built in a process of its own.
 *
 *   npm run bench:held -- [--responses 10000000] [--bytes 250]
 * Last line: `held/gc-pause-over-records: <table's pause ÷ the records' pause>` (lower is better).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createHeldResponses } from '../../src/protocols/ocsp/held-responses.js';
import { fmt, median, runBench, table } from './setup.js';

const { values } = parseArgs({ options: { responses: { type: 'string', default: '10000000' }, bytes: { type: 'string', default: '250' }, shape: { type: 'string' } } });
const RESPONSES = Number(values.responses);
const BYTES = Number(values.bytes);

interface Measured {
  shape: string;
  fillSeconds: number;
  bytesPerResponse: number;
  gcPausesMs: number[];
  lookupNs: number;
}
const LOOKUPS = 2_000_000;

const gc = () => (globalThis as { gc?: () => void }).gc!();
const heldBytes = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
const serialOf = (i: number) => `${(0x10000000 + i).toString(16)}${'a5'.repeat(12)}`;

/** The shape the table replaced: a record per response in a Map, its bytes in 64 KiB slabs. */
function fillRecords(signed: Buffer): (serial: string) => unknown {
  const entries = new Map<string, object>();
  let slab = Buffer.allocUnsafeSlow(64 * 1024);
  let used = 0;
  for (let i = 0; i < RESPONSES; i++) {
    if (used + signed.length > slab.length) {
      slab = Buffer.allocUnsafeSlow(64 * 1024);
      used = 0;
    }
    slab.set(signed, used);
    entries.set(serialOf(i), { issuer: 'issuing', responder: 'r1', slab, offset: used, length: signed.length, statusChangedAt: 0, thisUpdate: Date.now() + i, nextUpdate: Date.now() + 3_600_000 + i });
    used += signed.length;
  }
  // What answering read of it: the record, checked and its bytes viewed.
  return (serial) => {
    const entry = entries.get(serial) as { issuer: string; nextUpdate: number; slab: Buffer; offset: number; length: number } | undefined;
    return entry && entry.issuer === 'issuing' && entry.nextUpdate > 0 ? entry.slab.subarray(entry.offset, entry.offset + entry.length) : undefined;
  };
}

function fillTable(signed: Buffer): (serial: string) => unknown {
  const held = createHeldResponses();
  for (let i = 0; i < RESPONSES; i++) held.set(serialOf(i), signed, { issuer: 'issuing', responder: 'r1', statusChangedAt: 0, thisUpdate: Date.now() + i, nextUpdate: Date.now() + 3_600_000 + i });
  return (serial) => held.valid(serial, 'issuing', 0);
}

/** In the child: fill one shape, then time three full collections with everything held. */
function measure(shape: string): Measured {
  const signed = randomBytes(BYTES);
  gc();
  const before = heldBytes();
  const started = performance.now();
  const lookup = shape === 'table' ? fillTable(signed) : fillRecords(signed);
  const fillSeconds = (performance.now() - started) / 1000;
  const gcPausesMs = [0, 1, 2].map(() => {
    const at = performance.now();
    gc();
    return performance.now() - at;
  });
  const bytesPerResponse = (heldBytes() - before) / RESPONSES;
  // Lookups of serials in a random order, each a new string as a request's parse makes it (twice over:
  // the first pass warms the code up).
  let lookupNs = 0; // (after the collections: the lookups keep everything alive through them)
  for (let pass = 0; pass < 2; pass++) {
    const serials = Array.from({ length: LOOKUPS }, () => serialOf(Math.floor(Math.random() * RESPONSES)).split('').join(''));
    const at = performance.now();
    for (const serial of serials) if (!lookup(serial)) throw new Error(`${serial} not found`);
    lookupNs = ((performance.now() - at) * 1e6) / LOOKUPS;
  }
  return { shape, fillSeconds, bytesPerResponse, gcPausesMs, lookupNs };
}

async function main() {
  if (values.shape) return void console.log(JSON.stringify(measure(values.shape)));
  const self = fileURLToPath(import.meta.url);
  const run = (shape: string): Measured => {
    process.stderr.write(`${shape}: holding ${fmt(RESPONSES)} responses of ${BYTES} bytes…\n`);
    const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=16384', self, '--shape', shape, '--responses', String(RESPONSES), '--bytes', String(BYTES)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    return JSON.parse(out.trim().split('\n').pop()!) as Measured;
  };
  const records = run('records');
  const held = run('table');
  console.log(
    table([
      ['shape', 'fill s', 'bytes/response', 'MiB per million', 'full GC ms (median of 3)', 'lookup ns'],
      ...[records, held].map((m) => [m.shape === 'table' ? 'typed-array table (held-responses.ts)' : 'Map of records (reference)', fmt(m.fillSeconds, 1), fmt(m.bytesPerResponse), fmt((m.bytesPerResponse * 1e6) / (1 << 20)), fmt(median(m.gcPausesMs)), fmt(m.lookupNs)]),
    ]),
  );
  console.log(`held/gc-pause-over-records: ${(median(held.gcPausesMs) / median(records.gcPausesMs)).toFixed(2)}`);
}

runBench(main);
