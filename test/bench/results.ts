/** The bench-results.json shape (CONTRACTS section 5) and small statistics helpers. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../shared/paths.js';

export interface BenchResult {
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  note: string;
}

export type BenchResults = Record<string, BenchResult>;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Merges into bench-results.json at the repository root (so one benchmark can be rerun alone). */
export function writeResults(results: BenchResults): string {
  const file = join(packageRoot(), 'bench-results.json');
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchResults) : {};
  writeFileSync(file, `${JSON.stringify({ ...existing, ...results }, null, 2)}\n`);
  return file;
}
