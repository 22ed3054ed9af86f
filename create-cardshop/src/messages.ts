/** What create-cardshop says, in zh-CN (the default) and en. */
export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

const zh = {
  'help': `create-cardshop：一条命令开一家卡盟

用法：npx create-cardshop [目录] [选项]

  --name <店名>               店铺名称
  --lang <zh-CN|en>           店铺语言（也是本工具的语言）
  --database <sqlite|URL>     sqlite（默认），或 mysql://用户:密码@主机:3306/库名（当场测试连接）
  --theme <default|wholesale> 主题
  --plugins <列表|none>       支付插件，逗号分隔：{plugins}
  --upstream-url <地址>       上游店铺地址：开一家代理分店，销售上游的商品（当场测试连接）
  --upstream-key <ck_…>       在上游店铺创建的 API 密钥
  --upstream-secret <cs_…>    该密钥的 secret（写入 .env）
  --markup <百分比>           在上游价格上加价的百分比（默认 10）
  --admin-email <邮箱>        管理员邮箱
  --admin-password <密码>     管理员密码（至少 8 位；不填则生成一个）
  --package-manager <npm|pnpm|yarn>  默认按启动方式识别
  --packages-from <目录>      从该目录的 pnpm pack 压缩包安装 @cardshop/*（也可设 CREATE_CARDSHOP_PACKAGES）
  --force                     目录不为空也写入
  -y, --yes                   不提问，未给出的选项用默认值（stdin 不是终端时也如此）
  -h, --help                  显示本帮助`,
  'intro': 'create-cardshop {version}：新建一家卡盟',
  'non_interactive': '（不提问：使用命令行选项和默认值，见 --help）',
  'q.dir': '项目目录',
  'q.name': '店铺名称',
  'q.lang': '店铺语言',
  'q.database': '数据库',
  'q.database.sqlite': 'SQLite（data/ 下的一个文件，无需安装）',
  'q.database.mysql': 'MySQL / MariaDB',
  'q.mysql_url': 'MySQL 地址（mysql://用户:密码@主机:3306/库名）',
  'q.theme': '主题',
  'q.plugins': '支付插件（序号或名称，逗号分隔；留空表示暂不需要）',
  'q.upstream_url': '上游店铺地址（开代理分店时填写，销售上游的商品；留空表示不需要）',
  'q.upstream_key': '在上游创建的 API 密钥（ck_…）',
  'q.upstream_secret': '该密钥的 secret（cs_…）',
  'q.markup': '在上游价格上加价（百分比）',
  'q.admin_email': '管理员邮箱',
  'q.admin_password': '管理员密码（至少 8 位；留空则生成一个）',
  'q.choose': '输入序号',
  'lang.zh-CN': '简体中文',
  'lang.en': 'English',
  'theme.default': 'default：面向买家的卡片式页面，手机优先',
  'theme.wholesale': 'wholesale：一张表列出所有规格，适合批发代理',
  'plugin.epay': '易支付（彩虹易支付 V1）',
  'plugin.alipay': '支付宝（当面付 / 电脑网站 / 手机网站）',
  'plugin.wechatpay': '微信支付（Native 扫码，API v3）',
  'plugin.stripe': 'Stripe（银行卡与钱包）',
  'checking_mysql': '正在测试连接 {url} …',
  'checking_upstream': '正在用这个密钥访问 {url} …',
  'upstream_ok': '  已连接：你在上游的余额为 {balance} {currency}',
  'err.usage': 'create-cardshop：{message}（见 --help）',
  'err.not_empty': '{dir} 不是空目录。请换一个目录，或加 --force 仍然写入。',
  'err.flag': '{flag} {message}',
  'err.lang': '只能是 zh-CN 或 en',
  'err.name': '不能为空，最多 80 个字符',
  'err.theme': '只能是 {list}',
  'err.plugins': '没有插件“{name}”；可选：{list}',
  'err.database': '只能是 sqlite，或 mysql://用户:密码@主机:3306/库名',
  'err.mysql': '无法连接 {url}：{reason}',
  'err.upstream_url': '必须是上游店铺的 http(s) 地址，例如 https://up.example.com',
  'err.upstream_key': '必须是上游店铺给出的 API 密钥，例如 ck_…',
  'err.upstream_secret': '必须是该密钥的 secret（cs_…，至少 8 个字符）',
  'err.markup': '必须是 0 到 1000 之间的百分比，例如 10 或 12.5',
  'err.upstream_needed': '需要同时给出 --upstream-url',
  'err.upstream_url_refused': '无法访问 {url} 的 Agent API：{reason}',
  'err.upstream_key_refused': '{url} 不认识这个密钥：{reason}',
  'err.upstream_secret_refused': '{url} 拒绝了签名，secret 不对：{reason}',
  'err.email': '不是有效的邮箱地址',
  'err.password': '至少 8 个字符，最多 200 个',
  'err.pm': '只能是 npm、pnpm 或 yarn',
  'err.packages_dir': '无法读取目录 {dir}',
  'err.packages_missing': '{dir} 里没有 {name} 的压缩包（用 pnpm pack 生成）',
  'err.packages_twice': '{dir} 里有多个 {name} 的压缩包：{files}',
  'err.aborted': '已取消，什么也没有写入。',
  'step.files': '写入项目文件',
  'step.install': '用 {pm} 安装依赖（sqlite3 可能需要从源码编译，约一两分钟）',
  'step.migrate': '创建数据库表',
  'step.admin': '创建管理员 {email}',
  'step.upstream': '导入上游 {url} 的商品（加价 {markup}%）',
  'step.done': '完成（{s} 秒）',
  'step.running': '已用 {s} 秒',
  'failed': '✗ {step}：失败',
  'failed.output': '输出的最后几行：',
  'failed.removed': '已删除 {dir}，没有留下半成品。',
  'failed.cleaned': '已删除写入 {dir} 的文件。',
  'failed.retry': '解决上面的问题后，再次运行同一条命令即可。',
  'hint.install': '请检查网络和 npm 源（npm config get registry）；没有合适的预编译包时，sqlite3 需要 python3、make 和 C++ 编译器。',
  'hint.database': '请检查数据库能否连接，以及 .env 中的 CARDSHOP_DATABASE。',
  'hint.upstream': '请检查上游店铺能否访问，以及密钥是否仍然有效。',
  'ready': '✓ 店铺已就绪：{dir}',
  'next': '下一步：',
  'next.cd': '  cd {dir}',
  'next.start': '  {cmd}                 启动，然后打开 http://127.0.0.1:3000',
  'next.demo': '  npx cardshop seed --demo      （可选）导入演示商品',
  'next.keys': '  npx cardshop keys import keys.txt --sku 规格编码   导入卡密',
  'next.admin': '管理员：{email}，登录后进入 http://127.0.0.1:3000/admin',
  'next.password': '管理员密码（自动生成，只显示这一次，请记下）：{password}',
  'next.payments': '支付：在 .env 中填写 {vars}，并设置 CARDSHOP_PUBLIC_URL，重启后生效。',
  'next.secret': '请备份 .env：卡密用其中的 CARDSHOP_SECRET 加密，丢失后无法恢复。',
  'next.upstream': '代理分店：销售 {url} 的商品，加价 {markup}%，每 10 分钟同步价格和库存。买家下单后本店用你在上游的余额进货，请保持余额充足；\n  设置 CARDSHOP_PUBLIC_URL 后上游会回调通知结果（否则本店定时查询）。',
};

