/**
 * Apps by the names people know (Zoom, WhatsApp, FaceTime), from the server's catalog
 * (`GET /api/apps`), loaded once per sign-in. An id the catalog does not know (an app
 * since removed from it) shows as the id itself.
 */
import type { AppNames } from '../../../../shared/api-types.js';
import { request } from '../api.js';

let names = new Map<string, string>();
let loaded: Promise<void> | null = null;

export function appLabel(id: string): string {
  return names.get(id) ?? id;
}

/** Loads the names once; a failure leaves ids showing (the page still works) and is retried at the next sign-in. */
export function loadAppNames(signal?: AbortSignal): Promise<void> {
  loaded ??= request<AppNames>('GET', '/api/apps', { signal })
    .then((r) => {
      names = new Map(r.items.map((a) => [a.id, a.name]));
    })
    .catch(() => {
      loaded = null;
    });
  return loaded;
}
