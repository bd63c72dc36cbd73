/** The field matrix's table: install way × mode × client era, ready time and each operation, errors as footnotes. */
import { OPERATIONS } from './field-operations.ts';

export type Cell = { ok: true } | { ok: false; error: string };

export interface MatrixRow {
  way: string;
  mode: string;
  era: string;
  /** ms from spawn to /readyz 200. */
  readyMs: number | undefined;
  /** ms from spawn to this era's client connected (its handshake, or discover, answered). */
  connectedMs: number | undefined;
  note?: string | undefined;
  cells: Record<string, Cell>;
}

/** Markdown, so the integrator can paste it; each distinct error once, numbered. */
export function printMatrix(rows: MatrixRow[]): void {
  const errors: string[] = [];
  const mark = (cell: Cell | undefined): string => {
    if (cell === undefined) return '—';
    if (cell.ok) return 'ok';
    const at = errors.indexOf(cell.error);
    return `FAIL[${(at < 0 ? errors.push(cell.error) : at + 1)}]`;
  };
  const head = ['install way', 'mode', 'client era', 'ready ms', 'connected ms', ...OPERATIONS, 'note'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  const order = (row: MatrixRow): string => `${row.way}\u0000${row.mode}`;
  for (const row of [...rows].sort((a, b) => order(a).localeCompare(order(b)))) {
    lines.push(`| ${[row.way, row.mode, row.era, row.readyMs === undefined ? 'never' : String(row.readyMs), row.connectedMs === undefined ? 'never' : String(row.connectedMs), ...OPERATIONS.map((op) => mark(row.cells[op])), row.note ?? ''].join(' | ')} |`);
  }
  const passed = rows.reduce((n, row) => n + Object.values(row.cells).filter((c) => c.ok).length, 0);
  const total = rows.reduce((n, row) => n + Object.values(row.cells).length, 0);
  process.stdout.write(`\nFIELD MATRIX (${passed} of ${total} operations pass)\n${lines.join('\n')}\n${errors.map((e, i) => `[${i + 1}] ${e}`).join('\n')}\n`);
}
