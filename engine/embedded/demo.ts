// The demo tenant of `npm start`: an account "Demo", a web-widget inbox "Demo website" and an
// administrator "Demo Agent", created through the admin API once and kept in .data/demo.json
// (0600); later starts check they still exist (a PATCH that changes nothing: 404 → created again)
// and reuse them. Returns the URL of /demo with the tokens in the fragment (never sent anywhere).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

export type Demo = { accountId: string; inboxId: string; websiteToken: string; agentId: string; agentToken: string };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const INBOX = 'Demo website';
const AGENT = 'Demo Agent';

async function call(http: string, token: string, method: string, path: string, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${http}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Json };
}

async function ok(http: string, token: string, path: string, body: unknown): Promise<Json> {
  const r = await call(http, token, 'POST', path, body);
  if (r.status !== 200) throw new Error(`demo: POST ${path} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** true when the saved demo's inbox and agent still exist on this engine */
async function stillThere(http: string, token: string, d: Demo): Promise<boolean> {
  const inbox = await call(http, token, 'PATCH', `/api/v1/accounts/${d.accountId}/inboxes/${d.inboxId}`, { name: INBOX });
  if (inbox.status === 404) return false;
  if (inbox.status !== 200) throw new Error(`demo: checking the inbox answered ${inbox.status} ${JSON.stringify(inbox.body)}`);
  const agent = await call(http, token, 'PATCH', `/api/v1/accounts/${d.accountId}/agents/${d.agentId}`, { name: AGENT });
  if (agent.status === 404) return false;
  if (agent.status !== 200) throw new Error(`demo: checking the agent answered ${agent.status} ${JSON.stringify(agent.body)}`);
  return true;
}

export async function waitReady(http: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${http}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`demo: the engine at ${http} did not become ready`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The demo tenant, created if missing; `created` says whether this call made it. */
export async function ensureDemo(http: string, adminToken: string, file: string): Promise<{ demo: Demo; created: boolean; url: string }> {
  await waitReady(http);
  let demo: Demo | null = null;
  if (existsSync(file)) {
    try {
      demo = JSON.parse(await readFile(file, 'utf8')) as Demo;
    } catch {
      demo = null; // unreadable: make a new one
    }
  }
  const reuse = demo !== null && (await stillThere(http, adminToken, demo));
  if (!reuse || demo === null) {
    const { account } = await ok(http, adminToken, '/api/v1/accounts', { name: 'Demo' });
    const { inbox } = await ok(http, adminToken, `/api/v1/accounts/${account.id}/inboxes`, { name: INBOX, autoAssign: true });
    const { agent, token } = await ok(http, adminToken, `/api/v1/accounts/${account.id}/agents`, { name: AGENT, role: 'administrator', inboxIds: [inbox.id] });
    demo = { accountId: account.id, inboxId: inbox.id, websiteToken: inbox.websiteToken, agentId: agent.id, agentToken: token };
    await writeFile(file, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  }
  const url = `${http}/demo#website_token=${encodeURIComponent(demo.websiteToken)}&agent_token=${encodeURIComponent(demo.agentToken)}`;
  return { demo, created: !reuse, url };
}
