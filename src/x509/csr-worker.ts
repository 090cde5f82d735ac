import { serveWorker } from '../workers/serve.js';
import { parseAndVerifyCsr } from './csr-parse.js';

// CSR parsing and signature verification off the main thread (see csr.ts).
serveWorker((ders: Uint8Array[]) => ders.map(parseAndVerifyCsr));
