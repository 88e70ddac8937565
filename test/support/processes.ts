/**
 * Real child processes: a copy of `sleep` named like a consumer app, and the built agent
 * CLI. Every process started here is ended by its pid in `cleanup()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../shared/paths.js';

const children = new Set<ChildProcess>();

/** Starts `sleep` copied to `path` (e.g. <tmp>/opt/zoom/zoom), so the OS reports that name and path. */
export function startFakeApp(path: string, seconds = 300): ChildProcess {
  mkdirSync(dirname(path), { recursive: true });
  copyFileSync('/bin/sleep', path);
  const child = spawn(path, [String(seconds)], { stdio: 'ignore' });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startAgentProcess(args: string[], env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [join(packageRoot(), 'build', 'agent', 'cli.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CONSULTGUARD_LOG_LEVEL: 'info', CONSULTGUARD_LOG_FILE: '-', ...env },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  children.add(child);
  child.on('exit', () => children.delete(child));
  return {
    child,
    output: () => out,
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}

export function runCli(cli: 'agent' | 'server', args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(packageRoot(), 'build', cli, 'cli.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export async function killAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
    ),
  );
}
