/**
 * Enrolment secrets: given in config, or generated once and kept in the data folder with
 * owner-only permissions (the server never logs a secret).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function enrollSecretFile(dataDir: string): string {
  return join(dataDir, 'enroll-secret');
}

export function resolveEnrollSecrets(configured: string | undefined, dataDir: string): string[] {
  if (configured) return configured.split(',').map((s) => s.trim()).filter(Boolean);
  const file = enrollSecretFile(dataDir);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return [readFileSync(file, 'utf8').trim()];
}
