import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';

/** Fields that may carry a secret are replaced before a line is written (pino redaction). */
const REDACT = ['*.authorization', '*.password', '*.secret', '*.apiKey', '*.token', '*.pin', '*.keyPassphrase', '*.encryptedKey', 'headers.authorization', 'headers.cookie'];

/** Human-readable lines for a terminal: time, level, message, then the other fields as key=value. */
function prettyStream(out: NodeJS.WriteStream): Writable {
  const levels: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      try {
        const { time, level, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(chunk.toString('utf8'));
        const fields = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
          .join(' ');
        out.write(`${new Date(time).toISOString()} ${levels[level] ?? level} ${msg ?? ''}${fields ? `  ${fields}` : ''}\n`);
      } catch {
        out.write(chunk);
      }
      done();
    },
  });
}

/**
 * JSON lines on stderr (one per request, plus events); readable lines when stderr is a terminal;
 * secrets redacted. HALLMARK_LOG_LEVEL sets the level (default info).
 */
export function createLogger(options: { pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const destination = options.destination ?? (pretty ? prettyStream(process.stderr) : process.stderr);
  return pino({ level: process.env.HALLMARK_LOG_LEVEL ?? 'info', base: { service: 'hallmark' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

export type { Logger };
