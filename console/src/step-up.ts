import { freshCodeHeader } from './api.js';
import { confirmWithCode } from './dom.js';
import { failure } from './view.js';

/**
 * A high-impact action: confirmed with a fresh authenticator code, which rides with the request. A
 * refusal (wrong or reused code, or the server's) is shown in `where`; true when the action ran.
 */
export async function withFreshCode(text: string, where: HTMLElement, act: (headers: Record<string, string>) => Promise<void>): Promise<boolean> {
  const code = await confirmWithCode(text);
  if (code === undefined) return false;
  try {
    await act(freshCodeHeader(code));
    return true;
  } catch (e) {
    where.replaceChildren(failure(e));
    return false;
  }
}
