import { join } from 'node:path';
import { openDb, prepareDataDir, type Db } from './db.js';
import { createAgentStore } from './agents.js';
import { createApiTokenStore } from './tokens.js';
import { createSecretStore } from './secrets.js';
import { createUserStore } from './users.js';
import { createAuditStore } from './audit.js';
import { createViolationStore } from './violations.js';
import { createExceptionStore } from './exceptions.js';

export function createStore(dataDir: string, now: () => number = Date.now) {
  prepareDataDir(dataDir);
  const db: Db = openDb(join(dataDir, 'consultguard.db'));
  return {
    db,
    agents: createAgentStore(db, now),
    violations: createViolationStore(db, now),
    apiTokens: createApiTokenStore(db, now),
    secrets: createSecretStore(db, now),
    users: createUserStore(db, now),
    audit: createAuditStore(db, now),
    exceptions: createExceptionStore(db, now),
    close: (): void => void db.close(),
  };
}

export type Store = ReturnType<typeof createStore>;
