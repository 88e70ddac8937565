/** Authenticode signing with osslsigncode (works for both PE files and MSIs). */
import { renameSync } from 'node:fs';
import { run } from '../exec.js';

export interface SignOptions {
  cert: string;
  key: string;
  passFile?: string;
}

/** Signs `file` into `out` (default: in place), SHA-256. */
export async function signFile(file: string, sign: SignOptions, out?: string): Promise<void> {
  const target = out ?? `${file}.signed`;
  const args = ['sign', '-certs', sign.cert, '-key', sign.key, '-h', 'sha256', '-n', 'ConsultGuard Agent'];
  if (sign.passFile) args.push('-readpass', sign.passFile);
  await run('osslsigncode', [...args, '-in', file, '-out', target]);
  if (!out) renameSync(target, file);
}
