// `Accept: text/csv`: a report's rows as CSV (RFC 4180): nested objects flatten to dotted columns
// (firstResponseTime.p90, csat.distribution.5), the header is the union of keys in first-seen order,
// null is an empty cell. Cells that a spreadsheet would run as a formula are prefixed with '.
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  const flat = rows.map((r) => flatten(r))
  const columns: string[] = []
  const seen = new Set<string>()
  for (const r of flat) for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), columns.push(k))
  const lines = [columns.map(cell).join(','), ...flat.map((r) => columns.map((c) => cell(r[c])).join(','))]
  return `${lines.join('\r\n')}\r\n`
}

function flatten(o: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix === '' ? k : `${prefix}.${k}`
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out)
    else out[key] = v
  }
  return out
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return ''
  let s = typeof v === 'string' ? v : Array.isArray(v) ? JSON.stringify(v) : String(v)
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}
