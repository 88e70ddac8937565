/**
 * What the agent says about itself: one status object feeds the heartbeat to the server
 * (`status`, CONTRACTS section 3) and the local status.json that `consultguard-agent
 * status` reads (schema in shared/agent-state.ts).
 */
import type { NudgePaths, StatusFile } from '../shared/agent-state.js';
import { capabilitiesToHealth, type Capabilities } from '../shared/protocol.js';
import type { Health } from './health.js';
import type { OpenViolation } from './lifecycle.js';
import type { Outbox } from './outbox.js';
import type { PolicyInForce } from './policy.js';
import type { AgentState } from './state.js';
import type { Transport } from './transport.js';
import type { Readiness } from './readiness.js';

export interface StatusOptions {
  now: () => Date;
  serverUrl: string;
  nudge: NudgePaths;
  health: Health;
  outbox: Pick<Outbox, 'stats'>;
  policy: Pick<PolicyInForce, 'current'>;
  open: () => OpenViolation[];
  transport: Pick<Transport, 'sendStatus' | 'connected' | 'server' | 'servers'>;
  state: Pick<AgentState, 'saveStatus'>;
  /** What this machine's collectors can see (sent as sees.processPaths, ... sees.captureDevices). */
  capabilities?: (() => Capabilities) | undefined;
  /** The collector in use, in plain words (e.g. "native (consultguard-collector.exe)"). */
  collector?: (() => string) | undefined;
  /** Approved-app readiness (readiness.ts), flattened into the heartbeat's figures. */
  readiness?: () => Readiness | null;
}

function readinessFigures(r: Readiness | null): Record<string, string | boolean | null> {
  return r ? { approvedAppReady: r.ready, approvedAppCheckedAt: r.checkedAt, approvedAppProblem: r.problem } : {};
}

export function createStatus(opts: StatusOptions) {
  let monitoring = false;

  /** The heartbeat's figures. */
  function current() {
    const o = opts.outbox.stats();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const health = {
      ...opts.health.figures(),
      outboxDepth: o.depth, outboxBytes: o.bytes, dropped: o.dropped, torn: o.torn,
      rssMb: Math.round(mem.rss / 1048576), cpuUserMs: Math.round(cpu.user / 1000), cpuSystemMs: Math.round(cpu.system / 1000),
      collector: opts.collector?.() ?? null,
      ...(opts.capabilities ? capabilitiesToHealth(opts.capabilities()) : {}),
      // Flat keys: the v1 status frame's health holds scalars only (an older server refuses objects).
      ...readinessFigures(opts.readiness?.() ?? null),
    };
    return { at: opts.now().toISOString(), monitoring, policyVersion: opts.policy.current()?.version ?? null, health };
  }

  /** The same figures for `consultguard-agent status` on this machine. */
  function writeLocal(status = current()): void {
    const file: StatusFile = { ...status, pid: process.pid, connected: opts.transport.connected(), serverUrl: opts.serverUrl, servers: opts.transport.servers(), serverInUse: opts.transport.server(), open: opts.open(), nudge: opts.nudge };
    try {
      opts.state.saveStatus(file);
      opts.health.ok('status file');
    } catch (err) {
      opts.health.failed('state', 'status file', err, 'check space and permissions of the state folder');
    }
  }

  return {
    setMonitoring(m: boolean): void {
      monitoring = m;
    },
    writeLocal,
    send(): void {
      const status = current();
      opts.transport.sendStatus(status);
      writeLocal(status);
    },
  };
}
