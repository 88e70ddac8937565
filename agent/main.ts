/**
 * The agent, wired. This file is the architecture diagram of the agent side; each part
 * is built before anything that uses it (no forward references), so read it top down:
 *
 *   state folder -> health -> policy in force -> outbox -> lifecycle (violations)
 *   -> transport (server) -> nudger (users' helpers) -> status (heartbeat, status.json)
 *   -> record (lifecycle events into outbox, transport, nudger, status)
 *   -> poller (collectors -> detector -> record) -> schedule (consult hours start/stop the poller)
 *
 * Outside consult hours the poll loop is not running at all: nothing is collected, only
 * the status heartbeat goes out.
 */
import { hostname as osHostname } from 'node:os';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Event } from '../shared/protocol.js';
import type { AgentConfig } from './config.js';
import { defaultCollectors, type Collectors } from './collect/snapshot.js';
import { createHealth } from './health.js';
import { createLifecycle } from './lifecycle.js';
import { agentNudgeRoot } from './nudge/rendezvous.js';
import { createNudger } from './nudge/nudger.js';
import { startClaimServer } from './nudge/claims.js';
import { createExceptions } from './nudge/exceptions.js';
import { createUserResolver } from './nudge/users.js';
import { transparencySections } from './privacy/describe.js';
import { writeSees } from './privacy/sees-file.js';
import { createOutbox } from './outbox.js';
import { createPolicyInForce } from './policy.js';
import { createPoller } from './poll.js';
import { createReadiness, type Readiness } from './readiness.js';
import { createRedactor } from './privacy/redact.js';
import { createSchedule } from './schedule.js';
import { createAgentState } from './state.js';
import { createStatus } from './status.js';
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

