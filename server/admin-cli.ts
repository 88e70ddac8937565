/**
 * `consultguard-server` admin commands that work on the store directly (the server may be
 * running: SQLite in WAL mode takes a second writer, and backup is online).
 */
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseCommandLine, resolveConfig, type OptionSpec } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { ServerConfig, SERVER_OPTIONS } from './config.js';
import { createStore, type Store } from './store/index.js';

const DATA_ONLY: OptionSpec[] = SERVER_OPTIONS.filter((o) => o.key === 'dataDir');

type Out = (line: string) => void;

function withStore<T>(values: Record<string, unknown>, fn: (store: Store) => T): T {
  const config = resolveConfig(ServerConfig, DATA_ONLY, values, process.env);
  const store = createStore(resolve(config.dataDir));
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

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

export const ADMIN_USAGE = `commands:
  user add --role lead|admin NAME                 create or reset a dashboard login (password from stdin or prompt)
  token create --role lead|admin [--name TEXT]   print a new API token
  secret create [--site NAME]                    print a new enrolment secret (per site)
  secret list                                    list enrolment secrets (never their values)
  secret revoke ID                               stop a secret from enrolling new agents
  agent revoke AGENT_ID                          revoke an agent's token (it stays refused until forgotten)
  agent forget AGENT_ID                          forget a (revoked) agent's identity so it may enrol again
  backup FILE                                    online copy of the store to FILE
every command takes --data DIR (default ./data)`;

export async function runAdmin(argv: string[], out: Out): Promise<boolean> {
  const [cmd, sub, ...rest] = argv;
  const key = `${cmd} ${sub ?? ''}`.trim();
  switch (key) {
    case 'token create': {
      const { values } = parseCommandLine(rest, DATA_ONLY, { role: 'string', name: 'string' });
      const role = values.role;
      if (role !== 'lead' && role !== 'admin') throw new AppError('bad_option', `--role: expected lead or admin, got ${role === undefined ? 'nothing' : `"${String(role)}"`}`);
      withStore(values, (s) => out(s.apiTokens.create(role, (values.name as string | undefined) ?? null).token));
      return true;
    }
    case 'user add': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY, { role: 'string' });
      const role = values.role;
      const name = positionals[0];
      if (role !== 'lead' && role !== 'admin') throw new AppError('bad_option', `--role: expected lead or admin, got ${role === undefined ? 'nothing' : `"${String(role)}"`}`);
      if (!name || !/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new AppError('bad_option', 'user add: expected a user NAME of letters, digits, . _ @ - (at most 64)');
      const password = await readPassword();
      if (password.length < 12) throw new AppError('bad_option', 'password: at least 12 characters, please');
      withStore(values, (s) => s.users.add(name, role, password));
      out(`user ${name} (${role}) saved`);
      return true;
    }
    case 'secret create': {
      const { values } = parseCommandLine(rest, DATA_ONLY, { site: 'string' });
      withStore(values, (s) => out(s.secrets.create((values.site as string | undefined) ?? null).secret));
      return true;
    }
    case 'secret list': {
      const { values } = parseCommandLine(rest, DATA_ONLY);
      withStore(values, (s) => {
        for (const r of s.secrets.list()) out(`${r.id}  site=${r.site ?? '-'}  created=${new Date(r.created_at).toISOString()}${r.revoked_at ? `  revoked=${new Date(r.revoked_at).toISOString()}` : ''}`);
      });
      return true;
    }
    case 'secret revoke':
    case 'agent revoke': {
      const { values, positionals } = parseCommandLine(rest, DATA_ONLY);
      const id = positionals[0];
      if (!id) throw new AppError('bad_option', `${key}: expected the ${cmd === 'secret' ? 'secret id (see "secret list")' : 'agent id (see GET /api/agents)'}`);
      const done = withStore(values, (s) => (cmd === 'secret' ? s.secrets.revoke(id) : s.agents.revokeToken(id)));
      if (!done) throw new AppError('bad_option', `${key}: no ${cmd} ${id}`);
      out(`${cmd} ${id} revoked`);
      return true;
    }
    case 'agent forget':
      return agentForget(rest, out);
    default:
      break;
  }
  if (cmd === 'backup') {
    const { values, positionals } = parseCommandLine(argv.slice(1), DATA_ONLY);
    const file = positionals[0];
    if (!file) throw new AppError('bad_option', 'backup: expected the file to write, e.g. backup /backups/consultguard-2026-11-23.db');
    const config = resolveConfig(ServerConfig, DATA_ONLY, values, process.env);
    const store = createStore(resolve(config.dataDir));
    try {
      await store.db.backup(resolve(file));
    } finally {
      store.close();
    }
    out(`backup written to ${resolve(file)}`);
    return true;
  }
  if (cmd === 'token' || cmd === 'secret' || cmd === 'agent') throw new AppError('bad_option', `unknown command "${key}"; run --help for the commands`);
  return false;
}

/**
 * `agent forget ID`: deletes the agent's identity (its violations stay) so the id may enrol
 * again with a secret; a connected agent is closed by the server's sweep within a second.
 * Audited with the operating-system user who ran it.
 */
function agentForget(argv: string[], out: Out): boolean {
  const { values, positionals } = parseCommandLine(argv, DATA_ONLY);
  const id = positionals[0];
  if (!id) throw new AppError('bad_option', 'agent forget: expected the agent id (see GET /api/agents)');
  const done = withStore(values, (s) => {
    const row = s.agents.get(id);
    if (!row) return false;
    s.db.transaction(() => {
      s.agents.forget(id);
      s.audit.record(cliActor(), 'agent-forget', { agentId: id, hostname: row.hostname, wasRevoked: row.revoked_at !== null });
    })();
    return true;
  });
  if (!done) throw new AppError('bad_option', `agent forget: no agent ${id}`);
  out(`agent ${id} forgotten; it may enrol again with an enrolment secret`);
  return true;
}

function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}
