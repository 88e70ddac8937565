/**
 * The agent, wired: state, policy, consult-hours schedule, poll loop (collect -> detect
 * -> lifecycle -> outbox), transport, heartbeat. This file is the architecture diagram of
 * the agent side. Outside consult hours the poll loop is not running at all: nothing is
 * collected, only the status heartbeat goes out.
 */
import { join } from 'node:path';
import { describe } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { EffectivePolicy } from '../shared/policy.js';
import type { Platform } from '../shared/snapshot.js';
import type { AgentConfig } from './config.js';
import { defaultCollectors, takeSnapshot, type Collectors } from './collect/snapshot.js';
import { compileCatalog, detect, knowsName, type CompiledCatalog } from './detect/index.js';
import { createLifecycle } from './lifecycle.js';
import { createNudger } from './nudge/nudger.js';
import { createOutbox } from './outbox.js';
import { createSchedule } from './schedule.js';
import { createAgentState } from './state.js';
import { createTransport } from './transport.js';
import { agentVersion } from './version.js';

export interface AgentDeps {
  now?: () => Date;
  collectors?: Collectors;
  /** Consult-hours safety-net tick (tests shorten it). */
  scheduleTickMs?: number;
}

export interface RunningAgent {
  agentId: string;
  stop(): Promise<void>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms))),
  ]);
}

