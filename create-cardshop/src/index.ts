import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dependencies, projectFiles, SQLITE_URL, type Project } from './files.js';
import { detectLocale, translator, type Translate } from './messages.js';
import { collect, detectPackageManager, FLAGS, fromFlag, parsers, Stop, type Answers, type Flags } from './options.js';
import { PackagesError, PLUGINS, requireTarballs, tarballsIn, VERSION, versionRange } from './packages.js';
import { Aborted, Prompter } from './prompt.js';
import { exec, interrupt, runSteps, type Step } from './steps.js';

const say = (line = '') => process.stdout.write(`${line}\n`);

/**
 * The child processes see the shop's own settings only: a CARDSHOP_DATABASE left in the caller's
 * shell must not point the new shop's migrations at another database.
 */
function shopEnv(p: Project, locale: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CARDSHOP_')));
  return { ...env, CARDSHOP_LOCALE: locale, CARDSHOP_SECRET: p.secret, ...(p.database !== SQLITE_URL && { CARDSHOP_DATABASE: p.database }) };
}

/** The installed core's `cardshop` command, run with node (no shell, no PATH lookup). */
function cardshopBin(dir: string): string {
  const pkgFile = createRequire(path.join(dir, 'package.json')).resolve('@cardshop/core/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { bin: Record<string, string> };
  return path.join(path.dirname(pkgFile), pkg.bin.cardshop!);
}

function steps(p: Project, a: Answers, t: Translate, uiLocale: string): Step[] {
  const env = shopEnv(p, uiLocale);
  const cardshop = (...args: string[]) => exec(process.execPath, [cardshopBin(p.dir), ...args], { cwd: p.dir, env });
  return [
    {
      title: t('step.files'),
      async run() {
        for (const [file, content] of Object.entries(projectFiles(p))) {
          mkdirSync(path.dirname(path.join(p.dir, file)), { recursive: true });
          writeFileSync(path.join(p.dir, file), content, file === '.env' ? { mode: 0o600 } : {});
        }
      },
    },
    {
      title: t('step.install', { pm: p.packageManager }),
      hint: t('hint.install'),
      run: () => exec(p.packageManager, p.packageManager === 'npm' ? ['install', '--no-audit', '--no-fund'] : ['install'], { cwd: p.dir, env: process.env }),
    },
    { title: t('step.migrate'), hint: t('hint.database'), run: () => cardshop('migrate') },
    {
      title: t('step.admin', { email: a.adminEmail }),
      hint: t('hint.database'),
      run: () => cardshop('user', 'create', '--email', a.adminEmail, '--password', a.adminPassword, '--role', 'admin'),
    },
    // The first `start` then opens with the upstream's catalog on sale, not a minute later.
    ...(a.upstream ? [{ title: t('step.upstream', { url: a.upstream.url, markup: a.upstream.markup }), hint: t('hint.upstream'), run: () => cardshop('supplier', 'sync') }] : []),
  ];
}

function nextSteps(p: Project, a: Answers, t: Translate): void {
  const rel = path.relative(process.cwd(), p.dir) || '.';
  say();
  say(t('ready', { dir: rel }));
  say();
  say(t('next'));
  if (rel !== '.') say(t('next.cd', { dir: rel.includes(' ') ? `"${rel}"` : rel }));
  say(t('next.start', { cmd: `${p.packageManager} start`.padEnd(12) }));
  say(t('next.demo'));
  say(t('next.keys'));
  say();
  say(t('next.admin', { email: a.adminEmail }));
  if (a.passwordGenerated) say(t('next.password', { password: a.adminPassword }));
  const vars = p.plugins.flatMap((id) => Object.values(PLUGINS[id].settings));
  if (vars.length) say(t('next.payments', { vars: vars.join(', ') }));
  if (a.upstream) say(t('next.upstream', { url: a.upstream.url, markup: a.upstream.markup }));
  say(t('next.secret'));
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (err) {
    const t = translator(detectLocale(undefined, process.env));
    throw new Stop(t('err.usage', { message: (err as Error).message.split(/\.\s/)[0] }), 2);
  }
  const flags = parsed.values as Flags;
  const uiLocale = detectLocale(flags.lang, process.env);
  const t = translator(uiLocale);
  if (flags.help) {
    say(t('help', { plugins: Object.keys(PLUGINS).join(', ') }));
    return 0;
  }
  if (parsed.positionals.length > 1) throw new Stop(t('err.usage', { message: `unexpected argument ${parsed.positionals[1]}` }), 2);

  // Questions only on a terminal: in CI or a pipe nobody could answer, so the defaults are taken.
  const interactive = !flags.yes && process.stdin.isTTY === true && process.stdout.isTTY === true;
  say(t('intro', { version: VERSION }) + (interactive ? '' : ` ${t('non_interactive')}`));
  const prompter = interactive ? new Prompter(process.stdin, process.stdout, t('q.choose')) : undefined;
  let answers: Answers;
  try {
    answers = await collect(flags, parsed.positionals[0], t, uiLocale, prompter, say);
  } catch (err) {
    throw err instanceof Aborted ? new Stop(`\n${t('err.aborted')}`, 130) : err;
  } finally {
    prompter?.close();
  }

  const packageManager = await fromFlag('package-manager', flags['package-manager'] ?? detectPackageManager(process.env), parsers(t).packageManager, t);
  const from = flags['packages-from'] ?? process.env.CREATE_CARDSHOP_PACKAGES;
  let tarballs: Map<string, string> | undefined;
  if (from) {
    try {
      tarballs = tarballsIn(path.resolve(from));
      requireTarballs(tarballs, dependencies(answers), from);
    } catch (err) {
      if (err instanceof PackagesError) throw new Stop(t(err.key, err.params));
      throw err;
    }
  }
  const project: Project = {
    ...answers,
    packageManager,
    secret: randomBytes(32).toString('hex'),
    tarballs,
    source: (name) => (tarballs ? `file:${tarballs.get(name)}` : versionRange(name)),
  };

  // Whatever fails from here, the folder is left as it was found: removed if it was made here.
  const existed = existsSync(project.dir);
  const before = new Set(existed ? readdirSync(project.dir) : []);
  // Ctrl+C (or a kill) stops the running command; its step then fails and the folder is cleaned up.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    interrupt();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runSteps(steps(project, answers, t, uiLocale), t, process.stdout);
  } catch (err) {
    const e = err as Error & { step?: Step; output?: string };
    process.stderr.write(`\n${t('failed', { step: e.step?.title ?? '' })}\n${e.message}\n`);
    if (e.output) process.stderr.write(`\n${t('failed.output')}\n${e.output}\n\n`);
    if (e.step?.hint && !interrupted) process.stderr.write(`${e.step.hint}\n`);
    if (!existed) rmSync(project.dir, { recursive: true, force: true });
    else for (const entry of readdirSync(project.dir)) if (!before.has(entry)) rmSync(path.join(project.dir, entry), { recursive: true, force: true });
    process.stderr.write(`${t(existed ? 'failed.cleaned' : 'failed.removed', { dir: project.dir })}\n${interrupted ? '' : `${t('failed.retry')}\n`}`);
    return interrupted ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  nextSteps(project, answers, t);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof Stop) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = err.code;
    } else {
      process.stderr.write(`create-cardshop: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
