/** Elements from data, never from HTML strings: text goes in as text, so nothing a user typed runs. */
type Child = Node | string | number | null | undefined | false;
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else if (value !== false) el.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(typeof child === 'number' ? String(child) : child);
  return el;
}

export const date = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

export function table(headers: string[], rows: Child[][], testId?: string): HTMLTableElement {
  return h('table', testId ? { 'data-testid': testId } : {}, h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))));
}

/** A modal confirmation naming exactly what will happen; resolves true only on Confirm. */
export function confirmAction(text: string, extra?: Node): Promise<boolean> {
  const dialog = document.getElementById('confirm') as HTMLDialogElement;
  document.getElementById('confirm-text')!.textContent = text;
  document.getElementById('confirm-extra')!.replaceChildren(...(extra ? [extra] : []));
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}
