/**
 * How alerts and mailed reports name a clinician: the store's pseudonym (server/store/
 * people.ts), wired in server/main.ts, never the name, even where the dashboard shows names.
 */
export type PseudonymFor = (user: string | null) => string | null;
