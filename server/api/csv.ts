/**
 * CSV (RFC 4180) with spreadsheet formula injection neutralised, written with backpressure.
 *
 * A cell starting with = + - @ (or a tab or CR, which some spreadsheets skip before
 * reading a formula) runs as a formula in Excel, LibreOffice and Google Sheets: it is
 * prefixed with a quote, which they show as text. A cell containing the separator is
 * quoted; that includes `;`, the separator Excel uses in locales with a decimal comma
 * (de, fr, nl...), where an unquoted `a;=cmd()` would split into a formula cell.
 */
import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';

export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : Array.isArray(value) ? value.join(' | ') : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",;\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/**
 * Writes lines page by page: waits for `drain` whenever the reply's buffer is full (a
 * client that reads slowly, or not at all, holds at most one buffer of ours), and gives
 * the event loop a turn between pages (a long export never starves agent acks). Stops
 * when the client goes away. `page()` answers the next lines, or null after the last page.
 */
export async function streamLines(res: ServerResponse, page: () => string[] | null | Promise<string[] | null>): Promise<'done' | 'closed'> {
  let closed = false;
  const onClose = () => (closed = true);
  res.on('close', onClose);
  res.on('error', onClose); // a reset socket ends the export quietly
  try {
    for (let lines = await page(); lines !== null; lines = await page()) {
      for (const line of lines) {
        if (closed) return 'closed';
        if (!res.write(line)) {
          await drainOrClose(res);
          if (closed || res.destroyed) return 'closed';
        }
      }
      await nextTurn();
      if (closed) return 'closed';
    }
    res.end();
    return 'done';
  } finally {
    res.off('close', onClose);
    res.off('error', onClose);
  }
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
