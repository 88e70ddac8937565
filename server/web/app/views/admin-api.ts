/** The admin and policy routes the console's screens use (types from shared/api-types.ts). */
import type {
  AgentAssigned, ApiTokenCreated, ApiTokenList, AppNames, AuditList, EnrollSecretCreated, EnrollSecretList, PolicyOverview, UserList,
} from '../../../../shared/api-types.js';
import { request } from '../api.js';

const enc = encodeURIComponent;

export const adminApi = {
  secrets: (signal?: AbortSignal) => request<EnrollSecretList>('GET', '/api/enroll-secrets', { signal }),
  createSecret: (site: string | null) => request<EnrollSecretCreated>('POST', '/api/enroll-secrets', { body: { site } }),
  revokeSecret: (id: string) => request<unknown>('DELETE', `/api/enroll-secrets/${enc(id)}`),
  tokens: (signal?: AbortSignal) => request<ApiTokenList>('GET', '/api/tokens', { signal }),
  createToken: (role: string, name: string | null) => request<ApiTokenCreated>('POST', '/api/tokens', { body: { role, name } }),
  revokeToken: (id: string) => request<unknown>('DELETE', `/api/tokens/${enc(id)}`),
  users: (signal?: AbortSignal) => request<UserList>('GET', '/api/users', { signal }),
  saveUser: (name: string, role: string, password: string) => request<unknown>('POST', '/api/users', { body: { name, role, password } }),
  resetUser: (name: string, password: string) => request<unknown>('POST', `/api/users/${enc(name)}/reset`, { body: { password } }),
  disableUser: (name: string) => request<unknown>('POST', `/api/users/${enc(name)}/disable`),
  revokeAgent: (id: string) => request<unknown>('POST', `/api/agents/${enc(id)}/revoke`),
  forgetAgent: (id: string) => request<unknown>('POST', `/api/agents/${enc(id)}/forget`),
  assignAgent: (id: string, site: string | null, group: string | null) => request<AgentAssigned>('POST', `/api/agents/${enc(id)}/assign`, { body: { site, group } }),
  audit: (signal?: AbortSignal) => request<AuditList>('GET', '/api/audit?limit=1000', { signal }),
  policies: (signal?: AbortSignal) => request<PolicyOverview>('GET', '/api/policies', { signal }),
  apps: (signal?: AbortSignal) => request<AppNames>('GET', '/api/apps', { signal }),
};
