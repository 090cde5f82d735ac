import { api, ApiError, currentUser, may, setUser, type Me } from './api.js';
import { confirmAction, date, download, h, table } from './dom.js';
import { renderCharts, type ChartData } from './charts.js';
import { currentView, failure, focusFirstHeading, focusHeading, openingView, show, showForThisView } from './view.js';
import { stationsView } from './stations.js';
import { tokensView } from './tokens.js';
import { releasesView } from './releases.js';
import { apiKeysView } from './apikeys.js';
import { operatorsView } from './operators.js';

const REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn'];

// ---- sign-in, idle timeout, sign-out -------------------------------------------------------------

let idleTimer: number | undefined;
function armIdleTimer(): void {
  const me = currentUser();
  if (!me) return;
  window.clearTimeout(idleTimer);
  idleTimer = window.setTimeout(() => void signOut('signed out after inactivity'), me.idleTimeoutSeconds * 1000);
}
for (const event of ['click', 'keydown']) document.addEventListener(event, armIdleTimer);

// "Skip to content" moves focus to the main area (its href is not a route: the hash belongs to the router).
document.querySelector('a.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main')!.focus();
});

function signedIn(me: Me, moveFocus = false): void {
  setUser(me);
  document.getElementById('nav')!.hidden = false;
  // Sections the role cannot use are not offered (the API refuses them regardless).
  for (const a of document.querySelectorAll<HTMLElement>('nav a[data-permission]')) a.hidden = !may(a.dataset.permission!);
  document.getElementById('who')!.replaceChildren(`${me.name} (${me.role}) `, h('button', { id: 'sign-out', onclick: () => void signOut() }, 'Sign out'));
  armIdleTimer();
  void route(moveFocus);
}

async function signOut(message?: string): Promise<void> {
  await api('DELETE', '/console/session').catch(() => undefined);
  setUser(undefined);
  window.clearTimeout(idleTimer);
  document.getElementById('nav')!.hidden = true;
  document.getElementById('who')!.replaceChildren();
  signInView(message);
}

function signInView(message?: string): void {
  openingView();
  const error = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const name = h('input', { name: 'name', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const totp = h('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}', required: true });
  const form = h(
    'form',
    {
      id: 'sign-in',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          // The form is gone: focus goes to the first view's heading, not back to the top of the page.
          signedIn(await api<Me>('POST', '/console/session', { name: name.value, password: password.value, totp: totp.value }), true);
        } catch (err) {
          error.textContent = err instanceof ApiError && err.status === 401 ? 'Name, password or code not accepted.' : (err as Error).message;
        }
      },
    },
    h('label', {}, 'Operator', name),
    h('label', {}, 'Password', password),
    h('label', {}, 'Authenticator code', totp),
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
    error,
  );
  show(h('section', { class: 'card signin' }, h('h2', {}, 'Sign in'), form));
}

// ---- overview ------------------------------------------------------------------------------------

interface Overview {
  now: string;
  cas: { name: string; family: string; isRoot: boolean; subject: string; notBefore: string; notAfter: string }[];
  responders: { issuer: string; serial: string; notAfter: string | null }[];
  tls: { serial: string; notAfter: string | null } | null;
  crls: { issuer: string; number: string | null; thisUpdate: string | null; nextUpdate: string | null; entries: number | null; ageSeconds: number | null }[];
  hsm: { token: string; reachable: boolean; detail: string };
  counts: { activeCertificates: number; expiringIn30Days: number; selfRenewingExpiringIn30Days: number; revokedCertificates: number; factoryDevices: number; stations: number };
  alerts: { at: string; target: string; severity: 'info' | 'warning' | 'critical'; advice: string; details: { message?: string } | null }[];
}

