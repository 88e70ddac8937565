/**
 * Enrolment and per-agent tokens (CONTRACTS section 3, "Enrolment"). The enrolment secret
 * sits on every workstation, so it proves only "one of our installs": it enrols an agent id
 * the server has never seen, and nothing else. An id that holds a token, or was revoked,
 * comes back only with its own token; re-enrolling it takes an admin's `agent forget`.
 * Tokens are random, stored hashed, compared in constant time.
 */
import { AppError } from '../../shared/errors.js';
import type { Hello } from '../../shared/protocol.js';
import type { AgentStore } from '../store/types.js';
import { hashToken, newToken, safeEqual } from '../store/tokens.js';

export interface AuthResult {
  token: string;
  /** What the session keeps to notice a revoke or forget on every frame. */
  tokenHash: string;
  enrolled: boolean;
}

export interface SecretCheck {
  /** Secrets from config (no site). */
  configured: readonly string[];
  /** Secrets in the store: its id and site (null for none), or undefined if unknown/revoked. */
  lookup: (secret: string) => Promise<{ id: string; site: string | null } | undefined>;
  /** Most agents one secret may enrol (revoked ones count until forgotten). */
  enrollLimit: number;
}

export async function authenticate(hello: Hello, agents: AgentStore, secrets: SecretCheck): Promise<AuthResult> {
  const row = await agents.get(hello.agentId);
  if (hello.token) {
    const presented = hashToken(hello.token);
    if (row?.token_hash && safeEqual(row.token_hash, presented)) {
      await agents.reconnect(hello);
      return { token: hello.token, tokenHash: row.token_hash, enrolled: false };
    }
    // No fall-back to a secret sent alongside (older agents sent both) for a known id.
    if (row || !hello.enrollSecret) {
      throw new AppError('unauthorized', 'agent token not recognised (revoked, or issued to another agent); an administrator can run "consultguard-server agent forget ID" to let this agent enrol again');
    }
  }
  if (!hello.enrollSecret) {
    throw new AppError('unauthorized', 'hello needs a token or an enrolment secret');
  }
  const secret = hello.enrollSecret;
  const configured = secrets.configured.find((s) => safeEqual(s, secret));
  const stored = configured === undefined ? await secrets.lookup(secret) : undefined;
  if (configured === undefined && !stored) {
    throw new AppError('unauthorized', 'wrong or revoked enrolment secret; check the secret given at install time (--enroll-secret / CONSULTGUARD_ENROLL_SECRET)');
  }
  if (row) {
    // Checked after the secret so a stranger without it learns nothing about which ids exist.
    throw new AppError('unauthorized', row.revoked_at !== null
      ? 'this agent id was revoked; it may enrol again only after an administrator runs "consultguard-server agent forget ID"'
      : 'this agent id is already enrolled; connect with its own token, or an administrator runs "consultguard-server agent forget ID" to enrol it again');
  }
  const enrolledBy = stored ? stored.id : `config:${hashToken(secret).slice(0, 16)}`;
  if ((await agents.enrolledBy(enrolledBy)) >= secrets.enrollLimit) {
    throw new AppError('enrolment_limit', `this enrolment secret has enrolled its limit of ${secrets.enrollLimit} agents; an administrator creates a new one ("consultguard-server secret create") or raises --enroll-limit`);
  }
  const token = newToken('cga');
  const tokenHash = hashToken(token);
  // A site's own secret puts the agent in that site for good, whatever the agent claims.
  await agents.enrol(hello, { tokenHash, site: stored?.site ?? hello.site ?? null, sitePinned: Boolean(stored?.site), enrolledBy });
  return { token, tokenHash, enrolled: true };
}
