// Webhook signatures: `X-Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
// one `v1=` per secret that signs (two during a rotation's overlap). `verifySignature` is what a
// receiver does (README has it standalone); the tests use it as the receiver's check.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function signatureHeader(secrets: readonly string[], body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return [`t=${t}`, ...secrets.map((s) => `v1=${createHmac('sha256', s).update(`${t}.${body}`).digest('hex')}`)].join(',');
}

/** True when one `v1` of `header` is `secret`'s signature of `body` and `t` is within `toleranceS` of now. */
export function verifySignature(header: string, body: string, secret: string, nowMs = Date.now(), toleranceS = 300): boolean {
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > toleranceS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return parts.some(([k, v]) => {
    if (k !== 'v1' || v === undefined || !/^[0-9a-f]{64}$/.test(v)) return false;
    return timingSafeEqual(Buffer.from(v, 'hex'), expected);
  });
}
