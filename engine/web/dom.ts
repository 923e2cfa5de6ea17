/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The one DOM helper the widget and the console build their markup with. Text goes in through
// textContent only: user data (message content, names) never reaches innerHTML, so hostile content
// (HTML, script tags) renders as the characters it is.
type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>
export type Child = Node | string | null | undefined | false

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v)
    else if (k === 'text') el.textContent = String(v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c)
  return el
}

/** Replaces an element's text (never markup). */
export function text(el: Element, value: string): void {
  if (el.textContent !== value) el.textContent = value
}

/** "3 min", "1 h 5 min", "2 d" — how long ago, for waiting-since timers */
export function since(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - ms) / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const hrs = Math.floor(m / 60)
  if (hrs < 48) return `${hrs} h ${m % 60} min`
  return `${Math.floor(hrs / 24)} d`
}

export function clock(ms: number): string {
  const d = new Date(ms)
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
}