export function startAgent(config: AgentConfig, log: Logger, deps: AgentDeps = {}): RunningAgent {
  const now = deps.now ?? (() => new Date());
  const collectors = deps.collectors ?? defaultCollectors(log.child({ module: 'collect' }));
  const state = createAgentState(config.stateDir);
  const outbox = createOutbox({ dir: join(config.stateDir, 'outbox'), ...config.outbox });
  const saved = state.loadOpen();
  const lifecycle = createLifecycle({ endAfterMissedPolls: 2, open: saved.open });
  lifecycle.replay(outbox.pendingAfter(saved.seq).flatMap((q) => (q.event ? [q.event] : [])));
  const health = { pollMs: 0, polls: 0, collectErrors: 0, lastError: null as string | null };

  let policy: EffectivePolicy | null = null;
  let compiled: CompiledCatalog | null = null;
  let pollTimer: NodeJS.Timeout | undefined;
  let polling = false;
  let stopped = false;
  let errorStreak = false;

  function record(events: ReturnType<typeof lifecycle.observe>): void {
    if (events.length === 0) return;
    try {
      outbox.append(events);
    } catch (err) {
      // Disk full or read-only: keep monitoring; the lifecycle state is kept so `ended`
      // events still close what was opened once the disk recovers.
      health.lastError = `outbox write failed: ${describe(err)}`;
      log.error({ err }, 'cannot write events to the outbox; free disk space in the state folder');
      return;
    }
    state.saveOpen(lifecycle.open(), outbox.stats().lastSeq);
    transport.flush();
    nudger.onEvents(events);
    writeLocalStatus(currentStatus());
  }

  async function poll(): Promise<void> {
    if (!compiled || !policy || stopped) return;
    const started = performance.now();
    try {
      const catalog = compiled;
      // Only flows to some app's published ranges are kept: least data, and the owner
      // lookup is skipped entirely when there are none.
      const interesting = (address: string) => catalog.prefixes.lookup(address) !== null;
      const wanted = (name: string) => knowsName(catalog, process.platform as Platform, name);
      const snapshot = await withTimeout(takeSnapshot(collectors, now(), interesting, wanted), config.collectTimeoutMs, 'collecting processes and connections');
      if (!schedule.monitoring() || stopped) return; // hours ended while collecting
      record(lifecycle.observe(detect(snapshot, catalog), now()));
      if (errorStreak) log.info('polling works again');
      errorStreak = false;
    } catch (err) {
      health.collectErrors++;
      health.lastError = describe(err);
      if (!errorStreak) log.warn({ err: describe(err) }, 'poll failed; retrying at the next interval');
      errorStreak = true;
    } finally {
      health.pollMs = Math.round(performance.now() - started);
      health.polls++;
    }
  }

  function loop(): void {
    if (!polling) return;
    void poll().finally(() => {
      if (polling) pollTimer = setTimeout(loop, (policy?.agent.pollSeconds ?? 5) * 1000);
    });
  }

  const schedule = createSchedule({
    now,
    tickMs: deps.scheduleTickMs,
    onChange(monitoring) {
      log.info({ monitoring }, monitoring ? 'consult hours started: monitoring' : 'outside consult hours: not monitoring');
      if (monitoring) {
        polling = true;
        loop();
      } else {
        polling = false;
        clearTimeout(pollTimer);
        record(lifecycle.endAll(now(), 'consult hours ended'));
      }
      sendStatus();
    },
  });

  function applyPolicy(next: EffectivePolicy, source: 'server' | 'cache'): void {
    const parsed = EffectivePolicy.safeParse(next);
    if (!parsed.success) {
      log.error('received a policy that does not validate; keeping the current one');
      return;
    }
    if (policy?.version === parsed.data.version) return;
    policy = parsed.data;
    compiled = compileCatalog(policy.catalog, policy.approved.apps);
    lifecycle.setEndAfter(policy.agent.endAfterMissedPolls);
    if (source === 'server') state.savePolicy(policy);
    log.info({ policy: policy.name, version: policy.version, source, apps: policy.monitor.length }, 'policy in force');
    schedule.setPolicy(policy);
  }

  const transport = createTransport({
    serverUrl: config.serverUrl,
    insecure: config.insecure,
    caFile: config.caFile,
    agentId: state.agentId(),
    token: state.token,
    setToken: state.setToken,
    enrollSecret: config.enrollSecret,
    site: config.site,
    group: config.group,
    agentVersion: agentVersion(),
    outbox,
    log: log.child({ module: 'transport' }),
    onPolicy: (p) => applyPolicy(p, 'server'),
    backoff: config.reconnect,
  });

  // Nudges to the clinician's session helper; outcomes queue behind the events.
  const nudger = createNudger({ stateDir: config.stateDir, outbox, transport, policy: () => policy, log: log.child({ module: 'nudge' }), now });

  /** The heartbeat's figures; the same object feeds the server and the local status file. */
  function currentStatus() {
    const o = outbox.stats();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const healthFigures = {
      pollMs: health.pollMs, polls: health.polls, collectErrors: health.collectErrors, lastError: health.lastError,
      outboxDepth: o.depth, outboxBytes: o.bytes, dropped: o.dropped, torn: o.torn,
      collector: collectors.describe?.() ?? null,
      rssMb: Math.round(mem.rss / 1048576), cpuUserMs: Math.round(cpu.user / 1000), cpuSystemMs: Math.round(cpu.system / 1000),
    };
    return { at: now().toISOString(), monitoring: schedule.monitoring(), policyVersion: policy?.version ?? null, health: healthFigures };
  }

  function sendStatus(): void {
    const status = currentStatus();
    transport.sendStatus(status);
    writeLocalStatus(status);
  }

  /** The same figures for `consultguard-agent status` on this machine. */
  function writeLocalStatus(status: object): void {
    try {
      state.saveStatus({ ...status, pid: process.pid, connected: transport.connected(), serverUrl: config.serverUrl, open: lifecycle.open() });
    } catch (err) {
      health.lastError = `cannot write status file: ${describe(err)}`;
    }
  }

  const cached = state.loadPolicy();
  if (cached) applyPolicy(cached, 'cache');
  schedule.start();
  transport.start();
  const statusTimer = setInterval(sendStatus, config.statusIntervalMs);
  sendStatus();
  log.info({ agentId: state.agentId(), stateDir: config.stateDir, version: agentVersion() }, 'agent started');

  return {
    agentId: state.agentId(),
    async stop() {
      stopped = true;
      polling = false;
      clearTimeout(pollTimer);
      clearInterval(statusTimer);
      schedule.stop();
      nudger.stop();
      // Open violations stay open across a restart (saved in the state folder).
      state.saveOpen(lifecycle.open(), outbox.stats().lastSeq);
      await transport.stop();
      outbox.close();
    },
  };
}
