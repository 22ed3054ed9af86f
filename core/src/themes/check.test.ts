import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTheme, RULES, type RuleCode } from './check.js';

const DEFAULT_THEME = fileURLToPath(new URL('../../../themes/default', import.meta.url));
const temp = mkdtempSync(path.join(tmpdir(), 'cardshop-theme-check-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A copy of the default theme to break. */
function copyTheme(): string {
  const dir = mkdtempSync(path.join(temp, 'theme-'));
  cpSync(DEFAULT_THEME, dir, { recursive: true });
  return dir;
}

/** Appends a line to a theme file and returns its line number. */
function appendLine(dir: string, file: string, line: string): number {
  const before = readFileSync(path.join(dir, file), 'utf8').replace(/\n?$/, '\n');
  writeFileSync(path.join(dir, file), `${before}${line}\n`);
  return before.split('\n').length;
}

function edit(dir: string, file: string, change: (text: string) => string): void {
  const full = path.join(dir, file);
  const before = readFileSync(full, 'utf8');
  const after = change(before);
  expect(after, `edit of ${file} changed nothing`).not.toBe(before);
  writeFileSync(full, after);
}

/** Adds a key at the end of a locale file and returns its line (line 1 is the opening brace). */
function addKey(dir: string, locale: string, key: string): number {
  const file = path.join(dir, 'locales', `${locale}.json`);
  const messages = { ...JSON.parse(readFileSync(file, 'utf8')), [key]: 'text' };
  writeFileSync(file, JSON.stringify(messages, null, 2));
  return Object.keys(messages).length + 1;
}

function findings(dir: string) {
  return checkTheme(dir, 'en').findings.map(({ rule, file, line }) => ({ rule, file, line }));
}

const only = (rule: RuleCode, file: string, line?: number) => [{ rule, file, line }];

describe('checkTheme', () => {
  it('passes the default theme', () => {
    const report = checkTheme(DEFAULT_THEME, 'en');
    expect(report.findings.filter((f) => f.level === 'error')).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('numbers every rule with a level and a description, as themes/README.md lists them', () => {
    const readme = readFileSync(path.join(DEFAULT_THEME, '../README.md'), 'utf8');
    for (const [code, rule] of Object.entries(RULES)) {
      expect(code).toMatch(/^THEME-\d{3}$/);
      expect(rule.description).not.toBe('');
      expect(readme).toContain(`| ${code} | ${rule.level} |`);
    }
  });

  it('THEME-001: package.json must declare a cardshop theme', () => {
    const dir = copyTheme();
    edit(dir, 'package.json', (t) => JSON.stringify({ ...JSON.parse(t), cardshop: undefined }));
    expect(findings(dir)).toEqual(only('THEME-001', 'package.json'));
    rmSync(path.join(dir, 'package.json'));
    expect(findings(dir)).toEqual(only('THEME-001', 'package.json'));
  });

  it('THEME-002: names a missing required template', () => {
    const dir = copyTheme();
    rmSync(path.join(dir, 'templates/query.hbs'));
    const report = checkTheme(dir, 'en');
    expect(report.ok).toBe(false);
    expect(findings(dir)).toEqual(only('THEME-002', 'templates/query.hbs'));
    expect(report.findings[0]!.message).toBe('required template "query" is missing');
  });

  it('THEME-003: the layout must exist and output {{{body}}}', () => {
    const dir = copyTheme();
    edit(dir, 'layouts/default.hbs', (t) => t.replace('{{{body}}}', '{{body}}'));
    expect(findings(dir)).toEqual(only('THEME-003', 'layouts/default.hbs'));
    rmSync(path.join(dir, 'layouts/default.hbs'));
    expect(findings(dir)).toEqual(only('THEME-003', 'layouts/default.hbs'));
  });

  it('THEME-004: reports a template that does not parse, with its line', () => {
    const dir = copyTheme();
    const line = appendLine(dir, 'templates/home.hbs', '<p>{{oops</p>');
    expect(findings(dir)).toEqual(only('THEME-004', 'templates/home.hbs', line));
    const dir2 = copyTheme();
    const open = appendLine(dir2, 'partials/status.hbs', '{{#if x}}');
    appendLine(dir2, 'partials/status.hbs', '{{/each}}');
    expect(findings(dir2)).toEqual(only('THEME-004', 'partials/status.hbs', open));
  });

  it('THEME-005: reports unknown helpers, in mustaches, blocks and subexpressions', () => {
    const dir = copyTheme();
    const a = appendLine(dir, 'templates/error.hbs', '<p>{{shout "hi"}}</p>');
    const b = appendLine(dir, 'templates/error.hbs', '{{#if (gt status 400)}}!{{/if}}');
    expect(findings(dir)).toEqual([
      { rule: 'THEME-005', file: 'templates/error.hbs', line: a },
      { rule: 'THEME-005', file: 'templates/error.hbs', line: b },
    ]);
  });

  it('THEME-006: reports unknown partials, but not inline ones', () => {
    const dir = copyTheme();
    const line = appendLine(dir, 'templates/category.hbs', '{{> missing-part}}');
    appendLine(dir, 'templates/category.hbs', '{{#*inline "local"}}x{{/inline}}{{> local}}');
    expect(findings(dir)).toEqual(only('THEME-006', 'templates/category.hbs', line));
  });

  it('THEME-007: a {{t}} key missing from zh-CN.json is an error', () => {
    const dir = copyTheme();
    const line = appendLine(dir, 'templates/query.hbs', '<p>{{t "query.brandNew"}}</p>');
    expect(findings(dir)).toEqual(only('THEME-007', 'templates/query.hbs', line));
  });

  it('THEME-008: a {{t}} key missing from en.json is a warning', () => {
    const dir = copyTheme();
    addKey(dir, 'zh-CN', 'query.brandNew');
    const line = appendLine(dir, 'templates/query.hbs', '<p>{{t "query.brandNew"}}</p>');
    expect(findings(dir)).toEqual(only('THEME-008', 'templates/query.hbs', line));
    expect(checkTheme(dir).ok).toBe(true);
  });

  it('THEME-009: recommends removing locale keys no template uses', () => {
    const dir = copyTheme();
    const line = addKey(dir, 'en', 'nobody.uses');
    expect(findings(dir)).toEqual(only('THEME-009', 'locales/en.json', line));
  });

  it('THEME-010: a locale file must be a JSON object of strings', () => {
    const dir = copyTheme();
    writeFileSync(path.join(dir, 'locales/en.json'), '{ "nav.home": ');
    expect(findings(dir)).toEqual(only('THEME-010', 'locales/en.json'));
    writeFileSync(path.join(dir, 'locales/en.json'), '{ "nav.home": 1 }');
    expect(findings(dir)).toEqual(only('THEME-010', 'locales/en.json'));
    rmSync(path.join(dir, 'locales/en.json'));
    expect(findings(dir)).toEqual(only('THEME-010', 'locales/en.json'));
  });

  it('THEME-011: local files in src and href must go through {{asset}}', () => {
    const dir = copyTheme();
    const line = appendLine(dir, 'templates/home.hbs', '<p><a href="/">x</a>\n  <img alt="" src="img/logo.png"></p>') + 1;
    appendLine(dir, 'templates/home.hbs', '<link rel="stylesheet" href="https://cdn.example.com/x.css"><img alt="" src="{{asset "logo.png"}}">');
    expect(findings(dir)).toEqual(only('THEME-011', 'templates/home.hbs', line));
  });

  it('THEME-012: warns of unescaped output other than the layout body', () => {
    const dir = copyTheme();
    const line = appendLine(dir, 'templates/product.hbs', '<div>{{{product.description}}}</div>');
    expect(findings(dir)).toEqual(only('THEME-012', 'templates/product.hbs', line));
  });

  it('THEME-013: a POST form needs the _csrf input, which may come from a partial', () => {
    const dir = copyTheme();
    edit(dir, 'templates/login.hbs', (t) => t.replace('  <input type="hidden" name="_csrf" value="{{csrf}}">\n', ''));
    expect(findings(dir)).toEqual(only('THEME-013', 'templates/login.hbs', 4));

    const fixed = copyTheme();
    writeFileSync(path.join(fixed, 'partials/csrf.hbs'), '<input type="hidden" name="_csrf" value="{{csrf}}">\n');
    edit(fixed, 'templates/login.hbs', (t) => t.replace('<input type="hidden" name="_csrf" value="{{csrf}}">', '{{> csrf}}'));
    expect(findings(fixed)).toEqual([]);
  });

  it('THEME-014: names a template that throws when rendered', () => {
    const dir = copyTheme();
    appendLine(dir, 'templates/error.hbs', '{{#with}}x{{/with}}');
    const report = checkTheme(dir, 'en');
    expect(findings(dir)).toEqual(only('THEME-014', 'templates/error.hbs'));
    expect(report.findings[0]!.message).toMatch(/template "error" fails to render \(zh-CN\): #with requires exactly one argument/);
  });

  it('THEME-015: finds the buyer in a cached template or a partial it includes, not in the layout or other templates', () => {
    const dir = copyTheme();
    const line = appendLine(dir, 'partials/product-card.hbs', '<span>{{@root.user.balance}}</span>');
    appendLine(dir, 'templates/product.hbs', '{{#if csrf}}x{{/if}}');
    appendLine(dir, 'templates/account.hbs', '{{user.email}}');
    expect(findings(dir)).toEqual([
      { rule: 'THEME-015', file: 'partials/product-card.hbs', line },
      { rule: 'THEME-015', file: 'templates/product.hbs', line: expect.any(Number) },
    ]);
  });

  it('speaks zh-CN by default', () => {
    const dir = copyTheme();
    rmSync(path.join(dir, 'templates/query.hbs'));
    expect(checkTheme(dir).findings[0]!.message).toBe('缺少必需的模板 "query"');
  });
});
