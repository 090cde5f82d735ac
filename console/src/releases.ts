import { api, currentUser, may } from './api.js';
import { confirmAction, date, h, table } from './dom.js';
import { failure, focusHeading, notice, showForThisView } from './view.js';

interface Release {
  id: number;
  signer: string;
  product: string;
  channel: string;
  version: string;
  digestAlgorithm: string;
  digest: string;
  format: string;
  status: 'pending' | 'signed' | 'rejected';
  requestedBy: string;
  approvedBy?: string;
  rejectedBy?: string;
  rejectionReason?: string;
  rollbackOverride?: string;
  createdAt: string;
}

interface Signer {
  name: string;
  status: string;
  generation: number;
  keyType: string;
  twoPerson: boolean;
  ca: string;
  notAfter: string;
}

/** Who decided, or why it was refused, in a few words. */
const outcome = (r: Release) =>
  r.status === 'signed' ? `signed${r.approvedBy ? ` (approved by ${r.approvedBy})` : ''}` : r.status === 'rejected' ? `rejected by ${r.rejectedBy}: ${r.rejectionReason}` : 'waiting for a second person';

/**
 * Firmware releases and their signers. A two-person signer's pending release is approved (the token
 * signs it then) or rejected with a reason here, by an operator other than the one who asked: the
 * server refuses the same principal, and the confirmation names the exact image (digest) being approved.
 */
export async function releasesView(): Promise<void> {
  const render = showForThisView();
  const status = h('div', { 'aria-live': 'polite' });
  const [releases, signers] = await Promise.all([api<Release[]>('GET', '/api/v1/releases?limit=200'), api<Signer[]>('GET', '/api/v1/signers')]);
  const me = currentUser()!;
  const decide = (r: Release, verdict: 'approve' | 'reject') => {
    const reason = h('input', { id: 'reject-reason', name: 'reason', required: true, maxlength: '500', 'data-testid': 'reject-reason' });
    return h(
      'button',
      {
        class: verdict === 'reject' ? 'danger' : 'primary',
        'data-testid': `${verdict}-release-${r.id}`,
        'aria-label': `${verdict === 'approve' ? 'Approve' : 'Reject'} release ${r.id}, ${r.product} ${r.version}`,
        onclick: async () => {
          const text =
            verdict === 'approve'
              ? `Approve release ${r.id}: ${r.product} ${r.version} on channel ${r.channel}, image ${r.digestAlgorithm} ${r.digest}, asked for by ${r.requestedBy}? Signer ${r.signer}'s key signs it now.`
              : `Reject release ${r.id}: ${r.product} ${r.version} on channel ${r.channel}, asked for by ${r.requestedBy}? It will not be signed.`;
          if (!(await confirmAction(text, verdict === 'reject' ? h('label', { for: 'reject-reason' }, 'Reason (recorded and audited)', reason) : undefined))) return;
          try {
            await api('POST', `/api/v1/releases/${r.id}/${verdict}`, verdict === 'reject' ? { reason: reason.value.trim() } : undefined);
            await releasesView();
            const main = document.getElementById('main')!;
            main.prepend(notice(`Release ${r.id} ${verdict === 'approve' ? 'approved and signed' : 'rejected'}.`, 'release-decided'));
            focusHeading(main);
          } catch (e) {
            status.replaceChildren(failure(e));
          }
        },
      },
      verdict === 'approve' ? 'Approve…' : 'Reject…',
    );
  };
  // The principal who asked cannot approve: the buttons are not offered to them (the server refuses anyway).
  const mayDecide = (r: Release) => r.status === 'pending' && may('release.approve') && r.requestedBy !== `session:${me.name}`;
  const pending = releases.filter((r) => r.status === 'pending');
  render(
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Releases waiting for a second person'),
      pending.length
        ? table(
            ['release', 'product', 'version', 'channel', 'signer', 'image digest', 'asked by', 'asked', ''],
            pending.map((r) => [
              String(r.id),
              r.product,
              r.version,
              r.channel,
              r.signer,
              h('code', { class: 'digest' }, `${r.digestAlgorithm}:${r.digest}`),
              r.requestedBy,
              date(r.createdAt),
              mayDecide(r) ? h('span', { class: 'inline' }, decide(r, 'approve'), ' ', decide(r, 'reject')) : r.requestedBy === `session:${me.name}` ? 'yours: another person decides' : '',
            ]),
            'pending-releases',
          )
        : h('p', { class: 'muted', 'data-testid': 'pending-releases' }, 'No release is waiting (two-person signers hold them here).'),
    ),
    status,
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Releases'),
      table(
        ['release', 'product', 'version', 'channel', 'signer', 'format', 'state', 'asked by', 'asked'],
        releases.map((r) => [String(r.id), r.product, r.version, r.channel, r.signer, r.format, h('span', { 'data-testid': `release-state-${r.id}` }, outcome(r) + (r.rollbackOverride ? ` (rollback override: ${r.rollbackOverride})` : '')), r.requestedBy, date(r.createdAt)]),
        'releases',
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Signers'),
      table(
        ['name', 'state', 'key', 'generation', 'two-person', 'CA', 'certificate until'],
        signers.map((s) => [s.name, s.status, s.keyType, String(s.generation), s.twoPerson ? 'yes' : 'no', s.ca, date(s.notAfter)]),
        'signers',
      ),
    ),
  );
}
