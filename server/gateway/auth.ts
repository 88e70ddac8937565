/**
 * Enrolment and per-agent tokens. An agent enrols once with an enrolment secret and gets
 * its own random token; from then on it authenticates with that token only. Tokens are
 * stored hashed; revoking one forces the agent back through enrolment.
 */
import { AppError } from '../../shared/errors.js';
import type { Hello } from '../../shared/protocol.js';
import type { AgentStore } from '../store/agents.js';
import { hashToken, newToken, safeEqual } from '../store/tokens.js';

export interface AuthResult {
  token: string;
  enrolled: boolean;
}

export interface SecretCheck {
  /** Secrets from config (no site). */
  configured: readonly string[];
  /** Secrets in the store: returns the site it belongs to (null for none), or undefined if unknown/revoked. */
  lookup: (secret: string) => { site: string | null } | undefined;
}

export function authenticate(hello: Hello, agents: AgentStore, secrets: SecretCheck): AuthResult {
  if (hello.token) {
    const row = agents.get(hello.agentId);
    if (row?.token_hash && safeEqual(row.token_hash, hashToken(hello.token))) {
      agents.saveHello(hello, null);
      return { token: hello.token, enrolled: false };
    }
    if (!hello.enrollSecret) {
      throw new AppError('unauthorized', 'agent token not recognised (revoked, or issued to another agent); re-enrol with the enrolment secret');
    }
  }
  if (!hello.enrollSecret) {
    throw new AppError('unauthorized', 'hello needs a token or an enrolment secret');
  }
  const configured = secrets.configured.some((s) => safeEqual(s, hello.enrollSecret as string));
  const stored = configured ? undefined : secrets.lookup(hello.enrollSecret);
  if (!configured && !stored) {
    throw new AppError('unauthorized', 'wrong or revoked enrolment secret; check the secret given at install time (--enroll-secret / CONSULTGUARD_ENROLL_SECRET)');
  }
  const token = newToken('cga');
  // A site's own secret puts the agent in that site, whatever the agent claims.
  agents.saveHello(stored?.site ? { ...hello, site: stored.site } : hello, hashToken(token));
  return { token, enrolled: true };
}