/** The numbers an operator looks at first. */
function headline(c: Overview['counts']): HTMLElement {
  const figure = (value: number, label: string, testId: string, state = '') => h('div', { class: `figure ${state}`, 'data-testid': testId }, h('strong', {}, String(value)), h('span', {}, label));
  return h(
    'section',
    { class: 'card headline', 'aria-label': 'Headline counts' },
    figure(c.activeCertificates, 'active certificates', 'count-active'),
    figure(c.expiringIn30Days, 'expiring within 30 days (yours to renew)', 'count-expiring', c.expiringIn30Days ? 'state-warn' : ''),
    figure(c.revokedCertificates, 'revoked', 'count-revoked'),
    figure(c.factoryDevices, 'factory devices', 'count-devices'),
    figure(c.stations, 'active stations', 'count-stations'),
  );
}

function validityBar(from: string, to: string, now: string): HTMLElement {
  const start = Date.parse(from);
  const end = Date.parse(to);
  const elapsed = Math.max(0, Math.min(1, (Date.parse(now) - start) / (end - start)));
  // The bar is the life left: full for a new CA, emptying towards its end.
  const bar = h('span', { class: elapsed > 0.8 ? 'late' : '' });
  bar.style.width = `${((1 - elapsed) * 100).toFixed(1)}%`; // CSSOM, allowed under style-src 'self'
  return h('div', { class: 'bar', role: 'img', 'aria-label': `${Math.round((1 - elapsed) * 100)}% of its life left`, title: `${Math.round((1 - elapsed) * 100)}% of its life left` }, bar);
}

const daysLeft = (iso: string | null, now: string) => (iso ? `${Math.floor((Date.parse(iso) - Date.parse(now)) / 86_400_000)} days` : '—');

async function overviewView(): Promise<void> {
  const render = showForThisView();
  const [o, charts] = await Promise.all([api<Overview>('GET', '/api/v1/overview'), api<ChartData>('GET', '/api/v1/charts')]);
  render(
    headline(o.counts),
    h(
      'div',
      { class: 'grid' },
      h('section', { class: 'card', 'data-testid': 'hierarchy' }, h('h2', {}, 'CA hierarchy'), table(['CA', 'validity', 'until'], [...o.cas].sort((a, b) => Number(b.isRoot) - Number(a.isRoot)).map((ca) => [h('span', { title: ca.subject }, `${ca.isRoot ? '' : '└ '}${ca.name}`), validityBar(ca.notBefore, ca.notAfter, o.now), date(ca.notAfter)]))),
      h(
        'section',
        { class: 'card', 'data-testid': 'health' },
        h('h2', {}, 'Signers and revocation'),
        table(
          ['what', 'state'],
          [
            ['HSM token', h('span', { class: o.hsm.reachable ? 'state-ok' : 'state-bad' }, `${o.hsm.token}: ${o.hsm.reachable ? 'reachable' : 'unreachable'} — ${o.hsm.detail}`)],
            ['TLS certificate', o.tls ? `expires in ${daysLeft(o.tls.notAfter, o.now)}` : 'none'],
            ...o.responders.map((r) => [`OCSP signer (${r.issuer})`, `expires in ${daysLeft(r.notAfter, o.now)}`] as (string | Node)[]),
            ...o.crls.map((c) => [`CRL ${c.issuer}`, c.number === null ? h('span', { class: 'state-warn' }, 'not yet generated') : `#${c.number}, ${c.entries} entries, ${Math.round((c.ageSeconds ?? 0) / 60)} min old, next update ${date(c.nextUpdate)}`] as (string | Node)[]),
          ],
        ),
      ),
      h(
        'section',
        { class: 'card', 'data-testid': 'alerts' },
        h('h2', {}, 'Alerts, last 24 hours'),
        o.alerts.length
          ? table(['at', 'severity', 'rule', 'message', 'what to do'], o.alerts.map((a) => [date(a.at), h('span', { class: a.severity === 'critical' ? 'state-bad' : a.severity === 'warning' ? 'state-warn' : '' }, a.severity), a.target, a.details?.message ?? '', a.advice]), 'alert-list')
          : h('p', { class: 'muted' }, 'None.'),
      ),
    ),
    renderCharts(charts),
  );
}

// ---- certificates and devices --------------------------------------------------------------------

