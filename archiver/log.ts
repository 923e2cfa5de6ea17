// The archiver's root pino logger: JSON to stdout, secrets redacted. Never log a raw URL; use
// safeUrl() from config.ts.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export const REDACT_PATHS = [
  'password',
  '*.password',
  'databaseUrl',
  '*.databaseUrl',
  'redisUrl',
  '*.redisUrl',
  'url',
  '*.url',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
];

export function createLogger(level: LogLevel, name = 'archiver'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