export function startAgent(config: AgentConfig, log: Logger, deps: AgentDeps = {}): RunningAgent {
  const now = deps.now ?? (() => new Date());

  // What the agent keeps between runs; an identity that cannot be trusted stops it here (bad_state).
  const state = createAgentState(config.stateDir);
  const health = createHealth(log);
  if (state.identityRepaired) health.failed('state', 'identity file', new Error(state.identityRepaired), 'repaired from its backup copy');

  const policy = createPolicyInForce({
    log,
    save(p) {
      try {
        state.savePolicy(p);
        health.ok('policy cache');
      } catch (err) {
        health.failed('state', 'policy cache', err, 'the policy is in force but will not survive a restart offline; check the state folder');
      }
    },
  });

  const outbox = createOutbox({ dir: join(config.stateDir, 'outbox'), ...config.outbox });
  const saved = state.loadOpen();
  if (saved.state === 'bad') health.failed('state', 'open violations file', new Error(saved.problem), 'starting from the outbox alone');
  const lifecycle = createLifecycle({ endAfterMissedPolls: 2, open: saved.state === 'ok' ? saved.value.open : [] });
  lifecycle.replay(outbox.pendingAfter(saved.state === 'ok' ? saved.value.seq : 0).flatMap((q) => (q.event ? [q.event] : [])));
  policy.onChange((p) => lifecycle.setEndAfter(p.agent.endAfterMissedPolls));

  // The policy's collection switches, applied to everything queued for the server (and the hello).
  const redact = createRedactor(policy.current);
  const transport = createTransport({
    hostname: () => redact.hostname(osHostname()),
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
    onPolicy: (p) => policy.offer(p, 'server'),
    backoff: config.reconnect,
  });
  policy.onChange(() => transport.refreshHostname());
  // What the nudger queues (its outcomes) leaves redacted too; it keeps real names for finding helpers.
  const redactedOutbox = { appendNudges: (list: Parameters<typeof outbox.appendNudges>[0]) => outbox.appendNudges(list.map(redact.nudge)) };

  // Nudges to the clinician's session helper; outcomes queue behind the events.
  const nudge = agentNudgeRoot(config.nudgeDir);
  // Clinician exceptions: claimed from a nudge or with `consultguard-agent exception`; each is an outcome in the outbox.
  const exceptions = createExceptions({
    now,
    policy: policy.current,
    open: lifecycle.open,
    report(o) {
      try {
        redactedOutbox.appendNudges([o]);
        transport.flush();
      } catch (err) {
        health.failed('state', 'outbox', err, 'free disk space in the state folder');
      }
    },
  });
  const nudger = createNudger({
    root: nudge.root, outbox: redactedOutbox, transport, policy: policy.current, log: log.child({ module: 'nudge' }), now, exceptions,
    // A nudge never only points at something broken: it says so, and whom to tell.
    notice: () => (readiness && !readiness.ready ? `Note: ${readiness.problem ?? 'the approved app is not reachable'}. Please tell IT.` : null),
    extras: (p) => ({ ...(p.exceptions.reasons.length ? { exceptions: p.exceptions } : {}), sees: transparencySections(p) }),
  });
  // Published for clinicians' `transparency` and `exception --list` (the state folder is the service's).
  policy.onChange((p) => {
    try {
      mkdirSync(nudge.root, { recursive: true, mode: 0o711 });
      writeSees(nudge.root, transparencySections(p));
    } catch (err) {
      health.failed('state', 'transparency file', err, 'clinicians\' "consultguard-agent transparency" shows an older text; check the nudge folder');
    }
  });
  let readiness: Readiness | null = null;
  const claims = startClaimServer({
    root: nudge.root,
    resolveUser: createUserResolver(),
    log: log.child({ module: 'claims' }),
    claim(c) {
      const x = exceptions.claim(c);
      return { until: x.until, reason: x.reason, app: x.app, minutesGranted: Math.round((x.until - now().getTime()) / 60_000) };
    },
  });
  claims.then(() => health.ok('exception claims'), (err: unknown) => health.failed('state', 'exception claims', err, '"consultguard-agent exception" cannot reach this agent; nudge actions still work'));

  // Collectors. macOS asks the nudge helper in the user's session about capture devices
  // (same rendezvous as nudges); a device source that fails (no helper, sound server down)
  // costs only that evidence, so it is warned about once per source.
  const warnedSources = new Set<string>();
  const collectors = deps.collectors ?? defaultCollectors({
    nudgeRoot: nudge.root, prepareHelperDir: true, log: log.child({ module: 'collect' }),
    onError: (what, err) => {
      if (warnedSources.has(what)) return log.debug({ err: describe(err) }, what);
      warnedSources.add(what);
      log.warn({ err: describe(err) }, `${what} failed; capture-device evidence from it is missing until it works`);
    },
  });

  const status = createStatus({ now, serverUrl: config.serverUrl, nudge, health, outbox, policy, open: lifecycle.open, transport, state, capabilities: collectors.capabilities, collector: collectors.describe, readiness: () => readiness });
  // `consultguard-agent status` names the server in use as soon as it changes (failover).
  transport.onLinkChange(() => status.writeLocal());
  const checker = createReadiness({
    now,
    policy: policy.current,
    onResult(r, changed) {
      readiness = r;
      if (!changed) return;
      if (r) {
        if (r.ready) log.info({ checkedAt: r.checkedAt }, 'approved app ready');
        else log.warn({ problem: r.problem }, 'approved app not ready: nudges say so; the lead sees it in the fleet');
      }
      status.send();
    },
  });
  policy.onChange(() => void checker.check());

  function saveOpen(): void {
    try {
      state.saveOpen(lifecycle.open(), outbox.stats().lastSeq);
      health.ok('open violations file');
    } catch (err) {
      health.failed('state', 'open violations file', err, 'a restart may reopen what is open now; check the state folder');
    }
  }

  /** Lifecycle events -> outbox (durable) -> server, helpers and the local status. */
  function record(events: Event[]): void {
    if (events.length === 0) return;
    try {
      outbox.append(events.map(redact.event));
      health.ok('outbox');
    } catch (err) {
      // Disk full or read-only: keep monitoring; the lifecycle state is kept so `ended`
      // events still close what was opened once the disk recovers.
      health.failed('state', 'outbox', err, 'free disk space in the state folder');
      return;
    }
    saveOpen();
    transport.flush();
    exceptions.onEvents(events);
    nudger.onEvents(events);
    status.writeLocal();
  }

  const poller = createPoller({
    collectors,
    policy,
    now,
    collectTimeoutMs: config.collectTimeoutMs,
    health,
    log,
    onDetections: (detections) => record(lifecycle.observe(detections, now())),
  });

  const schedule = createSchedule({
    now,
    tickMs: deps.scheduleTickMs,
    onChange(monitoring) {
      log.info({ monitoring }, monitoring ? 'consult hours started: monitoring' : 'outside consult hours: not monitoring');
      status.setMonitoring(monitoring);
      if (monitoring) {
        poller.start();
        void checker.check();
      } else {
        poller.stop();
        record(lifecycle.endAll(now(), 'consult hours ended'));
      }
      status.send();
    },
  });
  policy.onChange((p) => schedule.setPolicy(p));

  const cached = state.loadPolicy();
  if (cached.state === 'bad') health.failed('state', 'policy cache', new Error(cached.problem), 'waiting for the policy from the server');
  if (cached.state === 'ok') policy.offer(cached.value, 'cache');
  schedule.start();
  transport.start();
  const statusTimer = setInterval(status.send, config.statusIntervalMs);
  status.send();
  log.info({ agentId: state.agentId(), stateDir: config.stateDir, nudgeDir: nudge.root, version: agentVersion() }, 'agent started');

  return {
    agentId: state.agentId(),
    async stop() {
      poller.stop();
      checker.stop();
      clearInterval(statusTimer);
      schedule.stop();
      nudger.stop();
      await claims.then((server) => new Promise<void>((resolve) => server.close(() => resolve())), () => undefined);
      // Open violations stay open across a restart (saved in the state folder).
      saveOpen();
      await transport.stop();
      outbox.close();
    },
  };
}
