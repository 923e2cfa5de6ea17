// Free TCP ports on 127.0.0.1. `redis-server --port 0` disables TCP instead of
// picking a port, so every server is given a real port chosen here.
import { createServer } from 'node:net';

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(chosen));
    });
  });
}

/** A port the OS reports free right now (listen on :0, read it, close). */
export function freePort(): Promise<number> {
  return listenOn(0);
}

export async function isPortFree(port: number): Promise<boolean> {
  try {
    await listenOn(port);
    return true;
  } catch {
    return false;
  }
}

/** `preferred` when nothing listens on it, else a free port; says which. */
export async function preferredOrFreePort(
  preferred: number,
): Promise<{ port: number; preferredWasBusy: boolean }> {
  if (await isPortFree(preferred)) return { port: preferred, preferredWasBusy: false };
  return { port: await freePort(), preferredWasBusy: true };
}
