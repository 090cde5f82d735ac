import { api, apiText, may } from './api.js';
import { confirmAction, date, download, h, table } from './dom.js';
import { withFreshCode } from './step-up.js';
import { failure, focusHeading, showForThisView } from './view.js';

interface Token {
  id: string;
  device: string;
  label: string;
  lot: string | null;
  state: string;
  expiresAt: string | null;
  usedFor: string | null;
}

/** Secrets for a production lot (or one device): made with a fresh code, saved as CSV at once, never shown again. */
function createForm(status: HTMLElement, reload: (lot?: string) => Promise<void>): HTMLElement {
  const lot = h('input', { name: 'lot', id: 'token-lot', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._-]{0,62}' });
  const count = h('input', { name: 'count', id: 'token-count', type: 'number', min: '1', max: '100000', value: '100', required: true });
  const label = h('input', { name: 'label', id: 'token-label', value: 'default' });
  const hours = h('input', { name: 'hours', id: 'token-hours', type: 'number', min: '1', max: '8760', value: '168' });
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'create-tokens',
      'aria-labelledby': 'create-tokens-title',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const body = { lot: lot.value.trim(), count: Number(count.value), label: label.value.trim() || undefined, expiresInHours: Number(hours.value) };
        let csv = '';
        const done = await withFreshCode(`Make ${body.count} one-time enrollment secrets for lot ${body.lot} (devices ${body.lot}-0001 …), valid ${body.expiresInHours} hours? They are shown once, as a CSV file to save now.`, status, async (headers) => {
          csv = await apiText('POST', '/api/v1/tokens', body, { ...headers, accept: 'text/csv' });
        });
        if (!done) return;
        const file = download(`${body.lot}-secrets.csv`, csv, 'text/csv', `Save ${body.lot}-secrets.csv again`, 'tokens-csv');
        const card = h(
          'section',
          { class: 'card once', 'data-testid': 'tokens-made' },
          h('h2', { tabindex: '-1' }, `${body.count} secrets for lot ${body.lot}`),
          h('p', {}, 'The CSV file (device, secret, id, label, expiresAt) is being saved. Hallmark keeps only their hashes: this page is the last place they are shown. ', file),
        );
        status.replaceChildren(card);
        file.click();
        focusHeading(card);
        await reload(body.lot);
      },
    },
    h('label', { for: 'token-lot' }, 'Lot', lot),
    h('label', { for: 'token-count' }, 'Devices', count),
    h('label', { for: 'token-label' }, 'EST label', label),
    h('label', { for: 'token-hours' }, 'Valid for (hours)', hours),
    h('button', { class: 'primary', type: 'submit' }, 'Make secrets…'),
  );
  return h('section', { class: 'card' }, h('h2', { id: 'create-tokens-title' }, 'Secrets for a production lot'), form);
}

/** One-time EST enrollment secrets: list by lot, device and state; make a lot's; revoke one or a lot's unused ones. */
export async function tokensView(): Promise<void> {
  const render = showForThisView();
  const status = h('div', { 'aria-live': 'polite' });
  const results = h('div', {});
  const lotFilter = h('input', { name: 'lot', id: 'filter-lot' });
  const deviceFilter = h('input', { name: 'device', id: 'filter-device' });
  const state = h('select', { name: 'status', id: 'filter-state' }, ...['', 'unused', 'used', 'expired', 'revoked'].map((s) => h('option', { value: s }, s || 'any')));
  const load = async (lot?: string) => {
    if (lot !== undefined) lotFilter.value = lot;
    const query = new URLSearchParams({ limit: '500' });
    if (lotFilter.value.trim()) query.set('lot', lotFilter.value.trim());
    if (deviceFilter.value.trim()) query.set('device', deviceFilter.value.trim());
    if (state.value) query.set('status', state.value);
    const { tokens } = await api<{ tokens: Token[] }>('GET', `/api/v1/tokens?${query}`);
    const shownLot = lotFilter.value.trim();
    const revokeLot =
      shownLot && tokens.some((t) => t.state === 'unused')
        ? h(
            'button',
            {
              class: 'danger',
              'data-testid': 'revoke-lot',
              onclick: async () => {
                if (!(await confirmAction(`Revoke every unused secret of lot ${shownLot}? Devices of that lot can no longer enroll with them.`))) return;
                try {
                  const { revoked } = await api<{ revoked: number }>('DELETE', `/api/v1/token-lots/${encodeURIComponent(shownLot)}`);
                  status.replaceChildren(h('p', { role: 'status', 'data-testid': 'lot-revoked' }, `${revoked} secret(s) of lot ${shownLot} revoked.`));
                  await load();
                } catch (e) {
                  status.replaceChildren(failure(e));
                }
              },
            },
            `Revoke lot ${shownLot}'s unused secrets…`,
          )
        : '';
    results.replaceChildren(
      table(
        ['device', 'lot', 'label', 'state', 'until', 'enrolled certificate', ''],
        tokens.map((t) => [
          t.device,
          t.lot ?? '—',
          t.label,
          h('span', { 'data-testid': `token-state-${t.device}` }, t.state),
          date(t.expiresAt),
          t.usedFor ?? '—',
          t.state === 'unused'
            ? h(
                'button',
                {
                  'aria-label': `Revoke the secret of ${t.device}`,
                  'data-testid': `revoke-token-${t.device}`,
                  onclick: async () => {
                    if (!(await confirmAction(`Revoke the unused secret of device ${t.device}?`))) return;
                    await api('DELETE', `/api/v1/tokens/${t.id}`).catch((e) => status.replaceChildren(failure(e)));
                    await load();
                  },
                },
                'Revoke…',
              )
            : '',
        ]),
        'tokens',
      ),
      h('p', { class: 'muted' }, `${tokens.length} secret(s)${tokens.length === 500 ? ' (the newest 500: narrow the filter)' : ''} `, revokeLot),
    );
  };
  const filter = h(
    'form',
    { class: 'inline', id: 'token-filter', onsubmit: (e: Event) => (e.preventDefault(), void load().catch((err) => results.replaceChildren(failure(err)))) },
    h('label', { for: 'filter-lot' }, 'Lot', lotFilter),
    h('label', { for: 'filter-device' }, 'Device', deviceFilter),
    h('label', { for: 'filter-state' }, 'State', state),
    h('button', { type: 'submit' }, 'Show'),
  );
  await load();
  render(h('section', { class: 'card' }, h('h2', { tabindex: '-1' }, 'Enrollment secrets'), filter, results), status, ...(may('token.manage') ? [createForm(status, load)] : []));
}
