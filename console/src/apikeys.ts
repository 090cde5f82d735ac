import { api, currentUser } from './api.js';
import { date, h, table } from './dom.js';
import { withFreshCode } from './step-up.js';
import { failure, focusHeading, showForThisView } from './view.js';

interface ApiKey {
  id: string;
  role: string;
  label: string | null;
  scopes: string[] | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  state: string;
  apiKey?: string;
}

const ROLES = ['operator', 'read-only', 'station', 'device', 'admin'];

/** A new key: role, label, optional scopes (the caller's own permissions at most) and expiry; shown once. */
function createForm(status: HTMLElement, reload: () => Promise<void>): HTMLElement {
  const label = h('input', { name: 'label', id: 'key-label', required: true, maxlength: '128' });
  const role = h('select', { name: 'role', id: 'key-role' }, ...ROLES.map((r) => h('option', { value: r }, r)));
  const days = h('input', { name: 'days', id: 'key-days', type: 'number', min: '1', max: '3650', value: '90' });
  const scopes = h(
    'fieldset',
    { id: 'key-scopes' },
    h('legend', {}, 'Scopes (none ticked: everything the role allows)'),
    ...(currentUser()?.permissions ?? []).map((p) => h('label', {}, h('input', { type: 'checkbox', name: 'scope', value: p }), p)),
  );
  const form = h(
    'form',
    {
      id: 'create-key',
      'aria-labelledby': 'create-key-title',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const picked = [...scopes.querySelectorAll<HTMLInputElement>('input[name=scope]:checked')].map((c) => c.value);
        const body = { label: label.value.trim(), role: role.value, ...(picked.length ? { scopes: picked } : {}), ...(days.value ? { expiresInDays: Number(days.value) } : {}) };
        let made: ApiKey | undefined;
        const done = await withFreshCode(`Create API key "${body.label}" with role ${body.role}${picked.length ? `, limited to ${picked.join(', ')}` : ''}${days.value ? `, expiring in ${days.value} days` : ', never expiring'}?`, status, async (headers) => {
          made = await api<ApiKey>('POST', '/api/v1/apikeys', body, headers);
        });
        if (!done || !made) return;
        const card = h(
          'section',
          { class: 'card once', 'data-testid': 'key-made' },
          h('h2', { tabindex: '-1' }, `API key "${made.label}", shown once`),
          h('p', {}, h('code', { 'data-testid': 'new-api-key' }, made.apiKey ?? '')),
          h('p', { class: 'muted' }, 'Only its hash is kept: copy it now into the system that will use it (Authorization: Bearer …).'),
        );
        status.replaceChildren(card);
        focusHeading(card);
        await reload();
      },
    },
    h('p', { class: 'inline' }, h('label', { for: 'key-label' }, 'Label', label), ' ', h('label', { for: 'key-role' }, 'Role', role), ' ', h('label', { for: 'key-days' }, 'Expires in (days; empty: never)', days)),
    scopes,
    h('p', {}, h('button', { class: 'primary', type: 'submit' }, 'Create…')),
  );
  return h('section', { class: 'card' }, h('h2', { id: 'create-key-title' }, 'Create an API key'), form);
}

/** API keys (admins): never their secrets; create one (shown once) and revoke, each with a fresh code. */
export async function apiKeysView(): Promise<void> {
  const render = showForThisView();
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div', {});
  const load = async () => {
    const { apiKeys } = await api<{ apiKeys: ApiKey[] }>('GET', '/api/v1/apikeys');
    list.replaceChildren(
      table(
        ['label', 'role', 'scopes', 'state', 'expires', 'created by', ''],
        apiKeys.map((k) => [
          k.label ?? k.id,
          k.role,
          k.scopes?.join(', ') ?? 'all of the role',
          h('span', { 'data-testid': `key-state-${k.id}` }, k.state),
          date(k.expiresAt),
          k.createdBy,
          k.state === 'active'
            ? h(
                'button',
                {
                  class: 'danger',
                  'aria-label': `Revoke API key ${k.label ?? k.id}`,
                  'data-testid': `revoke-key-${k.id}`,
                  onclick: async () => {
                    if (!(await withFreshCode(`Revoke API key "${k.label ?? k.id}" (${k.role})? Whatever uses it is refused from now on.`, status, (headers) => api('DELETE', `/api/v1/apikeys/${k.id}`, undefined, headers)))) return;
                    await load().catch((e) => status.replaceChildren(failure(e)));
                  },
                },
                'Revoke…',
              )
            : '',
        ]),
        'apikeys',
      ),
    );
  };
  await load();
  render(h('section', { class: 'card' }, h('h2', { tabindex: '-1' }, 'API keys'), list), status, createForm(status, load));
}
