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

/**
 * A high-impact action's confirmation: names what will happen and asks for a fresh authenticator code
 * (the server checks it, once). Resolves to the code, or undefined when cancelled.
 */
export async function confirmWithCode(text: string): Promise<string | undefined> {
  const code = h('input', { id: 'fresh-code', name: 'fresh-code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}', required: true, 'data-testid': 'fresh-code' });
  const field = h('label', { for: 'fresh-code' }, 'Authenticator code (a new one: high-impact action)');
  const ok = await confirmAction(text, h('div', {}, field, code));
  return ok ? code.value.trim() : undefined;
}

/** Offers text as a file to save (secrets shown once, a certificate); nothing leaves the page. */
export function download(name: string, text: string, type: string, label: string, testId?: string): HTMLAnchorElement {
  return h('a', { download: name, href: URL.createObjectURL(new Blob([text], { type })), ...(testId ? { 'data-testid': testId } : {}) }, label);
}

/** A modal confirmation naming exactly what will happen; resolves true only on Confirm. */
export function confirmAction(text: string, extra?: Node): Promise<boolean> {
  const dialog = document.getElementById('confirm') as HTMLDialogElement;
  document.getElementById('confirm-text')!.textContent = text;
  document.getElementById('confirm-extra')!.replaceChildren(...(extra ? [extra] : []));
  dialog.showModal();
  // Focus goes to the first field when there is one (the code), else stays on Cancel, the safe choice.
  (dialog.querySelector<HTMLElement>('#confirm-extra input') ?? document.getElementById('confirm-cancel'))?.focus();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}
