/**
 * `consultguard-server` admin commands that work on the store directly (the server may be
 * running: SQLite in WAL mode takes a second writer, and backup is online; PostgreSQL takes
 * any number). Each opens the store named by --data / --database (store/open.ts).
 */
import { resolve } from 'node:path';
import { parseCommandLine, type OptionSpec } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { SERVER_OPTIONS } from './config.js';
import { MIGRATE_USAGE, runMigrate } from './migrate-cli.js';
import { cliActor } from './store/audit.js';
import type { Store } from './store/types.js';
import { openCliStore as openStore, withStore as withCliStore } from './cli-store.js';
import { ALERT_USAGE, runAlertCli } from './alerts/cli.js';
import { rollupsCommand } from './rollups-cli.js';

/** What every command takes: where the store is (`--data DIR`, or `--database sqlite:PATH`). */
const DATA_ONLY: OptionSpec[] = SERVER_OPTIONS.filter((o) => o.key === 'dataDir' || o.key === 'database');

type Out = (line: string) => void;

/** The store named by --data / --database (a --database without --data keeps its folder to itself). */
const withStore = <T>(values: Record<string, unknown>, fn: (store: Store) => Promise<T>): Promise<T> => withCliStore(values, DATA_ONLY, fn);

/** The password from stdin: piped (one line), or typed at a prompt without echo. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text.split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write('Password: ');
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  let pw = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          return resolve(pw);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          return reject(new AppError('bad_option', 'cancelled'));
        }
        pw = ch === '\u007f' ? pw.slice(0, -1) : pw + ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** A local user's name; `existing` also takes a single sign-on user's `sso:NAME` (disable, enable). */
function userName(cmd: string, name: string | undefined, existing = false): string {
  const re = existing ? /^(sso:)?[A-Za-z0-9._@~-]{1,64}$/i : /^[A-Za-z0-9._@-]{1,64}$/;
  if (!name || !re.test(name)) throw new AppError('bad_option', `${cmd}: expected a user NAME of letters, digits, . _ @ - (at most 64)${existing ? ', or sso:NAME for a single sign-on user' : ''}`);
  return name;
}

async function newPassword(): Promise<string> {
  const password = await readPassword();
  if (password.length < 12) throw new AppError('bad_option', 'password: at least 12 characters, please');
  return password;
}

export const ADMIN_USAGE = `commands:
  user add --role lead|admin NAME                 create or reset a dashboard login (password from stdin or prompt)
  user reset NAME                                 new password (stdin or prompt); the user's sessions end
  user disable NAME                               no more logins (single sign-on users too: sso:NAME); the user's sessions end
  user enable NAME                                lets a disabled user sign in again (user add also re-enables a local one)
  user list                                       dashboard logins with role and state
  token create --role lead|admin [--name TEXT]   print a new API token
  token list                                     API tokens (id, name, role, dates; never the token)
  token revoke ID                                the token stops working at its next request
  secret create [--site NAME]                    print a new enrolment secret (per site)
  secret list                                    list enrolment secrets (never their values)
  secret revoke ID                               stop a secret from enrolling new agents
  agent revoke AGENT_ID                          revoke an agent's token (it stays refused until forgotten)
  agent forget AGENT_ID                          forget a (revoked) agent's identity so it may enrol again
  backup FILE                                    online copy of the store to FILE
  subject export NAME                            everything held about one clinician (the user name agents report) as JSON
  subject erase NAME [--reference TEXT]          erase or anonymise it (audited by pseudonym; --reference: your ticket)
  rollups rebuild [--timezone TZ]                count every violation into the trend roll-ups again (progress on stderr;
                                                 TZ: the clinic's zone, default the one they were counted in, else the policy's)
${ALERT_USAGE}
${MIGRATE_USAGE}
every command takes --data DIR (default ./data) or --database sqlite:PATH`;

