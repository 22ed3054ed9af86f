import path from 'node:path';
import type { Locale } from './messages.js';
import { CORE, PLUGINS, THEMES, UPSTREAM, type PluginId, type ThemeId } from './packages.js';
import type { Upstream } from './upstream.js';

export type PackageManager = 'npm' | 'pnpm' | 'yarn';

export const SQLITE_URL = 'sqlite:./data/shop.db';

export interface Project {
  dir: string;
  name: string;
  lang: Locale;
  /** SQLITE_URL or a mysql:// URL (kept in .env: it carries a password). */
  database: string;
  theme: ThemeId;
  plugins: PluginId[];
  upstream?: Upstream;
  packageManager: PackageManager;
  secret: string;
  /** Version range (or file: tarball) of each @cardshop package. */
  source(name: string): string;
  /** Local tarballs by package name, when installing from them (--packages-from). */
  tarballs?: Map<string, string>;
}

/** The @cardshop packages the shop depends on directly. */
export function dependencies(p: Pick<Project, 'theme' | 'plugins' | 'upstream'>): string[] {
  return [CORE, THEMES[p.theme], ...p.plugins.map((id) => PLUGINS[id].package), ...(p.upstream ? [UPSTREAM.package] : [])];
}

/** An npm package name from the folder's name: lowercase, safe characters only. */
export function packageName(dir: string): string {
  const name = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|[-]+$/g, '');
  return name || 'my-cardshop';
}

