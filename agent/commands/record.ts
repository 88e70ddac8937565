/**
 * `record --out FILE.jsonl [--count N] [--interval S]`: real snapshots of this machine in
 * the snapshot format, one per line, so IT staff can send a case that went wrong and it
 * becomes a test fixture. Everything is kept (all processes and connections): the file
 * stays on this machine until someone chooses to send it.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { AppError } from '../../shared/errors.js';
import { defaultCollectors, takeSnapshot, toolCollectorOptions } from '../collect/snapshot.js';
import { NUDGE_DIR_ENV } from '../../shared/paths.js';
import { agentNudgeRoot } from '../nudge/rendezvous.js';

export async function runRecord(opts: { out?: string; count?: string; interval?: string }, log: (line: string) => void): Promise<void> {
  if (!opts.out) throw new AppError('bad_option', '--out: expected the file to write, e.g. --out case.jsonl');
  const count = opts.count === undefined ? 1 : Number(opts.count);
  const interval = opts.interval === undefined ? 5 : Number(opts.interval);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new AppError('bad_option', `--count: expected a whole number from 1, got "${opts.count}"`);
  if (!Number.isFinite(interval) || interval < 0.1) throw new AppError('bad_option', `--interval: expected seconds (at least 0.1), got "${opts.interval}"`);
  let fd: number;
  try {
    fd = openSync(opts.out, 'a', 0o600);
  } catch (err) {
    throw new AppError('bad_option', `--out: cannot write ${opts.out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const collectors = defaultCollectors(toolCollectorOptions(agentNudgeRoot(process.env[NUDGE_DIR_ENV] || undefined).root));
  try {
    for (let i = 0; i < count; i++) {
      const snapshot = await takeSnapshot(collectors, new Date());
      writeSync(fd, `${JSON.stringify(snapshot)}\n`);
      log(`recorded snapshot ${i + 1}/${count}: ${snapshot.processes.length} processes, ${snapshot.connections.length} connections, ${snapshot.devices ? `${snapshot.devices.length} capture devices in use` : 'capture devices not known'}`);
      if (i + 1 < count) await new Promise((r) => setTimeout(r, interval * 1000));
    }
  } finally {
    closeSync(fd);
  }
}