export async function runAdmin(argv: string[], out: Out): Promise<boolean> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === 'alert' || cmd === 'report') {
    const status = await runAlertCli(argv, out);
    if (status) process.exitCode = status;
    return true;
  }
  if (cmd === 'migrate') {
    const status = await runMigrate(argv.slice(1), DATA_ONLY, out);
    if (status) process.exitCode = status;
    return true;
  }
  const key = `${cmd} ${sub ?? ''}`.trim();
  switch (key) {
    case 'token create': {
      const { values } = parseCommandLine(rest, DATA_ONLY, { role: 'string', name: 'string' });
      const role = values.role;
      if (role !== 'lead' && role !== 'admin') throw new AppError('bad_option', `--role: expected lead or admin, got ${role === undefined ? 'nothing' : `"${String(role)}"`}`);
      const name = (values.name as string | undefined) ?? null;
      await withStore(values, async (s) => {
        const created = await s.apiTokens.create(role, name);
        await s.audit.record(cliActor(), 'token-create', { id: created.id, role, name });
        out(created.token);
      });
      return true;
    }
    case 'token list': {
      const { values } = parseCommandLine(rest, DATA_ONLY);
      await withStore(values, async (s) => {
        for (const t of await s.apiTokens.list()) out(`${t.id}  role=${t.role}  name=${t.name ?? '-'}  created=${new Date(t.created_at).toISOString()}${t.revoked_at ? `  revoked=${new Date(t.revoked_at).toISOString()}` : ''}`);
      });
      return true;
    }
    case 'token revoke': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY);
      const id = positionals[0];
      if (!id) throw new AppError('bad_option', 'token revoke: expected the token id (see "token list")');
      await withStore(values, async (s) => {
        if (!await s.apiTokens.revoke(id)) throw new AppError('bad_option', `token revoke: no live token ${id} (see "token list")`);
        await s.audit.record(cliActor(), 'token-revoke', { id });
        await s.changes.notify('tokens', id);
      });
      out(`token ${id} revoked`);
      return true;
    }
    case 'user add': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY, { role: 'string' });
      const role = values.role;
      const name = userName(key, positionals[0]);
      if (role !== 'lead' && role !== 'admin') throw new AppError('bad_option', `--role: expected lead or admin, got ${role === undefined ? 'nothing' : `"${String(role)}"`}`);
      const password = await newPassword();
      await withStore(values, async (s) => {
        const existed = await s.users.exists(name);
        await s.users.add(name, role, password);
        await s.audit.record(cliActor(), existed ? 'user-reset' : 'user-add', { name, role });
      });
      out(`user ${name} (${role}) saved`);
      return true;
    }
    case 'user reset': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY);
      const name = userName(key, positionals[0]);
      const password = await newPassword();
      await withStore(values, async (s) => {
        if (!await s.users.reset(name, password)) throw new AppError('bad_option', `user reset: no user ${name} (see "user list")`);
        await s.audit.record(cliActor(), 'user-reset', { name });
        await s.changes.notify('users', name);
      });
      out(`user ${name}: password reset, sessions ended`);
      return true;
    }
    case 'user enable': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY);
      const name = userName(key, positionals[0], true);
      await withStore(values, async (s) => {
        if (!await s.users.enable(name)) throw new AppError('bad_option', `user enable: no disabled user ${name} (see "user list")`);
        await s.audit.record(cliActor(), 'user-enable', { name });
        await s.changes.notify('users', name);
      });
      out(`user ${name} enabled`);
      return true;
    }
    case 'user disable': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY);
      const name = userName(key, positionals[0], true);
      await withStore(values, async (s) => {
        if (!await s.users.disable(name)) throw new AppError('bad_option', `user disable: no enabled user ${name} (see "user list")`);
        await s.audit.record(cliActor(), 'user-disable', { name });
        await s.changes.notify('users', name);
      });
      out(`user ${name} disabled, sessions ended`);
      return true;
    }
    case 'user list': {
      const { values } = parseCommandLine(rest, DATA_ONLY);
      await withStore(values, async (s) => {
        for (const u of await s.users.list()) out(`${u.name}  role=${u.role}  created=${new Date(u.created_at).toISOString()}${u.disabled_at ? `  disabled=${new Date(u.disabled_at).toISOString()}` : ''}`);
      });
      return true;
    }
    case 'secret create': {
      const { values } = parseCommandLine(rest, DATA_ONLY, { site: 'string' });
      await withStore(values, async (s) => {
        const site = (values.site as string | undefined) ?? null;
        const created = await s.secrets.create(site);
        // The secret itself never goes into the audit: only which one was made, for which site.
        await s.audit.record(cliActor(), 'secret-create', { id: created.id, site });
        out(created.secret);
      });
      return true;
    }
    case 'secret list': {
      const { values } = parseCommandLine(rest, DATA_ONLY);
      await withStore(values, async (s) => {
        for (const r of await s.secrets.list()) out(`${r.id}  site=${r.site ?? '-'}  created=${new Date(r.created_at).toISOString()}${r.revoked_at ? `  revoked=${new Date(r.revoked_at).toISOString()}` : ''}`);
      });
      return true;
    }
    case 'secret revoke':
    case 'agent revoke': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY);
      const id = positionals[0];
      if (!id) throw new AppError('bad_option', `${key}: expected the ${cmd === 'secret' ? 'secret id (see "secret list")' : 'agent id (see GET /api/agents)'}`);
      const done = await withStore(values, async (s) => {
        const ok = cmd === 'secret' ? await s.secrets.revoke(id) : await s.agents.revokeToken(id);
        if (ok) await s.audit.record(cliActor(), cmd === 'secret' ? 'secret-revoke' : 'agent-revoke', cmd === 'secret' ? { id } : { agentId: id });
        // A revoked agent's socket closes wherever it is connected (the servers' change feed).
        if (ok && cmd === 'agent') await s.changes.notify('agents', id);
        return ok;
      });
      if (!done) throw new AppError('bad_option', `${key}: no ${cmd} ${id}`);
      out(`${cmd} ${id} revoked`);
      return true;
    }
    case 'agent forget':
      return agentForget(rest, out);
    case 'rollups rebuild':
      return rollupsCommand(rest, openStore, out);
    case 'subject export':
    case 'subject erase':
      return subjectCommand(sub === 'export' ? 'export' : 'erase', rest, out);
    default:
      break;
  }
  if (cmd === 'backup') {
    const { values, positionals } = parseCommandLine(argv.slice(1), DATA_ONLY);
    const file = positionals[0];
    if (!file) throw new AppError('bad_option', 'backup: expected the file to write, e.g. backup /backups/consultguard-2026-11-23.db');
    // SQLite: an online copy (0600); PostgreSQL refuses, naming pg_dump.
    await withStore(values, (s) => s.backup(resolve(file)));
    out(`backup written to ${resolve(file)}`);
    return true;
  }
  if (cmd === 'token' || cmd === 'user' || cmd === 'secret' || cmd === 'agent' || cmd === 'subject' || cmd === 'rollups') throw new AppError('bad_option', `unknown command "${key}"; run --help for the commands`);
  return false;
}

