// Results model, the markdown table (with mcpproxy's ratios to the best peer and to the floor) and the JSON file.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { newCounts, recordError, type Counts } from './phases.ts';
import type { TargetName, Transport } from './peers.ts';

export type Column = 'direct' | TargetName;
export const COLUMNS: readonly Column[] = ['direct', 'floor', 'mcpproxy', 'supergateway', 'mcp-proxy'];
const PEERS: readonly Column[] = ['supergateway', 'mcp-proxy'];

export interface Cell {
  /** undefined: not measured (see note); NaN: measured but failed. */
  value?: number;
  note?: string;
  counts?: Counts;
}

export interface Figure {
  key: string;
  title: string;
  unit: string;
  better: 'lower' | 'higher';
  transport?: Transport;
  cells: Partial<Record<Column, Cell>>;
}

/** The table being filled: one Figure per (key, transport). */
export class Figures {
  readonly list: Figure[] = [];

  add(key: string, title: string, unit: string, better: Figure['better'], transport?: Transport): void {
    this.list.push({ key, title, unit, better, transport, cells: {} });
  }

  get(key: string, transport: Transport | undefined): Figure | undefined {
    return this.list.find((x) => x.key === key && x.transport === transport);
  }

  set(key: string, transport: Transport | undefined, col: Column, cell: Cell): void {
    const f = this.get(key, transport);
    if (f !== undefined) f.cells[col] = cell;
  }

  /** A phase threw: every row whose key `pick`s and whose mcpproxy cell is still empty gets the error. */
  failUnset(pick: (key: string) => boolean, what: string, err: unknown): void {
    const counts = newCounts();
    recordError(counts, what, err);
    for (const f of this.list) if (pick(f.key) && f.cells.mcpproxy === undefined) f.cells.mcpproxy = { value: NaN, counts };
  }

  /** Sets the same cell on the row of every transport (the direct baseline has none). */
  setAll(key: string, col: Column, cell: Cell): void {
    for (const f of this.list) if (f.key === key) f.cells[col] = cell;
  }
}

export interface Meta {
  mode: 'full' | 'quick';
  date: string;
  nproc: number;
  cpu: string;
  memGiB: number;
  node: string;
  openFilesLimit: number | undefined;
  /** 1-minute load average at the start: other work on the machine skews every figure. */
  loadAtStart: number;
  settings: Record<string, number | string>;
}

export function machineMeta(mode: Meta['mode'], settings: Meta['settings']): Meta {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch { /* not Linux */ }
  return {
    mode,
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    openFilesLimit: openFilesLimit(),
    loadAtStart: Number(os.loadavg()[0].toFixed(2)),
    settings,
  };
}

/** Soft RLIMIT_NOFILE of this process (children inherit it), from /proc/self/limits. */
export function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m === null) return undefined;
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return undefined;
  }
}

function isGood(cell: Cell | undefined): cell is Cell & { value: number } {
  return cell?.value !== undefined && Number.isFinite(cell.value);
}

function fmt(v: number): string {
  if (v >= 1000) return Math.round(v).toLocaleString('en-US');
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function problems(c: Counts | undefined): string {
  if (c === undefined) return '';
  const parts: string[] = [];
  if (c.wrong > 0) parts.push(`${c.wrong} wrong`);
  if (c.errors > 0) parts.push(`${c.errors} err`);
  if (c.strays > 0) parts.push(`${c.strays} stray`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function cellText(cell: Cell | undefined): string {
  if (cell === undefined) return '—';
  if (cell.value === undefined) return cell.note ?? 'n/a';
  const v = Number.isFinite(cell.value) ? fmt(cell.value) : 'failed';
  return `${v}${problems(cell.counts)}`;
}

/** mcpproxy relative to the best peer cell of the row, as "0.52× (better)". */
export function ratio(f: Figure): string {
  const mine = f.cells.mcpproxy;
  const peers = PEERS.map((p) => f.cells[p]).filter(isGood).map((c) => c.value);
  if (!isGood(mine) || peers.length === 0) return 'n/a';
  const best = f.better === 'lower' ? Math.min(...peers) : Math.max(...peers);
  if (best === 0) return 'n/a';
  const r = mine.value / best;
  const isBetter = f.better === 'lower' ? r < 1 : r > 1;
  return `${r.toFixed(2)}× (${r === 1 ? 'same' : isBetter ? 'better' : 'worse'})`;
}

/** mcpproxy ÷ the floor on rows where both were measured (lower is better for all of them). */
export function floorRatio(f: Figure): string {
  const mine = f.cells.mcpproxy;
  const floor = f.cells.floor;
  if (!isGood(mine) || !isGood(floor) || floor.value === 0 || f.better !== 'lower') return '';
  return `${(mine.value / floor.value).toFixed(2)}×`;
}

const TRANSPORT_LABEL: Record<Transport, string> = { sse: 'SSE', streamable: 'Streamable HTTP' };

export function renderMarkdown(figures: Figure[], meta: Meta, notes: string[]): string {
  const out: string[] = [];
  out.push(`Machine: ${meta.nproc} cores (${meta.cpu}), ${meta.memGiB} GiB, Node ${meta.node}, ` +
    `open-file limit ${meta.openFilesLimit ?? 'unknown'}; ${meta.mode} run, ${meta.date}, ` +
    `load average ${meta.loadAtStart} at start → ${os.loadavg()[0].toFixed(2)} at end.`);
  out.push(`Settings: ${Object.entries(meta.settings).map(([k, v]) => `${k}=${v}`).join(', ')}.`);
  out.push('');
  out.push(`| figure | transport | ${COLUMNS.join(' | ')} | mcpproxy vs best peer | mcpproxy vs floor |`);
  out.push(`|---|---|${COLUMNS.map(() => '---:').join('|')}|---|---|`);
  for (const f of figures) {
    const cells = COLUMNS.map((col) => cellText(f.cells[col]));
    const t = f.transport === undefined ? '' : TRANSPORT_LABEL[f.transport];
    out.push(`| ${f.title} (${f.unit}, ${f.better} is better) | ${t} | ${cells.join(' | ')} | ${ratio(f)} | ${floorRatio(f)} |`);
  }
  if (notes.length > 0) {
    out.push('');
    for (const n of notes) out.push(`- ${n}`);
  }
  return out.join('\n');
}

/** Problems worth reading in full: wrong replies, errors and strays, with their first examples. */
export function problemDetails(figures: Figure[]): string[] {
  const out: string[] = [];
  for (const f of figures) {
    for (const col of COLUMNS) {
      const c = f.cells[col]?.counts;
      if (c === undefined || (c.wrong === 0 && c.errors === 0 && c.strays === 0 && c.examples.length === 0)) continue;
      const where = `${col} ${f.transport ?? ''} ${f.title}`.replace(/\s+/g, ' ');
      out.push(`${where}: ok=${c.ok} wrong=${c.wrong} errors=${c.errors} strays=${c.strays}` +
        (c.examples.length > 0 ? `; e.g. ${c.examples.join(' | ')}` : ''));
    }
  }
  return out;
}

export function toJson(figures: Figure[], meta: Meta, notes: string[]): string {
  return JSON.stringify({ meta, notes, figures }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}
