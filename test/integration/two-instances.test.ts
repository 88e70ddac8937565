/**
 * Issue 15, "Done when": two server instances (real child processes of the built server) on
 * one store, 200 simulated agents (the agent's real outbox and transport, each with both
 * URLs) split between them and streaming events; one instance killed with SIGKILL mid-stream.
 * Its agents move to the other with their tokens, every event is stored exactly once, and a
 * dashboard's live feed on the survivor shows the violations the dead one took in before it
 * died. Beside it, what must hold across instances: a revocation made through one closes the
 * agent's socket on the other, an alert rule added on one is in force on the other, and the
 * periodic work (alert delivery, scheduled reports) is done once, not once per instance.
 * And presence: an agent connected to one instance is online on the other (and not flagged
 * silent), goes offline there when its instance is killed -9, and an agent linked to both at
 * once stays online while either link lasts.
 *
 * Runs on SQLite (both instances on one file) and on PostgreSQL (a throwaway cluster) once
 * the server accepts `--database postgres://`; until then that half skips, naming why.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Event } from '../../shared/protocol.js';
import { engineSkipReason, startInstanceCluster, type EngineName, type InstanceCluster } from '../support/instances.js';
import { openLiveStream, type LiveStream } from '../support/live-stream.js';
import { simAgent, simEvent, type SimAgent } from '../support/sim-agent.js';
import { startReceiver, startSmtp, type HttpReceiver, type SmtpReceiver } from './alerts-receivers.js';

const WAIT = { timeout: 60_000, interval: 200 };
const BACKOFF = { minMs: 100, maxMs: 1000 };
const FAST = { alerts: { tickMs: 50, retryBaseMs: 100, retryCapMs: 400, maxAttempts: 1000, concurrency: 4, timeoutMs: 2000, silentCheckMs: 100 }, reportCheckMs: 50 };

let cluster: InstanceCluster | null = null;
let agents: SimAgent[] = [];
const closers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(agents.map((a) => a.transport.stop(50)));
  agents = [];
  for (const c of closers.splice(0).reverse()) await c.close();
  await cluster?.close();
  cluster = null;
});

async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Queues `perTick` events per agent every `tickMs` for `ms`; `midway` runs once, `atMs` in, while the stream waits. */
async function stream(list: SimAgent[], ms: number, atMs: number, midway: () => Promise<void>, perTick = 1, tickMs = 200): Promise<void> {
  const start = Date.now();
  let done = false;
  while (Date.now() - start < ms) {
    for (const a of list) {
      const batch: Event[] = Array.from({ length: perTick }, simEvent);
      a.outbox.append(batch);
      a.sent.push(...batch.map((e) => e.id));
      a.transport.flush();
    }
    if (!done && Date.now() - start >= atMs) {
      done = true;
      await midway();
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
}

const ENGINES: EngineName[] = ['sqlite', 'postgres'];

describe.each(ENGINES)('two instances on one %s store', (engine) => {
  const skip = engineSkipReason(engine);
  if (skip) console.warn(skip);

  it.skipIf(skip !== null)('one killed -9 mid-stream: its agents move to the other with their tokens, every event stored once, the survivor\'s live feed shows what the dead one took in', async () => {
    cluster = await startInstanceCluster(engine, FAST);
    const a = await cluster.start();
    const b = await cluster.start();
    const lead = await cluster.token('lead');
    const feed: LiveStream = await openLiveStream(b.url, lead);
    closers.push(feed);

    // 200 agents, half preferring A, half B; each knows both (`--server A,B` / `B,A`).
    agents = Array.from({ length: 200 }, (_, i) => simAgent(i % 2 === 0 ? `${a.wsUrl},${b.wsUrl}` : `${b.wsUrl},${a.wsUrl}`, { backoff: BACKOFF }));
    const onA = agents.filter((_, i) => i % 2 === 0);
    await vi.waitFor(() => expect(agents.every((x, i) => x.transport.server() === `${i % 2 === 0 ? a.wsUrl : b.wsUrl}/agent`)).toBe(true), WAIT);

    // ~1,000 events/s offered for 5 s; at 2 s, A dies without a word to anyone.
    let diedWith: Set<string> = new Set();
    await stream(agents, 5000, 2000, async () => {
      // Mid-stream, once every agent on A has had a batch stored through A (and more are in flight).
      await vi.waitFor(() => expect(onA.every((x) => x.outbox.stats().acked > 0)).toBe(true), WAIT);
      await a.kill();
      // What A committed before it died: the violations of its agents now in the store.
      const rows = await cluster!.rows<{ agent_id: string; id: string }>(`SELECT agent_id, id FROM violations WHERE agent_id IN (${onA.map((x) => `'${x.agentId}'`).join(',')})`);
      diedWith = new Set(rows.map((r) => `${r.agent_id}/${r.id}`));
    });
    expect(new Set([...diedWith].map((k) => k.split('/')[0])).size).toBe(onA.length); // each A agent had stored through A

    await vi.waitFor(() => {
      for (const x of agents) expect(x.outbox.stats().depth).toBe(0);
    }, WAIT);

    // Exactly once: per agent, as many stored events as it queued, no id twice, none missing.
    const counts = await cluster.rows<{ agent_id: string; n: number | string; d: number | string }>('SELECT agent_id, count(*) AS n, count(DISTINCT id) AS d FROM events GROUP BY agent_id');
    const byAgent = new Map(counts.map((r) => [r.agent_id, { n: Number(r.n), d: Number(r.d) }]));
    for (const x of agents) {
      expect(byAgent.get(x.agentId)).toEqual({ n: x.sent.length, d: x.sent.length });
      expect(x.transport.server()).toBe(`${b.wsUrl}/agent`);
      // Enrolled once, then the same token on both instances: never dropped, never replaced.
      expect(x.tokens.includes(null)).toBe(false);
      expect(new Set(x.tokens).size).toBe(1);
    }
    const total = agents.reduce((n, x) => n + x.sent.length, 0);
    console.log(`two instances: ${total} events from ${agents.length} agents, ${diedWith.size} violations stored through A before it died`);
    expect(total).toBeGreaterThan(1000); // at least 5 ticks of 200 agents, however loaded the machine is
    const stored = await cluster.rows<{ n: number | string }>('SELECT count(*) AS n FROM events');
    expect(Number(stored[0]!.n)).toBe(total);

    // The dashboard on B saw every violation A stored before it died (and everything since).
    await vi.waitFor(() => {
      const seen = feed.keys();
      const missing = [...diedWith].filter((k) => !seen.has(k));
      expect(missing).toEqual([]);
    }, { timeout: 10_000, interval: 200 });
    // One event per violation here: every one reaches the feed (the last batches B stored may
    // still be on their way to the dashboard when the counts above are read).
    await vi.waitFor(() => expect(feed.keys().size).toBe(total), { timeout: 10_000, interval: 200 });
  }, 180_000);

  it.skipIf(skip !== null)('a revocation through A closes the agent\'s socket on B; an alert rule added on A fires on B; alerts and a report period go out once', async () => {
    const receiver: HttpReceiver = await startReceiver();
    const smtp: SmtpReceiver = await startSmtp();
    closers.push(receiver, smtp);
    cluster = await startInstanceCluster(engine, { ...FAST, smtpUrl: smtp.url });
    const a = await cluster.start();
    const b = await cluster.start();
    const admin = await cluster.token('admin');

    expect((await api(a.url, admin, 'POST', '/api/alerts', { on: 'in-call', webhook: [{ url: receiver.url }] })).status).toBe(201);
    const x = simAgent(b.wsUrl, { backoff: BACKOFF }); // on B only
    agents.push(x);
    await vi.waitFor(() => expect(x.transport.connected()).toBe(true), WAIT);

    const calls = Array.from({ length: 3 }, () => ({ ...simEvent(), state: 'in-call' as const }));
    x.outbox.append(calls);
    x.transport.flush();
    await vi.waitFor(() => expect(new Set(receiver.calls.map((c) => c.json.violationId))).toEqual(new Set(calls.map((e) => e.violationId))), WAIT);

    expect((await api(a.url, admin, 'POST', '/api/reports', { every: 'weekly', site: 'north', email: ['lead@clinic.example'] })).status).toBe(201);
    await vi.waitFor(() => expect(smtp.mails.length).toBe(1), WAIT);

    // Revoked through A; B's socket to the agent closes within a few seconds.
    const revokedAt = Date.now();
    expect((await api(a.url, admin, 'POST', `/api/agents/${x.agentId}/revoke`)).status).toBe(200);
    await vi.waitFor(() => expect(x.transport.connected()).toBe(false), { timeout: 5000, interval: 50 });
    const closedMs = Date.now() - revokedAt;
    expect(closedMs).toBeLessThan(5000);
    await vi.waitFor(() => expect(x.tokens.at(-1)).toBeNull(), WAIT); // refused everywhere: told to forget it
    const listed = await api(b.url, admin, 'GET', '/api/agents');
    expect(listed.body.items.find((i: { agentId: string }) => i.agentId === x.agentId)).toMatchObject({ online: false, revoked: true });

    // Both instances' loops have ticked many times since; still one call per violation, one mail.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.calls.filter((c) => c.json.violationId !== undefined)).toHaveLength(3);
    expect(smtp.mails).toHaveLength(1);
  }, 120_000);

  it.skipIf(skip !== null)('presence: an agent on B is online on A\'s /api/agents and raises no silent alert; after B is killed -9 its agents are offline on A until they reconnect', async () => {
    const receiver: HttpReceiver = await startReceiver();
    closers.push(receiver);
    cluster = await startInstanceCluster(engine, { ...FAST, instanceBeatMs: 200 });
    const a = await cluster.start();
    const b = await cluster.start();
    const admin = await cluster.token('admin');
    const view = async (base: string, agentId: string) => (await api(base, admin, 'GET', '/api/agents')).body.items.find((i: { agentId: string }) => i.agentId === agentId);
    // The demo policy's consult hours are all day: an agent shown offline would also be shown silent.
    expect((await api(a.url, admin, 'POST', '/api/alerts', { on: 'silent-agent', webhook: [{ url: receiver.url }] })).status).toBe(201);
    const x = simAgent(b.wsUrl, { backoff: BACKOFF }); // knows only B
    const y = simAgent(a.wsUrl, { backoff: BACKOFF });
    agents.push(x, y);
    await vi.waitFor(() => expect(x.transport.connected() && y.transport.connected()).toBe(true), WAIT);

    await vi.waitFor(async () => expect(await view(a.url, x.agentId)).toMatchObject({ online: true, silent: false }), WAIT);
    await vi.waitFor(async () => expect(await view(b.url, y.agentId)).toMatchObject({ online: true, silent: false }), WAIT);
    // Dozens of silent checks (every 100 ms, on whichever instance holds the job): none alerts.
    await new Promise((r) => setTimeout(r, 2000));
    expect(receiver.calls).toHaveLength(0);
    expect(await view(a.url, x.agentId)).toMatchObject({ online: true, silent: false });

    // B dies without a word: once its heartbeat is stale, A shows its agent offline.
    await b.kill();
    const killedAt = Date.now();
    await vi.waitFor(async () => expect(await view(a.url, x.agentId)).toMatchObject({ online: false }), WAIT);
    console.log(`presence (${engine}): B's agent offline on A ${Date.now() - killedAt} ms after kill -9 (heartbeat 200 ms, stale after 600 ms)`);
    expect(await view(a.url, y.agentId)).toMatchObject({ online: true });
    // And the silent check sees it as A does: silent for ten minutes now, it alerts, once.
    await cluster.exec(`UPDATE agents SET last_seen = ${Date.now() - 600_000} WHERE agent_id = '${x.agentId}'`);
    await vi.waitFor(() => expect(receiver.calls.map((c) => c.json.agentId)).toEqual([x.agentId]), WAIT);

    // It reconnects, to A, with its token: online again.
    const token = x.tokens.at(-1)!;
    await x.transport.stop(50);
    const back = simAgent(a.wsUrl, { agentId: x.agentId, token, backoff: BACKOFF });
    agents.push(back);
    await vi.waitFor(async () => expect(await view(a.url, x.agentId)).toMatchObject({ online: true }), WAIT);
    expect(back.tokens.includes(null)).toBe(false);
    expect(receiver.calls).toHaveLength(1);
  }, 120_000);

  it.skipIf(skip !== null)('presence: an agent linked to both instances for a moment (a failover with the old link half-open) stays online when either link closes', async () => {
    cluster = await startInstanceCluster(engine, { ...FAST, instanceBeatMs: 200 });
    const a = await cluster.start();
    const b = await cluster.start();
    const admin = await cluster.token('admin');
    const online = async (base: string, agentId: string) => (await api(base, admin, 'GET', '/api/agents')).body.items.find((i: { agentId: string }) => i.agentId === agentId)?.online;
    const old = simAgent(b.wsUrl, { backoff: BACKOFF });
    agents.push(old);
    await vi.waitFor(() => expect(old.transport.connected()).toBe(true), WAIT);
    const fresh = simAgent(a.wsUrl, { agentId: old.agentId, token: old.tokens.at(-1)!, backoff: BACKOFF });
    agents.push(fresh);
    await vi.waitFor(() => expect(fresh.transport.connected()).toBe(true), WAIT);
    await vi.waitFor(async () => expect([await online(a.url, old.agentId), await online(b.url, old.agentId)]).toEqual([true, true]), WAIT);

    // The old link closes on B: B releases its row, A's stays; many heartbeats later both still say online.
    await old.transport.stop(50);
    await new Promise((r) => setTimeout(r, 2000));
    expect([await online(a.url, old.agentId), await online(b.url, old.agentId)]).toEqual([true, true]);
    // The new one closes too: offline everywhere.
    await fresh.transport.stop(50);
    await vi.waitFor(async () => expect([await online(a.url, old.agentId), await online(b.url, old.agentId)]).toEqual([false, false]), WAIT);
  }, 120_000);
});
