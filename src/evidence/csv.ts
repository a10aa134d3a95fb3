/**
 * CSV as RFC 4180 writes it, so the file opens in a spreadsheet as it is: fields separated by
 * commas, records by CRLF, a field quoted when it holds a comma, a quote, CR or LF (quotes
 * doubled inside). A field that starts with `=`, `+`, `-` or `@` is prefixed with `'` so a
 * spreadsheet shows it instead of running it as a formula (notes and host ids come from CI and
 * the fleet; OWASP's CSV-injection advice).
 */

function field(value: string | number | null | undefined): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): string {
  return [header, ...rows].map((r) => `${r.map(field).join(',')}\r\n`).join('');
}
