import type { Config } from './config/config.js';
import type { Database } from './db/connect.js';
import type { Hooks } from './plugins/hooks.js';
import type { ShopKeys } from './security/keys.js';

export interface Logger {
  error(msg: string, extra?: unknown): void;
  warn(msg: string, extra?: unknown): void;
  info(msg: string, extra?: unknown): void;
  debug(msg: string, extra?: unknown): void;
}

/** What every domain function needs: passed in, never imported, so tests can build their own. */
export interface Deps {
  readonly db: Database;
  readonly keys: ShopKeys;
  readonly config: Config;
  readonly log: Logger;
  readonly hooks: Hooks;
  now(): number;
}

const LEVELS = ['silent', 'error', 'warn', 'info', 'debug'] as const;

export function createLogger(level: Config['logLevel']): Logger {
  const at = LEVELS.indexOf(level);
  const emit = (lvl: (typeof LEVELS)[number]) => (msg: string, extra?: unknown) => {
    if (LEVELS.indexOf(lvl) > at) return;
    const line = `${new Date().toISOString()} ${lvl.toUpperCase()} ${msg}`;
    (lvl === 'error' || lvl === 'warn' ? console.error : console.log)(extra === undefined ? line : line, extra ?? '');
  };
  return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') };
}
