/** The URL with its password hidden, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Whether `url` names a MySQL database: mysql://user:password@host:port/database. */
export function isMysqlUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'mysql:' && !!u.hostname && u.pathname.length > 1;
  } catch {
    return false;
  }
}

/**
 * Connects to the database now, so a typo is caught while the question can still be asked again.
 * Returns why it failed, or undefined when it works.
 */
export async function mysqlProblem(url: string): Promise<string | undefined> {
  const u = new URL(url);
  u.search = ''; // the core's own options (?pool=20) mean nothing to the driver
  const mysql = await import('mysql2/promise');
  try {
    const conn = await mysql.createConnection({ uri: u.toString(), connectTimeout: 5000 });
    try {
      await conn.query('SELECT 1');
    } finally {
      await conn.end();
    }
    return undefined;
  } catch (err) {
    const e = err as { message?: string; code?: string };
    return e.message || e.code || String(err);
  }
}
