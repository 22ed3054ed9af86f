import type { PaymentRecord } from './source.js';

/** What an import did (or, dry, would do), per old table, and the payment settings to redo by hand. */
export interface TableReport {
  table: string;
  /** Rows in the old table. */
  total: number;
  /** Rows imported by this run (dry: that would be). */
  imported: number;
  /** Rows a previous run already brought over. */
  before: number;
  /** Rows left out, by reason (a text key). */
  skipped: Record<string, number>;
  /** Rows imported, but changed on the way (a text key). */
  notes: Record<string, number>;
}

export interface ImportReport {
  source: string;
  apply: boolean;
  tables: TableReport[];
  payments: PaymentRecord[];
  /** Rows read from the old shop, and how long it took. */
  rows: number;
  ms: number;
}

type Text = (key: string, params?: object) => string;

/** The report as an aligned text table, then the reasons and the payment steps, one a line. */
export function renderReport(report: ImportReport, text: Text): string[] {
  const head = [text('import.col.table'), text('import.col.total'), text(report.apply ? 'import.col.imported' : 'import.col.would'), text('import.col.before'), text('import.col.skipped')];
  const body = report.tables.map((t) => [t.table, t.total, t.imported, t.before, Object.values(t.skipped).reduce((s, n) => s + n, 0)].map(String));
  const widths = head.map((h, i) => Math.max(width(h), ...body.map((r) => width(r[i]!))));
  const line = (cells: string[]) => cells.map((c, i) => (i ? c.padStart(widths[i]! + c.length - width(c)) : c.padEnd(widths[i]! + c.length - width(c)))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  for (const t of report.tables) {
    for (const [reason, n] of Object.entries(t.skipped)) out.push(`  ${t.table}: ${text(reason)} × ${n}`);
    for (const [reason, n] of Object.entries(t.notes)) out.push(`  ${t.table}: ${text(reason)} × ${n}`);
  }
  if (report.payments.length) out.push('', text('import.payments'));
  for (const p of report.payments) {
    const what = p.plugin ? text('import.pay.plugin', { plugin: `@cardshop/plugin-payment-${p.plugin}` }) : text('import.pay.manual');
    out.push(`  ${p.name}${p.enabled ? '' : ` (${text('import.pay.off')})`}: ${what} — ${p.detail}`);
  }
  return out;
}

/** Columns a terminal gives a string: CJK characters take two. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}
