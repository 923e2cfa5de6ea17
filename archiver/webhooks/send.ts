// One delivery attempt: POST the stored body to the webhook's URL with its signature and delivery
// id. The destination is checked before any connection: an IP literal here, a hostname by the
// `lookup` the socket uses (lua/webhook-address.ts), so the check is on the address connected to.
// A hard deadline for the whole exchange, no redirects (node's http never follows one; a 3xx is a
// failure), and the response body read only up to a cap. Keep-alive agents per webhook (their
// sockets were checked when they connected).
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, parseWebhookUrl, refusedAddress, RefusedDestinationError, urlHost } from '../../lua/webhook-address.js';

export type SendResult =
  | { ok: true; statusCode: number }
  | { ok: false; statusCode: number | null; error: string; refused: boolean };

export type Sender = {
  send(req: { webhookId: string; url: string; body: string; headers: Record<string, string> }): Promise<SendResult>;
  /** closes idle keep-alive sockets (shutdown) */
  close(): void;
};

export function createSender(opts: { timeoutMs: number; responseCapBytes: number; allowPrivate: boolean; maxSocketsPerWebhook: number }): Sender {
  const lookup = guardedLookup(opts.allowPrivate);
  const agents = new Map<string, http.Agent>();
  const agentFor = (webhookId: string, secure: boolean): http.Agent => {
    const key = `${webhookId}:${secure ? 's' : 'p'}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      const o = { keepAlive: true, maxSockets: opts.maxSocketsPerWebhook, maxFreeSockets: opts.maxSocketsPerWebhook, timeout: opts.timeoutMs };
      agent = secure ? new https.Agent(o) : new http.Agent(o);
      agents.set(key, agent);
    }
    return agent;
  };

  const send: Sender['send'] = (req) => {
    const parsed = parseWebhookUrl(req.url);
    if ('error' in parsed) return Promise.resolve({ ok: false, statusCode: null, error: `url ${parsed.error}`, refused: true });
    const url = parsed.url;
    const host = urlHost(url);
    if (!opts.allowPrivate && isIP(host) !== 0) {
      const why = refusedAddress(host);
      if (why !== null) return Promise.resolve({ ok: false, statusCode: null, error: `refused before connecting: ${why}`, refused: true });
    }
    const secure = url.protocol === 'https:';
    const body = Buffer.from(req.body);
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (r: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(r);
      };
      const request = (secure ? https : http).request({
        method: 'POST', protocol: url.protocol, hostname: host, port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`, lookup, agent: agentFor(req.webhookId, secure),
        headers: { ...req.headers, host: url.host, 'content-type': 'application/json', 'content-length': String(body.length) },
        ...(secure && isIP(host) === 0 ? { servername: host } : {}),
      });
      const deadline = setTimeout(() => {
        request.destroy(new Error(`timed out after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      request.on('error', (err: Error & { code?: string }) => {
        const refused = err instanceof RefusedDestinationError || err.code === 'ERR_WEBHOOK_DESTINATION_REFUSED';
        finish({ ok: false, statusCode: null, error: refused ? `refused before connecting: ${err.message}` : err.code ? `${err.code}: ${err.message}` : err.message, refused });
      });
      request.on('response', (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > opts.responseCapBytes) res.destroy(); // enough: the status is what counts
        });
        const done = () => finish(status >= 200 && status < 300
          ? { ok: true, statusCode: status }
          : { ok: false, statusCode: status, error: `HTTP ${status}`, refused: false });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      });
      request.end(body);
    });
  };

  return {
    send,
    close() {
      for (const a of agents.values()) a.destroy();
      agents.clear();
    },
  };
}
