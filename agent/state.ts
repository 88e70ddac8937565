/**
 * What the agent keeps between runs, in its state folder (owner-only permissions):
 * its id and token, the last policy (so it monitors correctly from boot while offline),
 * the violations open right now (so a restart does not open duplicates) and the clinician
 * exception windows still open (so a restart does not end one early). Every file
 * is parsed with its schema from shared/agent-state.ts; nothing read from disk is cast.
 *
 * The identity is the one file that must never be silently replaced: a new agent id for
 * a machine that already has one is a second identity on the server (and, since the
 * server refuses the enrolment secret for an id it knows, one that cannot be undone
 * without an admin). So identity.json has a backup copy, identity.json.bak, written
 * atomically after every change; a missing or corrupt identity.json is restored from it,
 * and when neither is usable the agent refuses to start (AppError `bad_state`) instead of
 * minting a new id. A new id is made only when neither file exists (first start).
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { ExceptionsFile, Identity, OpenViolations, type ExceptionWindow, type OpenViolation, type StatusFile } from '../shared/agent-state.js';
import { AppError, describe } from '../shared/errors.js';
import { EffectivePolicy } from '../shared/policy.js';

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

/** A state file read and parsed: missing, usable, or there but unusable (with why). */
export type Read<T> = { state: 'missing' } | { state: 'ok'; value: T } | { state: 'bad'; problem: string };

export function readState<S extends z.ZodType>(file: string, schema: S): Read<z.infer<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'bad', problem: `cannot read it (${(err as NodeJS.ErrnoException).code ?? describe(err)})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { state: 'bad', problem: text.trim() === '' ? 'it is empty' : 'it is not valid JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { state: 'bad', problem: `${issue?.path.join('.') || 'the file'}: ${issue?.message ?? 'invalid'}` };
  }
  return { state: 'ok', value: parsed.data as z.infer<S> };
}

const sameIdentity = (a: Identity, b: Identity) => a.agentId === b.agentId && a.token === b.token;

/**
 * Loads the identity, restoring it from the backup when needed. Returns the identity and,
 * when something had to be repaired, a sentence saying what (for the log and health).
 */
export function loadIdentity(dir: string): { identity: Identity; repaired: string | null } {
  const file = join(dir, 'identity.json');
  const backup = `${file}.bak`;
  const write = (id: Identity) => {
    writeFileAtomic(file, JSON.stringify(id));
    writeFileAtomic(backup, JSON.stringify(id));
  };
  const main = readState(file, Identity);
  const bak = readState(backup, Identity);
  if (main.state === 'ok') {
    if (bak.state !== 'ok' || !sameIdentity(bak.value, main.value)) writeFileAtomic(backup, JSON.stringify(main.value));
    return { identity: main.value, repaired: bak.state === 'bad' ? `${backup} was unusable (${bak.problem}); rewrote it from ${file}` : null };
  }
  if (main.state === 'missing' && bak.state === 'missing') {
    const identity: Identity = { agentId: randomUUID(), token: null };
    write(identity);
    return { identity, repaired: null };
  }
  if (bak.state === 'ok') {
    writeFileAtomic(file, JSON.stringify(bak.value));
    const why = main.state === 'bad' ? `was unusable (${main.problem})` : 'was missing';
    return { identity: bak.value, repaired: `${file} ${why}; restored agent id ${bak.value.agentId} from ${backup}` };
  }
  const mainWhy = main.state === 'bad' ? `${file} is unusable (${main.problem})` : `${file} is missing`;
  const bakWhy = bak.state === 'bad' ? `its backup ${backup} is unusable too (${bak.problem})` : `there is no backup ${backup}`;
  throw new AppError('bad_state',
    `${mainWhy} and ${bakWhy}. The agent will not make up a new agent id for a machine that already has one. ` +
    `To keep this machine's identity, restore ${file} from a copy; to enrol it as a new agent, delete both files, ` +
    'have an admin run "consultguard-server agent forget OLD_ID" if the old id is known, and start the agent again.');
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
  const exceptionsFile = join(dir, 'exceptions.json');

  const loaded = loadIdentity(dir);
  let identity = loaded.identity;

  return {
    dir,
    /** What had to be repaired in identity.json at start, if anything (logged and counted by the caller). */
    identityRepaired: loaded.repaired,
    agentId: (): string => identity.agentId,
    token: (): string | null => identity.token,
    setToken(token: string | null): void {
      if (token === identity.token) return;
      identity = { ...identity, token };
      // The main file first, then the backup: a crash between them leaves a usable main
      // file, and the next start rewrites the backup from it.
      writeFileAtomic(identityFile, JSON.stringify(identity));
      writeFileAtomic(`${identityFile}.bak`, JSON.stringify(identity));
    },
    /** The cached policy: a boundary like the wire, so parsed here once. */
    loadPolicy(): Read<EffectivePolicy> {
      return readState(policyFile, EffectivePolicy);
    },
    savePolicy(policy: EffectivePolicy): void {
      writeFileAtomic(policyFile, JSON.stringify(policy));
    },
    /** The open violations and the last outbox seq they already reflect. */
    loadOpen(): Read<OpenViolations> {
      return readState(openFile, OpenViolations);
    },
    saveOpen(open: OpenViolation[], seq: number): void {
      writeFileAtomic(openFile, JSON.stringify({ seq, open } satisfies OpenViolations));
    },
    /**
     * The open exception windows. A file that is there but unusable is moved aside to
     * exceptions.json.bad-<ms> (kept for a look, never parsed again) and reported as `bad`
     * with where it went: the caller says so loudly and starts with no windows.
     */
    loadExceptions(now = Date.now()): Read<ExceptionWindow[]> & { movedTo?: string } {
      const read = readState(exceptionsFile, ExceptionsFile);
      if (read.state === 'ok') return { state: 'ok', value: read.value.windows };
      if (read.state === 'missing') return read;
      const movedTo = `${exceptionsFile}.bad-${now}`;
      try {
        renameSync(exceptionsFile, movedTo);
        return { ...read, movedTo };
      } catch (err) {
        return { state: 'bad', problem: `${read.problem}; could not move it aside (${describe(err)})` };
      }
    },
    saveExceptions(windows: ExceptionWindow[]): void {
      writeFileAtomic(exceptionsFile, JSON.stringify({ v: 1, windows } satisfies ExceptionsFile));
    },
    saveStatus(status: StatusFile): void {
      writeFileAtomic(statusFile, JSON.stringify(status), 0o644);
    },
  };
}

export type AgentState = ReturnType<typeof createAgentState>;
