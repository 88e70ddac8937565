/**
 * Agent identity that sticks (issue 11): a revoked id stays revoked (`revoked_at`) until an
 * admin forgets it; a site set by a per-site secret is pinned (`site_pinned`) so the agent's
 * own claim cannot move it; `enrolled_by` names the secret that enrolled it (a stored
 * secret's id, or `config:` and a hash prefix of a configured one) to cap enrolments per
 * secret. Rows that lost their token before this migration were revoked (a token was only
 * ever cleared by a revoke), so they get the marker too. Existing sites stay unpinned:
 * which of them came from a site secret was not recorded.
 */
export const name = 'agent identity';
export const sql = `
ALTER TABLE agents ADD COLUMN revoked_at INTEGER;
ALTER TABLE agents ADD COLUMN site_pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN enrolled_by TEXT;
UPDATE agents SET revoked_at = COALESCE(last_seen, enrolled_at) WHERE token_hash IS NULL;
CREATE INDEX agents_enrolled_by ON agents(enrolled_by) WHERE enrolled_by IS NOT NULL;
`;
