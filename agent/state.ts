/**
 * What the agent keeps between runs, in its state folder (owner-only permissions):
 * its id and token, the last policy (so it monitors correctly from boot while offline),
 * and the violations open right now (so a restart does not open duplicates).
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EffectivePolicy } from '../shared/policy.js';
import type { OpenViolation } from './lifecycle.js';

const Identity = z.object({ agentId: z.string().uuid(), token: z.string().nullable().default(null) });
type Identity = z.infer<typeof Identity>;

/** Writes a file so that a crash leaves either the old or the new content, never half. */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export function createAgentState(dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dir, 0o700);
  } catch {
    // not the owner (e.g. a shared test folder): keep going, files are still 0600
  }
  const identityFile = join(dir, 'identity.json');
  const policyFile = join(dir, 'policy.json');
  const openFile = join(dir, 'open-violations.json');
  const statusFile = join(dir, 'status.json');

  const parsed = Identity.safeParse(readJson(identityFile));
  let identity: Identity = parsed.success ? parsed.data : { agentId: randomUUID(), token: null };
  if (!parsed.success) writeFileAtomic(identityFile, JSON.stringify(identity));

  return {
    dir,
    agentId: (): string => identity.agentId,
    token: (): string | null => identity.token,
    setToken(token: string | null): void {
      if (token === identity.token) return;
      identity = { ...identity, token };
      writeFileAtomic(identityFile, JSON.stringify(identity));
    },
    loadPolicy(): EffectivePolicy | null {
      const r = EffectivePolicy.safeParse(readJson(policyFile));
      return r.success ? r.data : null;
    },
    savePolicy(policy: EffectivePolicy): void {
      writeFileAtomic(policyFile, JSON.stringify(policy));
    },
    /** The open violations and the last outbox seq they already reflect. */
    loadOpen(): { seq: number; open: OpenViolation[] } {
      const v = readJson(openFile) as { seq?: unknown; open?: unknown } | undefined;
      return { seq: typeof v?.seq === 'number' ? v.seq : 0, open: Array.isArray(v?.open) ? (v.open as OpenViolation[]) : [] };
    },
    saveOpen(open: OpenViolation[], seq: number): void {
      writeFileAtomic(openFile, JSON.stringify({ seq, open }));
    },
    hasIdentity: (): boolean => existsSync(identityFile),
    saveStatus(status: object): void {
      writeFileAtomic(statusFile, JSON.stringify(status), 0o644);
    },
  };
}

export type AgentState = ReturnType<typeof createAgentState>;
