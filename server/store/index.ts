import { join } from 'node:path';
import { openDb, prepareDataDir, type Db } from './db.js';
import { createAgentStore } from './agents.js';
import { createApiTokenStore } from './tokens.js';
import { createSecretStore } from './secrets.js';
import { createUserStore } from './users.js';
import { createAuditStore } from './audit.js';
import { createViolationStore } from './violations.js';
import { createPeople } from './people.js';
import { createRevealStore } from './reveals.js';
import { createSubjects } from './subjects.js';
import { createExceptionStore } from './exceptions.js';
import { createRollups } from './rollups.js';

export interface StoreOptions {
  /** Show clinicians' names instead of pseudonyms (`--show-names`: the clinic's decision). */
  showNames?: boolean;
  /** The database file (`--database sqlite:PATH`); default DATA/consultguard.db. */
  file?: string;
}

export function createStore(dataDir: string, now: () => number = Date.now, opts: StoreOptions = {}) {
  prepareDataDir(dataDir);
  const db: Db = openDb(opts.file ?? join(dataDir, 'consultguard.db'));
  const people = createPeople(db, { showNames: opts.showNames, now });
  const rollups = createRollups(db, now);
  return {
    db,
    people,
    rollups,
    agents: createAgentStore(db, now),
    violations: createViolationStore(db, people, now, rollups),
    reveals: createRevealStore(db, people, now),
    subjects: createSubjects(db, people),
    apiTokens: createApiTokenStore(db, now),
    secrets: createSecretStore(db, now),
    users: createUserStore(db, now),
    audit: createAuditStore(db, now),
    exceptions: createExceptionStore(db, now, rollups),
    close: (): void => void db.close(),
  };
}

export type Store = ReturnType<typeof createStore>;
