/**
 * A throwaway Linux desktop session for notification tests: Xvfb (its own display
 * number), a private session D-Bus, and the dunst notification daemon on both, plus
 * `dunstctl` to read and click notifications and ImageMagick's `import` for screenshots.
 * Suites check `missingDesktopPackages()` first and skip, visibly, with the apt command.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Executable -> the Debian package that ships it. */
const TOOLS: Record<string, string> = {
  Xvfb: 'xvfb', 'dbus-daemon': 'dbus-daemon', dunst: 'dunst', dunstctl: 'dunst', 'notify-send': 'libnotify-bin', stdbuf: 'coreutils', import: 'imagemagick',
};

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Debian packages still needed for the desktop suites (empty: all there). */
function missingDesktopPackages(): string[] {
  if (process.platform !== 'linux') return ['(Linux only)'];
  return [...new Set(Object.entries(TOOLS).filter(([bin]) => !onPath(bin)).map(([, pkg]) => pkg))];
}

/** Warns once, naming the install command, when a suite is about to be skipped. */
export function warnIfMissing(suite: string): boolean {
  const missing = missingDesktopPackages();
  if (missing.length === 0) return false;
  console.warn(`SKIPPED ${suite}: missing ${missing.join(', ')}; enable it with: sudo apt-get install -y ${missing.join(' ')}`);
  return true;
}

export interface Notification {
  appname: string;
  summary: string;
  body: string;
  id: number;
}

export interface Desktop {
  /** DISPLAY and DBUS_SESSION_BUS_ADDRESS for processes that belong to this session. */
  env: Record<string, string>;
  dunstctl(...args: string[]): Promise<string>;
  displayed(): Promise<number>;
  /** Closed notifications, newest first, read back from dunst. */
  history(): Promise<Notification[]>;
  screenshot(file: string): Promise<void>;
  stop(): Promise<void>;
}

const DUNSTRC = `[global]
    font = DejaVu Sans 11
    width = 520
    height = 200
    origin = top-right
    offset = 16x16
    padding = 12
    horizontal_padding = 12
    frame_width = 2
    frame_color = "#8fb3d9"
    # dunst's context menu needs dmenu, which a test session lacks; actions are invoked with dunstctl.
    dmenu = /bin/false
    browser = /bin/false
[urgency_normal]
    background = "#1e3a5f"
    foreground = "#ffffff"
    # stays until acted on, so the test can look at it
    timeout = 0
`;

function startChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, extraFd = false): ChildProcess {
  return spawn(cmd, args, { env, stdio: extraFd ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'] });
}

function firstLine(stream: NodeJS.ReadableStream, what: string, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${ms} ms`)), ms);
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl).trim());
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function startDesktop(dir: string): Promise<Desktop> {
  const children: ChildProcess[] = [];
  try {
    // Xvfb picks a free display itself and writes its number to fd 3.
    const xvfb = startChild('Xvfb', ['-displayfd', '3', '-screen', '0', '1024x600x24', '-nolisten', 'tcp'], process.env, true);
    children.push(xvfb);
    const display = `:${await firstLine(xvfb.stdio[3] as NodeJS.ReadableStream, 'Xvfb')}`;
    const bus = startChild('dbus-daemon', ['--session', '--nofork', '--print-address=1'], process.env);
    children.push(bus);
    const address = await firstLine(bus.stdout!, 'dbus-daemon');
    const env = { DISPLAY: display, DBUS_SESSION_BUS_ADDRESS: address };
    const sessionEnv = { ...process.env, ...env };
    writeFileSync(join(dir, 'dunstrc'), DUNSTRC);
    const dunst = startChild('dunst', ['-config', join(dir, 'dunstrc')], sessionEnv);
    children.push(dunst);
    const dunstctl = async (...args: string[]) => (await run('dunstctl', args, { env: sessionEnv, timeout: 5000 })).stdout;
    // Ready once dunst owns its bus name and answers.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await dunstctl('count', 'displayed');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`dunst did not answer on the session bus: ${(err as Error).message}`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return {
      env,
      dunstctl,
      displayed: async () => Number((await dunstctl('count', 'displayed')).trim()),
      async history() {
        const json = JSON.parse(await dunstctl('history')) as { data: Array<Array<Record<string, { data: unknown }>>> };
        return (json.data[0] ?? []).map((n) => ({
          appname: String(n.appname?.data ?? ''), summary: String(n.summary?.data ?? ''), body: String(n.body?.data ?? ''), id: Number(n.id?.data ?? 0),
        }));
      },
      async screenshot(file) {
        await run('import', ['-display', display, '-window', 'root', file], { timeout: 10_000 });
      },
      async stop() {
        for (const c of children.reverse()) await stopChild(c);
      },
    };
  } catch (err) {
    for (const c of children.reverse()) await stopChild(c);
    throw err;
  }
}
