import type { IncomingMessage } from 'node:http';
import { HallmarkError } from '../base/errors.js';

const tooLarge = (limit: number) => new HallmarkError('body_too_large', `the request body is larger than this route accepts (${limit} bytes)`, 413);

/**
 * The whole request body, refused with a 413 past `limit` bytes: at once when Content-Length says so,
 * else as soon as the bytes received pass it (the rest is not kept; the caller closes the connection).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      length += chunk.length;
      if (length > limit) {
        refused = true;
        chunks.length = 0;
        return reject(tooLarge(limit));
      }
      chunks.push(chunk);
    });
    req.on('end', () => refused || resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length)));
    req.on('error', (e) => refused || reject(e));
  });
}
