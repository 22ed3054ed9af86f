import type { Middleware } from 'koa';
import type { ShopRouter } from './context.js';

/**
 * Sends each request only through the routers that can answer its path, instead of through
 * every router in turn (each of which would test its routes' patterns and wrap the rest of the
 * chain): a router is filed under the first two segments of its prefix, or of each of its routes'
 * paths where it has no prefix, with `*` for a segment that is a parameter. Routers keep their
 * order, so whichever answered first before still answers first.
 */

type Key = string;
const WILD = '*';

/** The first two segments of a path pattern, a parameter or wildcard becoming `*`. */
function keyOf(pattern: string): [string, string] {
  // Router middleware (`router.use`) has no path of its own: it sees every request.
  if (!pattern.startsWith('/')) return [WILD, WILD];
  const [, a = '', b = ''] = pattern.split('/');
  const seg = (s: string) => (/^[\w.-]*$/.test(s) ? s : WILD);
  return [seg(a), pattern.split('/').length > 2 ? seg(b) : ''];
}

interface Filed {
  keys: Array<[string, string]>;
  chain: Middleware[];
}

type Chain = (ctx: Parameters<Middleware>[0], next: () => Promise<unknown>) => Promise<unknown>;

/** The middleware in order, then `next`. */
const compose = (list: Middleware[]): Chain => (ctx, next) => {
  const at = (i: number): Promise<unknown> => (i < list.length ? Promise.resolve(list[i]!(ctx, () => at(i + 1))) : next());
  return at(0);
};

const matches = ([a, b]: [string, string], [x, y]: [string, string]) => (a === WILD || a === x) && (b === WILD || b === y);

/** The dispatching middleware, with its routers (tests list every route from them). */
export type Dispatch = Middleware & { routers: ShopRouter[] };

export function dispatch(routers: ShopRouter[], opts: { allowedMethods?: boolean } = {}): Dispatch {
  const filed: Filed[] = routers.map((router) => {
    const prefix = (router as unknown as { opts: { prefix?: string } }).opts.prefix;
    const paths = prefix ? [`${prefix}/${prefix.split('/').length > 2 ? '' : WILD}`] : router.stack.map((l) => String(l.path));
    return { keys: paths.map(keyOf), chain: (opts.allowedMethods === false ? [router.routes()] : [router.routes(), router.allowedMethods()]) as Middleware[] };
  });
  const chains = new Map<Key, Chain>();
  const chainFor = (path: string): Chain => {
    const [a, b] = keyOf(path.replace(/[^\w./-]/g, '_'));
    const key = `${a}/${b}`;
    let chain = chains.get(key);
    if (!chain) {
      chain = compose(filed.filter((f) => f.keys.some((k) => matches(k, [a, b]))).flatMap((f) => f.chain));
      // Paths are the client's to choose: keep the table small.
      if (chains.size > 2_000) chains.clear();
      chains.set(key, chain);
    }
    return chain;
  };
  return Object.assign((ctx: Parameters<Middleware>[0], next: () => Promise<unknown>) => chainFor(ctx.path)(ctx, next), { routers });
}