/**
 * `agent forget ID`: deletes the agent's identity (its violations stay) so the id may enrol
 * again with a secret; a connected agent is closed by the server's sweep within a second.
 * Audited with the operating-system user who ran it.
 */
async function agentForget(argv: string[], out: Out): Promise<boolean> {
  const { values, positionals } = parseCommandLine(argv, DATA_ONLY);
  const id = positionals[0];
  if (!id) throw new AppError('bad_option', 'agent forget: expected the agent id (see GET /api/agents)');
  const done = await withStore(values, async (s) => {
    const row = await s.agents.get(id);
    if (!row) return false;
    await s.transaction(async (tx) => {
      await tx.agents.forget(id);
      await tx.audit.record(cliActor(), 'agent-forget', { agentId: id, hostname: row.hostname, wasRevoked: row.revoked_at !== null });
    });
    // Its socket closes wherever it is connected (the servers' change feed).
    await s.changes.notify('agents', id);
    return true;
  });
  if (!done) throw new AppError('bad_option', `agent forget: no agent ${id}`);
  out(`agent ${id} forgotten; it may enrol again with an enrolment secret`);
  return true;
}

/**
 * `subject export NAME` / `subject erase NAME`: a data-subject request (store/subjects.ts),
 * JSON on stdout. NAME is the user name as the agents report it (quote it in the shell:
 * 'CLINIC\\dr.lee'), or a workstation's keyed hash `h:...`. Both are audited with the OS user
 * who ran them and the subject's pseudonym, never the name.
 */
async function subjectCommand(sub: 'export' | 'erase', argv: string[], out: Out): Promise<boolean> {
  const { values, positionals } = parseCommandLine(argv, DATA_ONLY, { reference: 'string' });
  const name = positionals[0]?.trim();
  if (!name || name.length > 256) throw new AppError('bad_option', `subject ${sub}: expected the user name the agents report, e.g. subject ${sub} 'CLINIC\\dr.lee'`);
  if (positionals.length > 1) throw new AppError('bad_option', `subject ${sub}: one NAME only (got ${positionals.length}); quote a name with spaces`);
  await withStore(values, async (s) => {
    if (sub === 'export') {
      const data = await s.subjects.exportSubject(name);
      await s.audit.record(cliActor(), 'subject-export', { pseudonym: data.subject.pseudonym, violations: data.violations.length });
      out(JSON.stringify(data, null, 2));
      return;
    }
    const ref = values.reference as string | undefined;
    const result = await s.subjects.eraseSubject(name, cliActor(), ref ? { reference: ref } : undefined);
    out(JSON.stringify(result, null, 2));
  });
  return true;
}
