import { api, may } from './api.js';
import { download, h, table } from './dom.js';
import { withFreshCode } from './step-up.js';
import { failure, focusHeading, showForThisView } from './view.js';

interface Station {
  name: string;
  line: string;
  profiles: string[];
  quotaPerHour: number;
  lastHour: number;
  state: string;
}

interface AddedStation {
  name: string;
  line: string;
  apiKey: string;
  certificateSerial: string;
  certificate: string;
  privateKey: string;
}

/** The new station's credentials, shown once: the API key to copy, the certificate and key to save. */
function credentialsCard(s: AddedStation): HTMLElement {
  return h(
    'section',
    { class: 'card once', 'data-testid': 'station-credentials', 'aria-labelledby': 'station-credentials-title' },
    h('h2', { id: 'station-credentials-title', tabindex: '-1' }, `Station ${s.name} registered: its credentials, shown once`),
    h('p', {}, 'API key: ', h('code', { 'data-testid': 'station-api-key' }, s.apiKey)),
    h('p', { class: 'inline' }, download(`${s.name}.pem`, s.certificate, 'application/x-pem-file', 'Save the client certificate', 'station-cert'), ' ', download(`${s.name}.key`, s.privateKey, 'application/x-pem-file', 'Save the client key', 'station-key')),
    h('p', { class: 'muted' }, 'Hallmark keeps neither the key nor the API key: give them to the station now. Either authenticates it to POST /api/v1/factory/provision.'),
  );
}

function addForm(status: HTMLElement, reload: () => Promise<void>): HTMLElement {
  const name = h('input', { name: 'name', id: 'station-name', required: true, pattern: '[a-z0-9][a-z0-9-]{0,62}' });
  const line = h('input', { name: 'line', id: 'station-line', required: true });
  const profiles = h('input', { name: 'profiles', id: 'station-profiles', value: 'device' });
  const quota = h('input', { name: 'quota', id: 'station-quota', type: 'number', min: '1', value: '5000' });
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'add-station',
      'aria-labelledby': 'add-station-title',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const body = { name: name.value.trim(), line: line.value.trim(), profiles: profiles.value.split(',').map((p) => p.trim()).filter(Boolean), quotaPerHour: Number(quota.value) };
        let added: AddedStation | undefined;
        const done = await withFreshCode(`Register station ${body.name} on line ${body.line}? It gets an API key and a client certificate that can provision devices (${body.profiles.join(', ')}).`, status, async (headers) => {
          added = await api<AddedStation>('POST', '/api/v1/stations', body, headers);
        });
        if (!done || !added) return;
        await reload();
        const card = credentialsCard(added);
        status.replaceChildren(card);
        focusHeading(card);
      },
    },
    h('label', { for: 'station-name' }, 'Name', name),
    h('label', { for: 'station-line' }, 'Line', line),
    h('label', { for: 'station-profiles' }, 'Profiles (comma-separated)', profiles),
    h('label', { for: 'station-quota' }, 'Devices per hour', quota),
    h('button', { class: 'primary', type: 'submit' }, 'Register…'),
  );
  return h('section', { class: 'card' }, h('h2', { id: 'add-station-title' }, 'Register a station'), form);
}

/** Stations: their quota use; register one (credentials shown once) and disable one, for roles that may. */
export async function stationsView(): Promise<void> {
  const render = showForThisView();
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div', {});
  const load = async () => {
    const { stations } = await api<{ stations: Station[] }>('GET', '/api/v1/stations');
    list.replaceChildren(
      table(
        ['station', 'line', 'profiles', 'last hour / quota', 'state', ''],
        stations.map((s) => [
          s.name,
          s.line,
          s.profiles.join(', '),
          `${s.lastHour} / ${s.quotaPerHour}`,
          s.state,
          may('station.manage') && s.state === 'active'
            ? h(
                'button',
                {
                  class: 'danger',
                  'data-testid': `disable-${s.name}`,
                  'aria-label': `Disable station ${s.name}`,
                  onclick: async () => {
                    if (!(await withFreshCode(`Disable station ${s.name} on line ${s.line}? Its API key and certificate are revoked at once.`, status, (headers) => api('POST', `/api/v1/stations/${encodeURIComponent(s.name)}/disable`, undefined, headers)))) return;
                    status.replaceChildren(h('p', { role: 'status' }, `Station ${s.name} disabled.`));
                    await load().catch((e) => status.replaceChildren(failure(e)));
                  },
                },
                'Disable…',
              )
            : '',
        ]),
        'stations',
      ),
    );
  };
  await load();
  render(h('section', { class: 'card' }, h('h2', { tabindex: '-1' }, 'Stations'), list), status, ...(may('station.manage') ? [addForm(status, load)] : []));
}
