/**
 * `npm start`: the whole product on one machine. A server on 127.0.0.1 (data in ./data,
 * policies from policies/demo/, which is always inside consult hours) and a local agent
 * enrolled to it. Prints the dashboard URL, an API token and the enrolment secret.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli, untilSignal } from '../shared/cli.js';
import { createLogger } from '../shared/log.js';
import { packageRoot } from '../shared/paths.js';
import { ServerConfig } from './config.js';
import { startServer } from './main.js';
import { resolveEnrollSecrets } from './secrets.js';
import { createStore } from './store/index.js';

async function main(): Promise<void> {
  const dataDir = resolve(process.env.CONSULTGUARD_DATA_DIR ?? 'data');
  const level = process.env.CONSULTGUARD_LOG_LEVEL ?? 'warn';
  const port = Number(process.env.CONSULTGUARD_PORT ?? 8470);
  const secret = resolveEnrollSecrets(process.env.CONSULTGUARD_ENROLL_SECRET, dataDir)[0]!;
  const token = demoToken(dataDir);
  const login = demoLogin(dataDir);

  const log = createLogger({ name: 'consultguard-server', level });
  const config = ServerConfig.parse({ port, dataDir, policiesDir: join(packageRoot(), 'policies', 'demo'), enrollSecret: secret, logLevel: level });
  const server = await startServer(config, log);

  const agentCli = join(packageRoot(), 'build', 'agent', 'cli.js');
  let agent: ChildProcess | null = null;
  let stopping = false;
  const startAgentProcess = () => {
    agent = spawn(process.execPath, [agentCli, 'run', '--server', server.url, '--state', join(dataDir, 'agent'), '--log-file', '-'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, CONSULTGUARD_ENROLL_SECRET: secret, CONSULTGUARD_LOG_LEVEL: level },
    });
    agent.on('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`local agent exited (${signal ?? code}); restarting in 2 s\n`);
      setTimeout(startAgentProcess, 2000);
    });
  };
  startAgentProcess();

  process.stdout.write(
    [
      '',
      'ConsultGuard demo is running.',
      `  Dashboard:        ${server.url}/`,
      `  Login:            ${login.name} / ${login.password}`,
      `  API token (lead): ${token}`,
      `  Enrolment secret: ${secret}`,
      `  Data:             ${dataDir}`,
      '',
      `  Try: curl -H "Authorization: Bearer ${token}" ${server.url}/api/violations`,
      '  A consumer app opened on this machine (e.g. Zoom) appears within a few seconds.',
      '  Ctrl-C stops both.',
      '',
    ].join('\n'),
  );

  await untilSignal();
  stopping = true;
  const a = agent as ChildProcess | null;
  if (a && a.exitCode === null) {
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGTERM');
    await exited;
  }
  await server.close();
}

/** A demo admin login, kept in the data folder (mode 0600) so it stays the same across restarts. */
function demoLogin(dataDir: string): { name: string; password: string } {
  const file = join(dataDir, 'demo-login');
  const store = createStore(dataDir);
  try {
    if (existsSync(file)) {
      const [name, password] = readFileSync(file, 'utf8').trim().split('\n');
      if (name && password && store.users.exists(name)) return { name, password };
    }
    const login = { name: 'admin', password: randomBytes(12).toString('base64url') };
    store.users.add(login.name, 'admin', login.password);
    writeFileSync(file, `${login.name}\n${login.password}\n`, { mode: 0o600 });
    return login;
  } finally {
    store.close();
  }
}

/** One lead token for the demo, kept in the data folder so the printed URL stays valid. */
function demoToken(dataDir: string): string {
  const file = join(dataDir, 'demo-token');
  const store = createStore(dataDir);
  try {
    if (existsSync(file)) {
      const saved = readFileSync(file, 'utf8').trim();
      if (store.apiTokens.verify(saved)) return saved;
    }
    const { token } = store.apiTokens.create('lead', 'demo');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return token;
  } finally {
    store.close();
  }
}

runCli('consultguard', main);
