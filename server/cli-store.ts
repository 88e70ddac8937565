/**
 * The store for one admin command (admin-cli.ts, alerts/cli.ts): the one named by --data /
 * --database (or their environment variables), opened through the engine factory
 * (store/open.ts), closed when the command is done.
 */
import { dirname, resolve } from 'node:path';
import { resolveConfig, type OptionSpec } from '../shared/config.js';
import { ServerConfig } from './config.js';
import { databaseUrl, openStore } from './store/open.js';
import type { Store } from './store/types.js';

/** A `--database sqlite:PATH` without `--data` keeps its folder to itself. */
export function openCliStore(values: Record<string, unknown>, options: OptionSpec[]): Promise<Store> {
  const config = resolveConfig(ServerConfig, options, values, process.env);
  const file = config.database?.engine === 'sqlite' ? resolve(config.database.file) : undefined;
  const dataDir = file && values.data === undefined && !process.env.CONSULTGUARD_DATA_DIR ? dirname(file) : resolve(config.dataDir);
  return openStore({ url: databaseUrl(config.database), dataDir });
}

export async function withStore<T>(values: Record<string, unknown>, options: OptionSpec[], fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openCliStore(values, options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