const en: Record<keyof typeof zh, string> = {
  'help': `create-cardshop: a cardshop (卡盟) in one command

Usage: npx create-cardshop [dir] [options]

  --name <name>               shop name
  --lang <zh-CN|en>           the shop's language (and this tool's)
  --database <sqlite|URL>     sqlite (default) or mysql://user:password@host:3306/db (tested on the spot)
  --theme <default|wholesale> theme
  --plugins <list|none>       payment plugins, comma separated: {plugins}
  --upstream-url <url>        an upstream shop: a sub-agent shop selling its catalog (tested on the spot)
  --upstream-key <ck_…>       an API key made on the upstream shop
  --upstream-secret <cs_…>    that key's secret (written to .env)
  --markup <percent>          your markup over the upstream's prices (default 10)
  --admin-email <email>       the admin's e-mail
  --admin-password <password> the admin's password (8+ characters; generated when left out)
  --package-manager <npm|pnpm|yarn>  detected from how this was started
  --packages-from <dir>       install @cardshop/* from the pnpm pack tarballs in dir (or CREATE_CARDSHOP_PACKAGES)
  --force                     write into a folder that is not empty
  -y, --yes                   ask nothing; defaults for what is not given (also when stdin is not a terminal)
  -h, --help                  show this help`,
  'intro': 'create-cardshop {version}: a new card shop',
  'non_interactive': '(asking nothing: using the flags and defaults, see --help)',
  'q.dir': 'Project folder',
  'q.name': 'Shop name',
  'q.lang': 'Shop language',
  'q.database': 'Database',
  'q.database.sqlite': 'SQLite (a file in data/, nothing to set up)',
  'q.database.mysql': 'MySQL / MariaDB',
  'q.mysql_url': 'MySQL URL (mysql://user:password@host:3306/database)',
  'q.theme': 'Theme',
  'q.plugins': 'Payment plugins (numbers or names, comma separated; empty for none)',
  'q.upstream_url': "Upstream shop's address (for a sub-agent shop selling its catalog; empty for none)",
  'q.upstream_key': 'API key made on the upstream shop (ck_…)',
  'q.upstream_secret': "The key's secret (cs_…)",
  'q.markup': "Markup over the upstream's prices (percent)",
  'q.admin_email': 'Admin e-mail',
  'q.admin_password': 'Admin password (8+ characters; empty to generate one)',
  'q.choose': 'Number',
  'lang.zh-CN': '简体中文 (Chinese)',
  'lang.en': 'English',
  'theme.default': 'default: card-style pages for buyers, mobile first',
  'theme.wholesale': 'wholesale: one dense table of every SKU, for bulk buyers',
  'plugin.epay': 'epay (易支付, V1 / MD5)',
  'plugin.alipay': 'Alipay (QR, page and WAP pay)',
  'plugin.wechatpay': 'WeChat Pay (Native QR, API v3)',
  'plugin.stripe': 'Stripe (cards and wallets)',
  'checking_mysql': 'Testing the connection to {url} …',
  'checking_upstream': 'Trying the key at {url} …',
  'upstream_ok': '  Connected: your balance there is {balance} {currency}',
  'err.usage': 'create-cardshop: {message} (see --help)',
  'err.not_empty': '{dir} is not empty. Choose another folder, or add --force to write into it anyway.',
  'err.flag': '{flag} {message}',
  'err.lang': 'must be zh-CN or en',
  'err.name': 'must not be empty, at most 80 characters',
  'err.theme': 'must be one of {list}',
  'err.plugins': 'has no plugin "{name}"; choose from {list}',
  'err.database': 'must be sqlite or mysql://user:password@host:3306/database',
  'err.mysql': 'cannot connect to {url}: {reason}',
  'err.upstream_url': "must be the upstream shop's http(s) address, e.g. https://up.example.com",
  'err.upstream_key': 'must be an API key from the upstream shop, e.g. ck_…',
  'err.upstream_secret': "must be the key's secret (cs_…, 8+ characters)",
  'err.markup': 'must be a percentage from 0 to 1000, e.g. 10 or 12.5',
  'err.upstream_needed': 'needs --upstream-url too',
  'err.upstream_url_refused': "cannot reach the Agent API of {url}: {reason}",
  'err.upstream_key_refused': '{url} does not know this key: {reason}',
  'err.upstream_secret_refused': '{url} refused the signature, so the secret is wrong: {reason}',
  'err.email': 'is not an e-mail address',
  'err.password': 'must be 8 to 200 characters',
  'err.pm': 'must be npm, pnpm or yarn',
  'err.packages_dir': 'cannot read the folder {dir}',
  'err.packages_missing': 'no tarball of {name} in {dir} (make them with pnpm pack)',
  'err.packages_twice': 'several tarballs of {name} in {dir}: {files}',
  'err.aborted': 'Cancelled; nothing was written.',
  'step.files': 'Writing the project files',
  'step.install': 'Installing dependencies with {pm} (sqlite3 may compile from source: a minute or two)',
  'step.migrate': 'Creating the database tables',
  'step.admin': 'Creating the admin {email}',
  'step.upstream': 'Importing the catalog of {url} (+{markup}%)',
  'step.done': 'done in {s} s',
  'step.running': '{s} s',
  'failed': '✗ {step}: failed',
  'failed.output': 'The last lines of its output:',
  'failed.removed': '{dir} has been removed; nothing half-made is left behind.',
  'failed.cleaned': 'The files written into {dir} have been removed.',
  'failed.retry': 'Fix the problem above and run the same command again.',
  'hint.install': 'Check the network and the npm registry (npm config get registry); without a fitting prebuilt binary, sqlite3 needs python3, make and a C++ compiler.',
  'hint.database': 'Check that the database can be reached, and CARDSHOP_DATABASE in .env.',
  'hint.upstream': 'Check that the upstream shop can be reached and that the key is still valid.',
  'ready': '✓ Your shop is ready in {dir}',
  'next': 'Next steps:',
  'next.cd': '  cd {dir}',
  'next.start': '  {cmd}                 start it, then open http://127.0.0.1:3000',
  'next.demo': '  npx cardshop seed --demo      (optional) a demo catalog',
  'next.keys': '  npx cardshop keys import keys.txt --sku SKU-CODE   import card keys',
  'next.admin': 'Admin: {email}; after logging in, go to http://127.0.0.1:3000/admin',
  'next.password': 'Admin password (generated, shown only now: write it down): {password}',
  'next.payments': 'Payments: fill in {vars} in .env, set CARDSHOP_PUBLIC_URL, and restart.',
  'next.secret': 'Back up .env: the card keys are encrypted with its CARDSHOP_SECRET and cannot be read without it.',
  'next.upstream': "Sub-agent shop: sells the catalog of {url} at +{markup}%, prices and stock synced every 10 minutes. Each order is bought there\n  from your balance, so keep it topped up; with CARDSHOP_PUBLIC_URL set the upstream calls back with results (else they are polled).",
};

export type MessageKey = keyof typeof zh;
export type Translate = (key: MessageKey, params?: Record<string, unknown>) => string;

const CATALOG: Record<Locale, Record<MessageKey, string>> = { 'zh-CN': zh, en };

export const isLocale = (x: unknown): x is Locale => LOCALES.includes(x as Locale);

/** --lang, else CARDSHOP_LOCALE, else the terminal's language (en_* → en), else zh-CN. */
export function detectLocale(flag: string | undefined, env: NodeJS.ProcessEnv): Locale {
  if (isLocale(flag)) return flag;
  if (isLocale(env.CARDSHOP_LOCALE)) return env.CARDSHOP_LOCALE;
  const lang = (env.LC_ALL || env.LC_MESSAGES || env.LANG || '').toLowerCase();
  return lang.startsWith('en') ? 'en' : 'zh-CN';
}

export function translator(locale: Locale): Translate {
  return (key, params = {}) => CATALOG[locale][key].replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}
