/**
 * `npm start`: the whole product on one machine. A server on 127.0.0.1 (data in ./data,
 * policies from policies/demo/, which is always inside consult hours) and a local agent
 * enrolled to it, plus a nudge helper (the per-user process that shows the desktop
 * notification) meeting the agent in DATA/nudge, so a violation shows the whole path.
 * Prints the dashboard URL, login, an API token and the enrolment secret.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
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
  const token = await demoToken(dataDir);
  const login = await demoLogin(dataDir);

  const log = createLogger({ name: 'consultguard-server', level });
  const config = ServerConfig.parse({ port, dataDir, policiesDir: join(packageRoot(), 'policies', 'demo'), enrollSecret: secret, logLevel: level });
  const server = await startServer(config, log);

  const agentCli = join(packageRoot(), 'build', 'agent', 'cli.js');
  // Agent and helper meet in one folder (shared/paths.ts): named on both sides, so the
  // demo never depends on the per-OS default (root's /var/lib/consultguard/nudge).
  const nudgeDir = join(dataDir, 'nudge');
  let agent: ChildProcess | null = null;
  let helper: ChildProcess | null = null;
  let stopping = false;
  const startHelperProcess = () => {
    helper = spawn(process.execPath, [agentCli, 'nudge-helper', '--dir', nudgeDir, '--log-level', level], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, CONSULTGUARD_NUDGE_DIR: nudgeDir },
    });
    helper.on('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`nudge helper exited (${signal ?? code}); restarting in 2 s\n`);
      setTimeout(startHelperProcess, 2000);
    });
  };
  startHelperProcess();
  const startAgentProcess = () => {
    agent = spawn(process.execPath, [agentCli, 'run', '--server', server.url, '--state', join(dataDir, 'agent'), '--nudge-dir', nudgeDir, '--log-file', '-'], {
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
      `  Nudge helper:     pid ${(helper as ChildProcess | null)?.pid ?? '?'}, folder ${nudgeDir}`,
      ...desktopNote(),
      '',
      `  Try: curl -H "Authorization: Bearer ${token}" ${server.url}/api/violations`,
      '  A consumer app opened on this machine (e.g. Zoom) appears within a few seconds.',
      '  Ctrl-C stops both.',
      '',
    ].join('\n'),
  );

  await untilSignal();
  stopping = true;
  await Promise.all([stopChild(agent), stopChild(helper)]);
  await server.close();
}

async function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  // A child that does not stop within 5 s (say, a helper still waiting on a notification
  // nobody answers) is killed: Ctrl-C always ends the demo.
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Where the demo's notifications go. Windows (toast through PowerShell) and macOS
 * (alerter or an osascript dialog) always have the user's desktop when run from a
 * terminal there. Linux needs a desktop session (DISPLAY or WAYLAND_DISPLAY, and a
 * session D-Bus) and notify-send (libnotify-bin): without them the helper still
 * answers the agent, and each nudge is recorded as failed, with the reason, in the
 * violation's timeline on the dashboard.
 */
function desktopNote(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, hasNotifySend = onPath('notify-send', env)): string[] {
  if (platform !== 'linux') return [];
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return ['  Notifications:    none on screen: no desktop session here (DISPLAY and WAYLAND_DISPLAY are unset);',
      '                    each nudge shows as failed, with the reason, in the violation\'s timeline. Run npm start from a desktop terminal to see them.'];
  }
  if (!hasNotifySend) return ['  Notifications:    notify-send not found: install libnotify-bin (apt-get install libnotify-bin) to see nudges on the desktop.'];
  return ['  Notifications:    desktop notifications through notify-send on this session.'];
}

function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, cmd)));
}

/** A demo admin login, kept in the data folder (mode 0600) so it stays the same across restarts. */
async function demoLogin(dataDir: string): Promise<{ name: string; password: string }> {
  const file = join(dataDir, 'demo-login');
  const store = createStore(dataDir);
  try {
    if (existsSync(file)) {
      const [name, password] = readFileSync(file, 'utf8').trim().split('\n');
      if (name && password && (await store.users.exists(name))) return { name, password };
    }
    const login = { name: 'admin', password: randomBytes(12).toString('base64url') };
    await store.users.add(login.name, 'admin', login.password);
    writeFileSync(file, `${login.name}\n${login.password}\n`, { mode: 0o600 });
    return login;
  } finally {
    await store.close();
  }
}

/** One lead token for the demo, kept in the data folder so the printed URL stays valid. */
async function demoToken(dataDir: string): Promise<string> {
  const file = join(dataDir, 'demo-token');
  const store = createStore(dataDir);
  try {
    if (existsSync(file)) {
      const saved = readFileSync(file, 'utf8').trim();
      if (await store.apiTokens.verify(saved)) return saved;
    }
    const { token } = await store.apiTokens.create('lead', 'demo');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return token;
  } finally {
    await store.close();
  }
}

runCli('consultguard', main);
