/**
 * `scan`: offline detection on a recorded snapshot (JSON, or JSONL with one snapshot per
 * line), or one pass over this machine (--live). Prints the CONTRACTS section 2 result.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../../shared/errors.js';
import { builtinPoliciesDir } from '../../shared/paths.js';
import { loadPolicies, policyFor } from '../../shared/policy-load.js';
import { Snapshot, type Platform, type ScanResult } from '../../shared/snapshot.js';
import { firstIssue } from '../../shared/zod-errors.js';
import { defaultCollectors, takeSnapshot, toolCollectorOptions } from '../collect/snapshot.js';
import { NUDGE_DIR_ENV } from '../../shared/paths.js';
import { agentNudgeRoot } from '../nudge/rendezvous.js';
import { compileCatalog, detect, flowsWorthKeeping, knowsName, type CompiledCatalog } from '../detect/index.js';

export function parseSnapshot(text: string, where: string): Snapshot {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError('bad_snapshot', `${where}: not valid JSON (${(err as Error).message})`);
  }
  const r = Snapshot.safeParse(json);
  if (!r.success) throw new AppError('bad_snapshot', `${where}: ${firstIssue(r.error).line}`);
  return r.data;
}

export function compileForScan(policiesDir: string | undefined): CompiledCatalog {
  const set = loadPolicies(resolve(policiesDir ?? builtinPoliciesDir()));
  const p = policyFor(set, {}).effective;
  return compileCatalog(p.catalog, p.approved.apps);
}

export function scanText(text: string, file: string, compiled: CompiledCatalog): ScanResult[] {
  if (file.toLowerCase().endsWith('.jsonl')) {
    return text
      .split('\n')
      .map((line, i) => ({ line, n: i + 1 }))
      .filter(({ line }) => line.trim() !== '')
      .map(({ line, n }) => ({ v: 1 as const, detections: detect(parseSnapshot(line, `${file}:${n}`), compiled) }));
  }
  return [{ v: 1, detections: detect(parseSnapshot(text, file), compiled) }];
}

export async function runScan(opts: { snapshot?: string; live?: boolean; policies?: string; withSnapshot?: boolean }, out: NodeJS.WritableStream): Promise<void> {
  if (!opts.snapshot === !opts.live) throw new AppError('bad_option', 'scan needs exactly one of --snapshot FILE or --live');
  if (opts.withSnapshot && !opts.live) throw new AppError('bad_option', '--with-snapshot: only with --live (a recorded snapshot is already in its file)');
  const compiled = compileForScan(opts.policies);
  if (opts.live) {
    // macOS: capture devices from the console user's helper, through the folder the service
    // made (scan never creates it). Linux reads /proc; Windows has devices only with its probe.
    const collectors = defaultCollectors(toolCollectorOptions(agentNudgeRoot(process.env[NUDGE_DIR_ENV] || undefined).root));
    const snapshot = await takeSnapshot(collectors, new Date(), flowsWorthKeeping(compiled), (n) => knowsName(compiled, process.platform as Platform, n));
    // --with-snapshot adds what was seen (additive to the section 2 result), e.g. to check `devices`.
    out.write(`${JSON.stringify({ v: 1, detections: detect(snapshot, compiled), ...(opts.withSnapshot ? { snapshot } : {}) })}\n`);
    return;
  }
  let text: string;
  try {
    text = readFileSync(opts.snapshot!, 'utf8');
  } catch (err) {
    throw new AppError('bad_option', `--snapshot: cannot read ${opts.snapshot}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  for (const result of scanText(text, opts.snapshot!, compiled)) out.write(`${JSON.stringify(result)}\n`);
}
