import { destroyCharts } from './charts.js';
import { h } from './dom.js';

const main = () => document.getElementById('main')!;

/** Replaces what the main area shows. */
export function show(...nodes: Node[]): void {
  destroyCharts();
  main().replaceChildren(...nodes);
}

/**
 * Bumped when a view is opened (or the sign-in form replaces everything). A view's data can arrive
 * after the operator has moved on; its render is then dropped, or it would replace the newer view.
 */
let navigation = 0;
export const openingView = () => ++navigation;
export const currentView = () => navigation;

/** `show` for the view being opened now: does nothing once another view has been opened since. */
export function showForThisView(): (...nodes: Node[]) => void {
  const mine = navigation;
  return (...nodes) => {
    if (mine === navigation) show(...nodes);
  };
}

export function failure(e: unknown): Node {
  return h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e));
}

/** Puts keyboard (and screen-reader) focus on the first heading inside `within`. */
export function focusFirstHeading(within: HTMLElement): void {
  const heading = within.querySelector<HTMLElement>('h2, h3');
  if (!heading) return;
  if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
  heading.focus();
}

/** Brings a card into view and focuses its heading. */
export function focusHeading(target: HTMLElement): void {
  target.scrollIntoView({ block: 'start' });
  focusFirstHeading(target);
}

/** Shows a message in a live region: screen readers announce it, sighted users see it. */
export const notice = (text: string, testId: string) => h('p', { role: 'status', 'data-testid': testId }, text);
