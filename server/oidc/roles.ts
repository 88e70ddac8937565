/**
 * The role an identity provider's user gets, from the groups its ID token lists (pure).
 * Admin wins over lead; no mapped group is no role (the sign-in is refused).
 */
import type { Role } from '../store/tokens.js';

export interface RoleMapping {
  /** Claim name; dots reach into objects (Keycloak's `realm_access.roles`). */
  rolesClaim: string;
  adminGroups: string[];
  leadGroups: string[];
}

/** The claim's values as strings: an array of strings, or one string (some providers send a lone group so). */
export function groupsOf(claims: Record<string, unknown>, claim: string): string[] {
  let v: unknown = claim in claims ? claims[claim] : undefined;
  if (v === undefined && claim.includes('.')) {
    v = claim.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), claims);
  }
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((g): g is string => typeof g === 'string') : [];
}

export function roleFor(claims: Record<string, unknown>, m: RoleMapping): Role | null {
  const groups = new Set(groupsOf(claims, m.rolesClaim));
  if (m.adminGroups.some((g) => groups.has(g))) return 'admin';
  if (m.leadGroups.some((g) => groups.has(g))) return 'lead';
  return null;
}
