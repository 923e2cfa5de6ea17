// The archiver's small HTTP surface: /healthz (the process runs), /readyz (Redis and PostgreSQL
// answer and the schema is migrated), /metrics (Prometheus text). Bind it privately.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Readiness } from './readiness.js';

export type HttpServer = {
  /** Starts listening; resolves with the bound port (useful when `port` is 0). */
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
};

export function createHttpServer(deps: { readiness: Readiness; registry: Registry; log: Logger }): HttpServer {
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: { code: 'bad_request', message: 'method not allowed' } });
    }
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        const report = await deps.readiness.check();
        const ready = report.redis && report.postgres && report.migrated && report.archiving;
        return json(res, ready ? 200 : 503, report);
      }
      case '/metrics': {
        const text = await deps.registry.metrics();
        res.writeHead(200, { 'content-type': deps.registry.contentType });
        res.end(text);
        return;
      }
      default:
        return json(res, 404, { error: { code: 'not_found', message: 'not found' } });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.log.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) json(res, 500, { error: { code: 'internal', message: 'internal error' } });
      else res.destroy();
    });
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
