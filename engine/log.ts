import pino, { type Logger } from 'pino'

/** Paths pino censors wherever they appear: bearer tokens, secrets, session and identity proofs. */
export const REDACT_PATHS = [
  'token', '*.token', 'adminToken', '*.adminToken', 'apiToken', '*.apiToken',
  'hmacSecret', '*.hmacSecret', 'session', '*.session', 'websiteToken', '*.websiteToken',
  'identifierHash', '*.identifierHash', 'identifier_hash', '*.identifier_hash',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'password', '*.password', 'redisUrl', '*.redisUrl',
]

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { svc: 'engine', pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }
  return destination === undefined ? pino(options) : pino(options, destination)
}

export type { Logger }
