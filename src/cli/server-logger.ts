import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

/** Log paths that may carry secrets; pino replaces their values, whichever format follows. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.apiKey',
  '*.OPENAI_API_KEY',
  '*.token',
];

/** LOG_FORMAT: `auto` is `pretty` when stdout is a terminal and `json` otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface ServerLoggerOptions {
  readonly level: string;
  readonly format?: LogFormat;
  /** Whether stdout is a terminal (default: process.stdout.isTTY). */
  readonly terminal?: boolean;
  /** Where lines go (default: stdout). */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * The server's logger, secrets redacted (redaction happens before either format sees a line).
 * JSON lines for log collectors, files and pipes; for a person at a terminal, pino-pretty's
 * lines (time, level, message, then the fields), written synchronously so that the last lines
 * before an exit are never lost.
 */
export function serverLogger(options: ServerLoggerOptions): Logger {
  const base = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && (options.terminal ?? process.stdout.isTTY === true));
  if (!pretty) return options.destination ? pino(base, options.destination) : pino(base);
  return pino(
    base,
    pinoPretty({
      sync: true,
      destination: options.destination ?? 1,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    }),
  );
}
