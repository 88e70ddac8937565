/**
 * `status`: what the agent on this machine is doing and what it watches, in plain words,
 * for the clinician and for IT. Reads the agent's state folder; needs no server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Identity, StatusFile } from '../../shared/agent-state.js';
import { isWithinConsultHours } from '../../shared/hours.js';
import { zoneLocalTime } from '../../shared/zone-clock.js';
import { EffectivePolicy } from '../../shared/policy.js';
import { readState, type Read } from '../state.js';
import { capabilitiesFromHealth, type Capabilities } from '../../shared/protocol.js';
import { collectionLines, transparencySections } from '../privacy/describe.js';

/** A state file's value, or null with the reason kept for the report (a status command must not throw on a bad file). */
function load<T>(file: string, read: Read<T>, problems: string[]): T | null {
  if (read.state === 'ok') return read.value;
  if (read.state === 'bad') problems.push(`${file}: ${read.problem}`);
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user (the service)
  }
}

const DAY_NAMES: Record<string, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

export function runStatus(stateDir: string, json: boolean, now: Date, out: NodeJS.WritableStream): number {
  const problems: string[] = [];
  const file = (name: string) => join(stateDir, name);
  const identity = load(file('identity.json'), readState(file('identity.json'), Identity), problems);
  const policy = load(file('policy.json'), readState(file('policy.json'), EffectivePolicy), problems);
  const status = load(file('status.json'), readState(file('status.json'), StatusFile), problems);
  const running = status !== null && alive(status.pid);
  const inside = policy ? isWithinConsultHours(policy, now, zoneLocalTime) : false;
  const names = new Map(policy?.catalog.apps.map((a) => [a.id, a.name]) ?? []);

  const summary = {
    stateDir,
    installed: existsSync(stateDir),
    agentId: identity?.agentId ?? null,
    enrolled: Boolean(identity?.token),
    running,
    pid: running ? status!.pid : null,
    lastUpdate: status?.at ?? null,
    connected: running ? status!.connected : false,
    server: status?.serverUrl ?? null,
    /** The endpoint in use while connected (null otherwise), and every endpoint the agent may use. */
    serverInUse: running ? (status!.serverInUse ?? null) : null,
    servers: status?.servers ?? (status ? [status.serverUrl] : []),
    policy: policy && { name: policy.name, version: policy.version, timezone: policy.timezone, consultHours: policy.consultHours, closures: policy.closures, mode: policy.mode },
    insideConsultHours: inside,
    monitoring: running && inside,
    watching: policy?.monitor.map((id) => names.get(id) ?? id) ?? [],
    approved: policy?.approved ?? null,
    open: running ? status!.open : [],
    queuedEvents: status?.health.outboxDepth ?? null,
    dropped: status?.health.dropped ?? null,
    lastError: status?.health.lastError ?? null,
    nudgeDir: status?.nudge?.root ?? null,
    collection: collectionLines(policy ?? {}),
    problems,
    /** Which evidence this machine's collectors see (null: the agent has not reported it yet). */
    canSee: capabilitiesFromHealth(status?.health),
    collector: running ? (status!.health.collector ?? null) : null,
  };
  if (json) {
    out.write(`${JSON.stringify(summary, null, 2)}\n`);
    return running ? 0 : 3;
  }
  const lines = ['ConsultGuard agent'];
  if (!summary.installed || !identity) {
    lines.push(`  Not set up on this machine (no state in ${stateDir}).`);
    out.write(`${lines.join('\n')}\n`);
    return 3;
  }
  lines.push(`  Agent id:        ${identity.agentId}${summary.enrolled ? '' : ' (not enrolled yet)'}`);
  lines.push(`  Running:         ${running ? `yes (pid ${summary.pid}, status from ${summary.lastUpdate})` : 'no'}`);
  if (summary.servers.length > 1) {
    lines.push(`  Server:          ${running ? (summary.serverInUse ? `${summary.serverInUse} (connected)` : 'none connected; events are kept on disk') : 'unknown (not running)'}`);
    lines.push(`  Servers:         ${summary.servers.join(', ')} (tried in turn)`);
  } else {
    lines.push(`  Server:          ${summary.server ?? 'unknown'}${running ? (summary.connected ? ' (connected)' : ' (not connected; events are kept on disk)') : ''}`);
  }
  if (policy) {
    const hours = policy.consultHours.map((w) => `${w.days.map((d) => DAY_NAMES[d]).join(',')} ${w.from}-${w.to}`).join('; ');
    lines.push(`  Policy:          ${policy.name} (version ${policy.version}), mode ${policy.mode}`);
    lines.push(`  Consult hours:   ${hours} (${policy.timezone})${policy.closures.length ? `; closed ${policy.closures.join(', ')}` : ''}`);
    lines.push(`  Right now:       ${inside ? (running ? 'inside consult hours: watching' : 'inside consult hours, but the agent is not running') : 'outside consult hours: nothing is collected'}`);
    lines.push(`  Watching for:    ${summary.watching.join(', ')}`);
    lines.push(`  Approved app:    ${policy.approved.name} (${policy.approved.url})`);
  } else {
    lines.push('  Policy:          none yet (the agent gets it from the server when it first connects)');
  }
  if (summary.open.length) lines.push(`  Seen now:        ${summary.open.map((v) => `${names.get(v.app) ?? v.app} (${v.state}, since ${v.startedAt})`).join('; ')}`);
  if (summary.queuedEvents) lines.push(`  Queued events:   ${summary.queuedEvents}${summary.dropped ? ` (${summary.dropped} dropped: outbox full)` : ''}`);
  if (summary.collector) lines.push(`  Collector:       ${summary.collector}`);
  if (summary.lastError) lines.push(`  Last error:      ${summary.lastError}`);
  if (summary.nudgeDir) lines.push(`  Nudge folder:    ${summary.nudgeDir} (helpers must watch it: nudge-helper --dir, or CONSULTGUARD_NUDGE_DIR)`);
  for (const p of problems) lines.push(`  Unreadable:      ${p}`);
  if (summary.canSee) lines.push(`  Can see:         ${describeCapabilities(summary.canSee)}`);
  lines.push('  What is collected:');
  for (const l of collectionLines(policy ?? {})) lines.push(`    ${l}`);
  if (policy) {
    const t = transparencySections(policy);
    for (const heading of ['Who sees it', 'How long it is kept', 'Whom to ask']) {
      const s = t.find((x) => x.heading === heading);
      if (s) lines.push(`  ${heading}: ${s.lines.join(' ')}`);
    }
    lines.push('  More: consultguard-agent transparency');
  }
  out.write(`${lines.join('\n')}\n`);
  return running ? 0 : 3;
}

const EVIDENCE: Array<[keyof Capabilities, string]> = [
  ['processPaths', 'program paths'], ['processUsers', 'program users'], ['tcpPeers', 'TCP destinations'],
  ['udpPeers', 'UDP (call media) destinations'], ['captureDevices', 'camera and microphone use'],
];

/** "program paths, ..., TCP destinations; partly: UDP (call media) destinations; not: camera and microphone use". */
export function describeCapabilities(c: Capabilities): string {
  const by = (level: string) => EVIDENCE.filter(([k]) => c[k] === level).map(([, label]) => label);
  const parts = [by('yes').join(', ')];
  if (by('partial').length) parts.push(`partly: ${by('partial').join(', ')}`);
  if (by('no').length) parts.push(`not: ${by('no').join(', ')}`);
  return parts.filter(Boolean).join('; ');
}