interface Device {
  serial: string;
  via: string;
  state: string;
  line: string | null;
  lot: string | null;
  model: string | null;
  station: string | null;
  provisionedAt: string | null;
  certificates: number;
  certificate: { serial: string; status: string; notAfter: string; revocationReason: string | null } | null;
}
interface Certificate {
  serial: string;
  status: string;
  identity: string | null;
  profile: string;
  issuer: string;
  notAfter: string;
  revocationReason: string | null;
  certificate: string | null;
  decoded: Record<string, unknown> | null;
}

async function certificateDetails(serial: string, deviceName: string, target: HTMLElement): Promise<void> {
  const cert = await api<Certificate>('GET', `/api/v1/certificates/${encodeURIComponent(serial)}`);
  const pem = download(`${cert.identity ?? cert.serial}.pem`, cert.certificate ?? '', 'application/x-pem-file', 'Download PEM');
  const reason = h('select', { name: 'reason', id: 'revoke-reason', 'data-testid': 'revoke-reason' }, ...REASONS.map((r) => h('option', { value: r }, r)));
  const revoke =
    may('cert.revoke') && cert.status === 'active'
      ? h(
          'button',
          {
            class: 'danger',
            'data-testid': 'revoke',
            onclick: async () => {
              if (!(await confirmAction(`Revoke the certificate of device ${deviceName} (serial ${cert.serial}) for reason "${reason.value}"? Relying parties will refuse it.`))) return;
              try {
                await api('POST', `/api/v1/certificates/${cert.serial}/revoke`, { reason: reason.value });
                await certificateDetails(serial, deviceName, target);
              } catch (e) {
                target.append(failure(e));
              }
            },
          },
          'Revoke…',
        )
      : null;
  target.replaceChildren(
    h('h2', { tabindex: '-1' }, `Certificate ${cert.serial}`),
    h('p', { 'data-testid': 'certificate-status' }, `Status: ${cert.status}${cert.revocationReason ? ` (${cert.revocationReason})` : ''}`),
    table(['field', 'value'], Object.entries(cert.decoded ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]), 'decoded'),
    h('p', {}, pem),
    revoke ? h('div', { class: 'inline' }, h('label', { for: 'revoke-reason' }, 'Revocation reason'), reason, ' ', revoke) : h('p', { class: 'muted' }, cert.status === 'active' ? 'Your role cannot revoke.' : ''),
  );
  // The card is below the results: bring it into view, and focus its heading for keyboard users.
  focusHeading(target);
}

interface DeviceDetails extends Device {
  lastSeen: { ocsp: string | null; renewal: string | null };
  reprovisionAllowed: boolean | null;
  history: { serial: string; status: string; profile: string; issuedAt: string | null; notAfter: string | null; requestedBy: string; revocationReason: string | null; supersededBy: string | null }[];
  records: { at: string; station: string; line: string; lot: string; firmwareVersion: string; certificateSerial: string }[];
}

