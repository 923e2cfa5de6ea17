// Classifies PostgreSQL client errors: worth retrying (server unreachable, restarting, out of
// connections) or not (a bad migration, a constraint, a syntax error, a missing file).
import postgres from 'postgres';

const TRANSIENT_SQLSTATE_PREFIXES = ['08', '53', '57P'];
const TRANSIENT_CLIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
]);

export function isTransientPgError(err: unknown): boolean {
  if (err instanceof postgres.PostgresError) {
    return TRANSIENT_SQLSTATE_PREFIXES.some((p) => err.code.startsWith(p));
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_CLIENT_CODES.has(code);
}