function packageJson(p: Project): string {
  const deps = Object.fromEntries(dependencies(p).map((name) => [name, p.source(name)]));
  const pkg: Record<string, unknown> = {
    name: packageName(p.dir),
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: { start: 'cardshop start', migrate: 'cardshop migrate' },
    dependencies: deps,
    engines: { node: '>=20.17' },
  };
  // With local tarballs, the packages' own @cardshop dependencies must resolve to them too.
  const overrides = p.tarballs && Object.fromEntries([...p.tarballs].map(([name, file]) => [name, `file:${file}`]));
  if (p.packageManager === 'npm' && overrides) pkg.overrides = overrides;
  if (p.packageManager === 'yarn' && overrides) pkg.resolutions = overrides;
  if (p.packageManager === 'pnpm') pkg.pnpm = { onlyBuiltDependencies: ['sqlite3'], ...(overrides && { overrides }) };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function pluginEntry(id: PluginId): string {
  const { package: pkg, settings } = PLUGINS[id];
  const vars = Object.values(settings);
  const args = Object.entries(settings)
    .map(([key, env]) => `${key}: env.${env}!`)
    .join(', ');
  return [
    `    // ${pkg}: switched on once ${vars.join(', ')} are set in .env.`,
    `    ...(filled(${vars.map((v) => `'${v}'`).join(', ')}) ? [${id}({ ${args} })] : []),`,
  ].join('\n');
}

function upstreamEntry(u: Upstream): string {
  return [
    `    // ${UPSTREAM.package}: this shop buys what it sells from ${u.url} with this API key, paid from`,
    `    // its balance there. The catalog is imported at +${u.markup}% and kept in sync every 10 minutes; the key's secret is in .env.`,
    `    upstream({ url: ${JSON.stringify(u.url)}, key: ${JSON.stringify(u.key)}, secret: process.env.${UPSTREAM.secret}!, import: { markupPercent: ${u.markup} } }),`,
  ].join('\n');
}

function configTs(p: Project): string {
  const imports = [
    `import { defineConfig } from '${CORE}';`,
    ...(p.upstream ? [`import upstream from '${UPSTREAM.package}';`] : []),
    ...p.plugins.map((id) => `import ${id} from '${PLUGINS[id].package}';`),
  ];
  const entries = [...(p.upstream ? [upstreamEntry(p.upstream)] : []), ...p.plugins.map(pluginEntry)];
  const database =
    p.database === SQLITE_URL
      ? `  // SQLite file, relative to this folder. For MySQL/MariaDB set CARDSHOP_DATABASE in .env instead.\n  database: '${SQLITE_URL}',`
      : `  // The database is CARDSHOP_DATABASE in .env (the URL holds a password).`;
  const plugins = p.plugins.length
    ? [
        '',
        '// Payment settings are secrets: they come from .env, and a plugin stays off until they are all there.',
        'const env = process.env;',
        'const filled = (...names: string[]) => names.every((name) => env[name]);',
      ]
    : [];
  return `${imports.join('\n')}
${plugins.join('\n')}

// The settings of this shop. Every key can also be set by an environment variable (CARDSHOP_*,
// PORT), which wins; \`cardshop\` reads .env in this folder first. Secrets belong in .env only.
// Every key is listed in the README of @cardshop/core (node_modules/@cardshop/core/README.md).
export default defineConfig({
  shop: {
    name: ${JSON.stringify(p.name)},
    // Page language when the buyer has not chosen one: 'zh-CN' or 'en'.
    locale: '${p.lang}',
    // 'CNY', 'USD' or 'EUR'; prices are kept in the currency's minor unit (fen, cents).
    currency: 'CNY',
  },
${database}
  // Where to listen. Behind nginx or a CDN, also set trustProxy: true.
  host: '127.0.0.1',
  port: 3000,
  // The address buyers use; payment gateways send their notifies to <publicUrl>/pay/<gateway>/notify.
  // publicUrl: 'https://shop.example.com',
  // An installed theme package or a folder. Files under themes/<package>/ here override single
  // templates, partials, assets and texts of the theme: see themes/README.md.
  theme: '${THEMES[p.theme]}',
  plugins: [${entries.length ? `\n${entries.join('\n')}\n  ` : ''}],
});
`;
}

/** A value for .env, quoted when it holds anything but plain URL characters. */
function envValue(v: string): string {
  if (/^[\w.:/@%+=?&,~-]*$/.test(v)) return v;
  return v.includes("'") ? `"${v}"` : `'${v}'`;
}

function dotEnv(p: Project): string {
  const zh = p.lang === 'zh-CN';
  const lines = zh
    ? [
        '# 本店的密钥。不要提交到 git（已在 .gitignore 中），并另存一份备份：',
        '# 卡密和会话都用 CARDSHOP_SECRET 加密，丢失后无法恢复。',
      ]
    : [
        "# This shop's secrets. Never commit this file (it is in .gitignore), and keep a copy somewhere safe:",
        '# card keys and sessions are encrypted with CARDSHOP_SECRET, and cannot be read without it.',
      ];
  lines.push(`CARDSHOP_SECRET=${p.secret}`);
  if (p.database !== SQLITE_URL) lines.push(`CARDSHOP_DATABASE=${envValue(p.database)}`);
  if (p.upstream) lines.push('', zh ? `# 上游店铺 ${p.upstream.url} 的 API 密钥 ${p.upstream.key} 的 secret` : `# The secret of the API key ${p.upstream.key} at the upstream shop ${p.upstream.url}`, `${UPSTREAM.secret}=${envValue(p.upstream.secret)}`);
  lines.push('', zh ? '# 买家访问的地址（支付网关回调需要）' : '# The address buyers use (payment gateways call back to it)', '# CARDSHOP_PUBLIC_URL=https://shop.example.com');
  for (const id of p.plugins) {
    lines.push('', `# ${PLUGINS[id].package} (${zh ? '全部填写后启用' : 'on once all are filled in'})`);
    for (const v of Object.values(PLUGINS[id].settings)) lines.push(`${v}=`);
  }
  return `${lines.join('\n')}\n`;
}

const GITIGNORE = `node_modules/
data/
.env
*.db
*.db-wal
*.db-shm
`;

function readme(p: Project): string {
  const run = p.packageManager === 'npm' ? 'npm start' : `${p.packageManager} start`;
  const theme = THEMES[p.theme];
  const payments = p.plugins.map((id) => `- ${PLUGINS[id].package}: ${Object.values(PLUGINS[id].settings).join(', ')}`).join('\n');
  if (p.lang === 'zh-CN') {
    return `# ${p.name}

用 [cardshop](https://www.npmjs.com/package/@cardshop/core) 搭建的卡盟，由 create-cardshop 生成。

\`\`\`sh
${run}                                  # 启动：http://127.0.0.1:3000，后台 /admin
npx cardshop keys import keys.txt --sku 规格编码   # 导入卡密（每行一个，或 卡号,密码；或 CSV）
npx cardshop user create --email a@b.com --password '…' --role admin
npx cardshop ledger verify                 # 按流水核对所有余额
npx cardshop seed --demo                   # 可选：演示商品
\`\`\`

- \`cardshop.config.ts\`：店名、语言、数据库、端口、主题、插件；\`CARDSHOP_*\` 环境变量优先。
- \`.env\`：密钥（CARDSHOP_SECRET${p.database === SQLITE_URL ? '' : '、CARDSHOP_DATABASE'}、支付参数）。不要提交，务必备份。
- \`data/\`：SQLite 数据库${p.database === SQLITE_URL ? '' : '（本店使用 MySQL，未用到）'}。备份时连同 \`.env\` 一起。
- \`themes/\`：覆盖主题 ${theme} 的单个模板、片段、资源或文案，见 \`themes/README.md\`。
${p.upstream ? `\n代理分店：商品来自上游 ${p.upstream.url}，售价为上游价格加 ${p.upstream.markup}%，每 10 分钟同步一次（立即同步：\`npx cardshop supplier sync\`）。买家付款后本店用你在上游的余额进货，请保持余额充足；设置 CARDSHOP_PUBLIC_URL 后上游会回调通知发货结果。\n` : ''}${payments ? `\n支付插件在 \`.env\` 中填齐以下参数并设置 CARDSHOP_PUBLIC_URL 后启用：\n\n${payments}\n` : ''}
升级：\`${p.packageManager === 'yarn' ? 'yarn upgrade' : `${p.packageManager} update`}\`，然后重启（启动时自动迁移数据库）。
`;
  }
  return `# ${p.name}

A card shop on [cardshop](https://www.npmjs.com/package/@cardshop/core), made by create-cardshop.

\`\`\`sh
${run}                                  # http://127.0.0.1:3000, admin at /admin
npx cardshop keys import keys.txt --sku SKU-CODE   # card keys: one per line, or card,password; or a CSV
npx cardshop user create --email a@b.com --password '…' --role admin
npx cardshop ledger verify                 # recompute every balance from the journal
npx cardshop seed --demo                   # optional: a demo catalog
\`\`\`

- \`cardshop.config.ts\`: name, language, database, port, theme, plugins; \`CARDSHOP_*\` environment variables win.
- \`.env\`: the secrets (CARDSHOP_SECRET${p.database === SQLITE_URL ? '' : ', CARDSHOP_DATABASE'}, payment keys). Never commit it; back it up.
- \`data/\`: the SQLite database${p.database === SQLITE_URL ? '' : ' (unused: this shop runs on MySQL)'}. Back it up together with \`.env\`.
- \`themes/\`: override single templates, partials, assets or texts of ${theme}; see \`themes/README.md\`.
${p.upstream ? `\nA sub-agent shop: the catalog comes from the upstream ${p.upstream.url}, priced at its price +${p.upstream.markup}% and synced every 10 minutes (now: \`npx cardshop supplier sync\`). Each paid order is bought there from your balance, so keep it topped up; with CARDSHOP_PUBLIC_URL set, the upstream calls back with the result.\n` : ''}${payments ? `\nA payment plugin switches on once these are filled in in \`.env\` and CARDSHOP_PUBLIC_URL is set:\n\n${payments}\n` : ''}
Upgrading: \`${p.packageManager === 'yarn' ? 'yarn upgrade' : `${p.packageManager} update`}\`, then restart (the database is migrated at start).
`;
}