/** One device: how it enrolled, its certificates as a timeline (newest first), and what an operator may do. */
async function deviceDetails(serial: string, target: HTMLElement): Promise<void> {
  const d = await api<DeviceDetails>('GET', `/api/v1/devices/${encodeURIComponent(serial)}`);
  const current = d.history.find((c) => c.status === 'active');
  const actions: Node[] = [];
  if (current && may('cert.issue')) {
    actions.push(
      h(
        'button',
        {
          'data-testid': 'allow-renewal',
          onclick: async () => {
            if (!(await confirmAction(`Let device ${d.serial} renew its certificate ${current.serial} now, before its renewal window opens (once)?`))) return;
            try {
              await api('POST', `/api/v1/certificates/${current.serial}/allow-renewal`);
              target.append(h('p', { 'data-testid': 'renewal-allowed', role: 'status' }, `Device ${d.serial} may renew now.`));
            } catch (e) {
              target.append(failure(e));
            }
          },
        },
        'Allow renewal now…',
      ),
    );
  }
  if (d.via === 'factory' && !d.reprovisionAllowed && may('station.manage')) {
    actions.push(
      h(
        'button',
        {
          class: 'danger',
          'data-testid': 'allow-reprovision',
          onclick: async () => {
            if (!(await confirmAction(`Let a station provision device ${d.serial} once more? Its current identity will be revoked (superseded) when that happens.`))) return;
            try {
              await api('POST', `/api/v1/devices/${encodeURIComponent(d.serial)}/reprovision`);
              await deviceDetails(serial, target);
            } catch (e) {
              target.append(failure(e));
            }
          },
        },
        'Allow re-provisioning…',
      ),
    );
  }
  target.replaceChildren(
    h('h2', { tabindex: '-1' }, `Device ${d.serial}`),
    table(
      ['field', 'value'],
      [
        ['enrolled', d.via],
        ['state', d.state],
        ['line / lot / model', [d.line, d.lot, d.model].map((v) => v ?? '—').join(' / ')],
        ['since', date(d.provisionedAt)],
        ['last seen', d.lastSeen.ocsp || d.lastSeen.renewal ? [d.lastSeen.ocsp ? `OCSP ${date(d.lastSeen.ocsp)}` : '', d.lastSeen.renewal ? `renewed ${date(d.lastSeen.renewal)}` : ''].filter(Boolean).join('; ') : 'not yet (no OCSP question, no renewal)'],
        ['re-provisioning', d.reprovisionAllowed === null ? '—' : d.reprovisionAllowed ? 'allowed (next provisioning replaces the identity)' : 'not allowed'],
      ],
      'device-summary',
    ),
    h('h3', {}, 'Certificates, newest first'),
    table(
      ['issued', 'serial', 'status', 'until', 'requested by', ''],
      d.history.map((c) => [date(c.issuedAt), c.serial, `${c.status}${c.revocationReason ? ` (${c.revocationReason})` : ''}${c.supersededBy ? ', renewed' : ''}`, date(c.notAfter), c.requestedBy, h('button', { 'aria-label': `Certificate ${c.serial}`, onclick: () => void certificateDetails(c.serial, d.serial, target).catch((e) => target.append(failure(e))) }, 'Certificate')]),
      'device-history',
    ),
    d.records.length ? h('h3', {}, 'Manufacturing records') : '',
    d.records.length ? table(['at', 'station', 'line', 'lot', 'firmware', 'certificate'], d.records.map((r) => [date(r.at), r.station, r.line, r.lot, r.firmwareVersion, r.certificateSerial]), 'device-records') : '',
    actions.length ? h('p', { class: 'inline' }, ...actions) : h('p', { class: 'muted' }, 'Nothing your role can change here.'),
  );
  focusHeading(target);
}

