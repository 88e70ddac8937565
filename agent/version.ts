import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../shared/paths.js';

let version: string | undefined;

export function agentVersion(): string {
  if (!version) {
    try {
      version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