function themesReadme(p: Project): string {
  const theme = THEMES[p.theme];
  if (p.lang === 'zh-CN') {
    return `# 主题覆盖

把文件放在 \`themes/${theme}/\` 下、与主题中相同的路径，即可替换主题的单个文件，无需复制整个主题：

\`\`\`
themes/${theme}/templates/home.hbs        替换首页模板
themes/${theme}/partials/<名称>.hbs       替换一个片段
themes/${theme}/locales/zh-CN.json        {"nav.home": "首页"}：按键合并文案
themes/${theme}/assets/logo.svg           新增或替换资源
\`\`\`

原文件在 \`node_modules/${theme}/\`。启动时主题与覆盖一起检查，出错会指出规则、文件和行号；
也可以先运行 \`npx cardshop theme check node_modules/${theme}\`。模板收到的数据和可用 helper 见 @cardshop/core 的主题文档。
`;
  }
  return `# Theme overrides

Put a file under \`themes/${theme}/\`, at the same path as in the theme, to replace that one file
without copying the whole theme:

\`\`\`
themes/${theme}/templates/home.hbs        replaces the home page
themes/${theme}/partials/<name>.hbs       replaces one partial
themes/${theme}/locales/en.json           {"nav.home": "Home"}: merged key by key
themes/${theme}/assets/logo.svg           adds or replaces an asset
\`\`\`

The originals are in \`node_modules/${theme}/\`. The theme and its overrides are checked together at
start; a mistake names the rule, file and line. The data each template receives and the helpers are
documented with the themes of @cardshop/core.
`;
}

/** Every file of a new shop, by path relative to its folder. */
export function projectFiles(p: Project): Record<string, string> {
  return {
    'package.json': packageJson(p),
    'cardshop.config.ts': configTs(p),
    '.env': dotEnv(p),
    '.gitignore': GITIGNORE,
    'README.md': readme(p),
    'themes/README.md': themesReadme(p),
    // Yarn 2+ would install without node_modules, which the cardshop command needs for plugins and themes.
    ...(p.packageManager === 'yarn' && { '.yarnrc.yml': 'nodeLinker: node-modules\n' }),
  };
}