async function certificatesView(): Promise<void> {
  const results = h('div', {});
  const details = h('section', { class: 'card', id: 'details' }, h('p', { class: 'muted' }, 'Pick a device or certificate.'));
  const field = (name: string, label: string) => h('label', {}, label, h('input', { name }));
  const status = h('select', { name: 'certificateStatus' }, h('option', { value: '' }, 'any'), h('option', { value: 'active' }, 'active'), h('option', { value: 'expired' }, 'expired'), h('option', { value: 'revoked' }, 'revoked'));
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'search',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const data = new FormData(form);
        const certSerial = String(data.get('certificate') ?? '').trim();
        try {
          if (certSerial) {
            results.replaceChildren();
            return void (await certificateDetails(certSerial, certSerial, details));
          }
          const query = new URLSearchParams();
          for (const key of ['serial', 'lot', 'line', 'certificateStatus']) if (data.get(key)) query.set(key, String(data.get(key)));
          query.set('limit', String(data.get('pageSize') ?? '100'));
          const rows: Device[] = [];
          // A page at a time (keyset paging: `next` is the last id shown); "More" asks for the next.
          const page = async (after?: string) => {
            if (after) query.set('after', after);
            const { devices, next } = await api<{ devices: Device[]; next?: string }>('GET', `/api/v1/devices?${query}`);
            rows.push(...devices);
            const more = next ? h('button', { 'data-testid': 'more-devices', onclick: () => void page(next).catch((err) => results.append(failure(err))) }, 'More') : '';
            results.replaceChildren(
              table(
                ['device', 'enrolled', 'line', 'lot', 'since', 'certificate', ''],
                rows.map((d) => [
                  d.serial,
                  d.via,
                  d.line ?? '—',
                  d.lot ?? '—',
                  d.provisionedAt ? date(d.provisionedAt) : '—',
                  d.certificate ? `${d.certificate.status}${d.certificate.revocationReason ? ` (${d.certificate.revocationReason})` : ''}` : '—',
                  h(
                    'span',
                    { class: 'inline' },
                    h('button', { 'data-testid': `device-${d.serial}`, 'aria-label': `Device page of ${d.serial}`, onclick: () => void deviceDetails(d.serial, details).catch((err) => details.replaceChildren(failure(err))) }, 'Device'),
                    d.certificate ? h('button', { 'data-testid': `open-${d.serial}`, 'aria-label': `Certificate of ${d.serial}`, onclick: () => void certificateDetails(d.certificate!.serial, d.serial, details).catch((err) => details.replaceChildren(failure(err))) }, 'Details') : '',
                  ),
                ]),
                'devices',
              ),
              h('p', { class: 'muted' }, `${rows.length} device(s)${next ? ', more follow' : ''}`, ' ', more),
            );
          };
          await page();
        } catch (err) {
          results.replaceChildren(failure(err));
        }
      },
    },
    field('serial', 'Device id (prefix)'),
    field('lot', 'Lot'),
    field('line', 'Line'),
    h('label', {}, 'Certificate status', status),
    h('label', {}, 'Per page', h('select', { name: 'pageSize' }, ...['10', '100', '500'].map((n) => h('option', n === '100' ? { value: n, selected: true } : { value: n }, n)))),
    field('certificate', 'or certificate serial'),
    h('button', { class: 'primary', type: 'submit' }, 'Search'),
  );
  show(h('section', { class: 'card' }, h('h2', {}, 'Certificates and devices'), form, results), details);
}

// ---- enrollments held for approval ---------------------------------------------------------------

interface EnrollmentRequest {
  id: string;
  label: string;
  device: string;
  subject: string;
  status: string;
  requestedAt: string;
  decidedBy: string | null;
}

/** Enrollments on labels with manual approval (RFC 7030 §4.2.3): approve or reject the pending ones. */
async function enrollmentsView(): Promise<void> {
  const render = showForThisView();
  const { enrollments } = await api<{ enrollments: EnrollmentRequest[] }>('GET', '/api/v1/enrollments');
  const decide = (e: EnrollmentRequest, verdict: 'approve' | 'reject') =>
    h(
      'button',
      {
        class: verdict === 'reject' ? 'danger' : 'primary',
        'data-testid': `${verdict}-${e.id}`,
        'aria-label': `${verdict === 'approve' ? 'Approve' : 'Reject'} the enrollment of ${e.device}`,
        onclick: async () => {
          if (!(await confirmAction(`${verdict === 'approve' ? 'Approve' : 'Reject'} the enrollment of device ${e.device} (${e.subject}) on label ${e.label}?`))) return;
          await api('POST', `/api/v1/enrollments/${e.id}/${verdict}`, {}).catch((err) => document.getElementById('main')!.append(failure(err)));
          await enrollmentsView();
        },
      },
      verdict === 'approve' ? 'Approve…' : 'Reject…',
    );
  render(
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Enrollments held for approval'),
      enrollments.length
        ? table(
            ['device', 'label', 'subject', 'requested', 'state', ''],
            enrollments.map((e) => [
              e.device,
              e.label,
              e.subject,
              date(e.requestedAt),
              h('span', { 'data-testid': `enrollment-state-${e.id}` }, e.status + (e.decidedBy ? ` (${e.decidedBy})` : '')),
              e.status === 'pending' && may('cert.issue') ? h('span', { class: 'inline' }, decide(e, 'approve'), ' ', decide(e, 'reject')) : '',
            ]),
            'enrollments',
          )
        : h('p', { class: 'muted', 'data-testid': 'enrollments' }, 'No enrollment is waiting (labels with manualApproval hold them here).'),
    ),
  );
}

