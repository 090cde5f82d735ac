import { serveWorker } from '../workers/serve.js';
import { packedBytesWorkerCodec } from '../workers/packed-bytes.js';
import { isCsrProblem, parseAndVerifyCsr, type CsrProblem, type ParsedCsr } from './csr-parse.js';

// CSR parsing and signature verification off the main thread (see csr.ts). The requests arrive
// packed; each result goes back without its `der`, which the main thread already holds.
const NO_BYTES = new Uint8Array(0);
serveWorker(
  'hm-csr',
  (ders: Uint8Array[]) =>
    ders.map((der): ParsedCsr | CsrProblem => {
      const parsed = parseAndVerifyCsr(der);
      return isCsrProblem(parsed) ? parsed : { ...parsed, der: NO_BYTES };
    }),
  { decode: packedBytesWorkerCodec.decode, encodeResults: (results) => ({ payload: results, transfer: [] }) },
);