// ---- audit ---------------------------------------------------------------------------------------

interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  actorName: string | null;
  action: string;
  target: string | null;
  outcome: string;
  finalOutcome: string;
  source: string | null;
  details: Record<string, unknown> | null;
}

async function auditView(): Promise<void> {
  const render = showForThisView();
  type Verification = { ok: boolean; entries?: number; problems?: unknown[] };
  const verification: Verification = await api<Verification>('GET', '/api/v1/audit/verify').catch((e) => ({ ok: false, problems: [(e as Error).message] }));
  const list = h('div', {});
  const entryDetails = h('section', { class: 'card', id: 'audit-entry', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Pick an entry to see its details.'));
  const action = h('input', { name: 'action', id: 'audit-action', placeholder: 'e.g. certificate (prefix)' });
  const since = h('input', { name: 'since', id: 'audit-since', type: 'datetime-local' });
  const until = h('input', { name: 'until', id: 'audit-until', type: 'datetime-local' });
  const shown: AuditEntry[] = [];
  const openEntry = (e: AuditEntry) => {
    entryDetails.replaceChildren(
      h('h2', { tabindex: '-1' }, `Entry ${e.seq}: ${e.action}`),
      table(['field', 'value'], [['at', date(e.at)], ['actor', e.actorName ? `${e.actorName} (${e.actor})` : e.actor], ['target', e.target ?? '—'], ['outcome', e.finalOutcome], ['source', e.source ?? '—']], 'audit-entry-fields'),
      h('pre', { 'data-testid': 'audit-entry-details' }, JSON.stringify(e.details ?? {}, null, 2)),
    );
    focusHeading(entryDetails);
  };
  // Newest first, a page at a time: "Older" asks for the entries before the last one shown.
  const load = async (before?: number) => {
    if (before === undefined) shown.length = 0;
    const query = new URLSearchParams({ limit: '100', newest: 'true' });
    if (action.value) query.set('action', action.value);
    if (since.value) query.set('since', new Date(since.value).toISOString());
    if (until.value) query.set('until', new Date(until.value).toISOString());
    if (before !== undefined) query.set('before', String(before));
    const { entries } = await api<{ entries: AuditEntry[] }>('GET', `/api/v1/audit?${query}`);
    shown.push(...entries);
    const older = entries.length === 100 ? h('button', { 'data-testid': 'older-entries', onclick: () => void load(shown[shown.length - 1]!.seq).catch((err) => list.append(failure(err))) }, 'Older') : '';
    list.replaceChildren(
      table(
        ['#', 'at', 'actor', 'action', 'target', 'outcome', ''],
        shown.map((e) => [e.seq, date(e.at), e.actorName ?? e.actor, e.action, e.target ?? '', e.finalOutcome, h('button', { 'data-testid': `entry-${e.seq}`, 'aria-label': `Details of entry ${e.seq}`, onclick: () => openEntry(e) }, 'Details')]),
        'audit',
      ),
      h('p', { class: 'muted' }, `${shown.length} entries`, ' ', older),
    );
  };
  render(
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Audit log'),
      h('p', { 'data-testid': 'chain', class: verification.ok ? 'state-ok' : 'state-bad' }, verification.ok ? `Hash chain verified${verification.entries !== undefined ? ` (${verification.entries} entries)` : ''}.` : `Hash chain does NOT verify: ${JSON.stringify(verification.problems ?? verification)}`),
      h(
        'form',
        { class: 'inline', id: 'audit-filter', onsubmit: (e: Event) => (e.preventDefault(), void load().catch((err) => list.replaceChildren(failure(err)))) },
        h('label', { for: 'audit-action' }, 'Action starts with'),
        action,
        h('label', { for: 'audit-since' }, 'From'),
        since,
        h('label', { for: 'audit-until' }, 'Until'),
        until,
        h('button', { type: 'submit' }, 'Filter'),
      ),
      list,
    ),
    entryDetails,
  );
  await load();
}

// ---- CAs -----------------------------------------------------------------------------------------

interface CaGeneration {
  name: string;
  family: string;
  parent: string | null;
  keyType: string;
  status: string;
  notBefore: string;
  notAfter: string;
  activeFrom: string | null;
  retiredAt: string | null;
  signatureAlgorithm: string;
}

/** Where a generation stands in its family's rollover, in words. */
function generationState(ca: CaGeneration, family: CaGeneration[], now: number): string {
  if (ca.status === 'revoked') return 'revoked';
  if (ca.retiredAt) return 'retired';
  const started = (c: CaGeneration) => Date.parse(c.activeFrom ?? c.notBefore) <= now;
  const current = family.filter((c) => c.status === 'active' && !c.retiredAt && started(c)).sort((a, b) => Date.parse(b.activeFrom ?? b.notBefore) - Date.parse(a.activeFrom ?? a.notBefore))[0];
  if (!started(ca)) return `rollover scheduled: issues from ${date(ca.activeFrom)}`;
  if (current?.name === ca.name) return 'issuing';
  return 'draining: answers for what it issued until it expires';
}

/** The hierarchy by family and generation, with each CA's CRL and OCSP state and where its rollover stands. */
async function casView(): Promise<void> {
  const render = showForThisView();
  const [{ cas }, o] = await Promise.all([api<{ cas: CaGeneration[] }>('GET', '/api/v1/cas'), api<Overview>('GET', '/api/v1/overview')]);
  const now = Date.parse(o.now);
  const rows = [...cas].sort((a, b) => Number(a.parent !== null) - Number(b.parent !== null) || a.family.localeCompare(b.family) || Date.parse(b.activeFrom ?? b.notBefore) - Date.parse(a.activeFrom ?? a.notBefore));
  render(
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Certificate authorities'),
      table(
        ['CA', 'family', 'parent', 'key', 'state', 'life left', 'until', 'CRL', 'OCSP signer'],
        rows.map((ca) => {
          const crl = o.crls.find((c) => c.issuer === ca.name);
          const responder = o.responders.find((r) => r.issuer === ca.name);
          const family = cas.filter((c) => c.family === ca.family);
          return [
            ca.name,
            ca.family,
            ca.parent ?? '—',
            `${ca.keyType}, ${ca.signatureAlgorithm}`,
            h('span', { 'data-testid': `ca-state-${ca.name}` }, generationState(ca, family, now)),
            validityBar(ca.notBefore, ca.notAfter, o.now),
            date(ca.notAfter),
            crl?.number ? `#${crl.number}, ${crl.entries} entries, next ${date(crl.nextUpdate)}` : '—',
            responder ? `until ${date(responder.notAfter)}` : '—',
          ];
        }),
        'ca-table',
      ),
      h('p', { class: 'muted' }, 'Rollover and the compromise drill are ceremonies: `hallmark ca rollover <ca> --at <time>`, `hallmark ca revoke`, `hallmark ca reissue` (docs/operators.md).'),
    ),
  );
}

// ---- routing -------------------------------------------------------------------------------------

const VIEWS: Record<string, () => Promise<void>> = {
  overview: overviewView,
  cas: casView,
  certificates: certificatesView,
  stations: stationsView,
  tokens: tokensView,
  enrollments: enrollmentsView,
  releases: releasesView,
  apikeys: apiKeysView,
  operators: operatorsView,
  audit: auditView,
};

async function route(moveFocus = false): Promise<void> {
  if (!currentUser()) return;
  const mine = openingView();
  const name = location.hash.replace(/^#\//, '') || 'overview';
  for (const a of document.querySelectorAll('nav a')) {
    const here = a.getAttribute('href') === `#/${name}`;
    a.classList.toggle('current', here);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    await (VIEWS[name] ?? overviewView)();
    // A new section: focus its first heading, so that a screen reader announces where the operator is.
    if (moveFocus && mine === currentView()) focusFirstHeading(document.getElementById('main')!);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signOut('Your session ended; sign in again.');
    if (mine === currentView()) show(failure(e));
  }
}
window.addEventListener('hashchange', () => void route(true));

api<Me>('GET', '/console/session').then(signedIn, () => signInView());
