import { h } from './dom.js';

/** Chart.js, loaded from /console/vendor as a classic script (no CDN, no inline code). */
declare const Chart: new (canvas: HTMLCanvasElement, config: unknown) => { destroy(): void };

const PALETTE = ['#2457c5', '#1e7a3c', '#a15c00', '#7b3fb5', '#b3261e', '#0f7c8c', '#5b6678'];
const live: { destroy(): void }[] = [];

export function destroyCharts(): void {
  for (const chart of live.splice(0)) chart.destroy();
}

function canvasCard(title: string, id: string, summary: HTMLElement): { card: HTMLElement; canvas: HTMLCanvasElement } {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': title });
  return { card: h('section', { class: 'card' }, h('h2', {}, title), h('div', { class: 'chart' }, canvas), summary), canvas };
}

export interface ChartData {
  provisionedPerHour: { start: string; hours: number; lines: { line: string; counts: number[]; total: number }[] };
  expiringPerWeek: { start: string; weeks: number[]; profiles: { profile: string; weeks: number[] }[] };
  revocationsByReason: { reason: string; count: number }[];
}

export function renderCharts(data: ChartData): HTMLElement {
  const start = new Date(data.provisionedPerHour.start).getTime();
  const hours = Array.from({ length: data.provisionedPerHour.hours }, (_, i) => new Date(start + i * 3_600_000).toISOString().slice(5, 13).replace('T', ' ') + 'h');
  const provisioned = canvasCard(
    'Devices provisioned per hour, by line (last 7 days)',
    'chart-provisioned',
    h('ul', { class: 'summary', 'data-testid': 'provisioned-summary' }, ...data.provisionedPerHour.lines.map((l) => h('li', { 'data-line': l.line, 'data-total': String(l.total) }, `${l.line}: ${l.total} devices`))),
  );
  const expiring = canvasCard(
    'Certificates expiring per week (next 26 weeks)',
    'chart-expiring',
    h(
      'div',
      {},
      h('p', { class: 'summary', 'data-testid': 'expiring-summary', 'data-total': String(data.expiringPerWeek.weeks.reduce((a, b) => a + b, 0)) }, `${data.expiringPerWeek.weeks.reduce((a, b) => a + b, 0)} certificates expire in the next 26 weeks (not counting the responder and HTTPS certificates, which renew themselves)`),
      h('ul', { class: 'summary', 'data-testid': 'expiring-by-profile' }, ...data.expiringPerWeek.profiles.map((p) => h('li', { 'data-profile': p.profile, 'data-total': String(p.weeks.reduce((a, b) => a + b, 0)) }, `${p.profile}: ${p.weeks.reduce((a, b) => a + b, 0)}`))),
    ),
  );
  const revoked = canvasCard(
    'Revocations by reason',
    'chart-revocations',
    h('ul', { class: 'summary', 'data-testid': 'revocations-summary' }, ...data.revocationsByReason.map((r) => h('li', { 'data-reason': r.reason, 'data-count': String(r.count) }, `${r.reason}: ${r.count}`))),
  );
  const grid = h('div', { class: 'grid' }, provisioned.card, expiring.card, revoked.card);
  // Drawn once the cards are in the document (Chart.js measures its container).
  queueMicrotask(() => {
    const common = { animation: false, responsive: true, maintainAspectRatio: false };
    live.push(
      new Chart(provisioned.canvas, {
        type: 'bar',
        data: { labels: hours, datasets: data.provisionedPerHour.lines.map((l, i) => ({ label: l.line, data: l.counts, backgroundColor: PALETTE[i % PALETTE.length] })) },
        options: { ...common, scales: { x: { stacked: true, ticks: { maxTicksLimit: 8 } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
      }),
      new Chart(expiring.canvas, {
        type: 'bar',
        // Stacked by profile: devices, stations, operators… renew in different ways.
        data: { labels: data.expiringPerWeek.weeks.map((_, i) => `+${i + 1}w`), datasets: data.expiringPerWeek.profiles.map((p, i) => ({ label: p.profile, data: p.weeks, backgroundColor: PALETTE[(i + 2) % PALETTE.length] })) },
        options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
      }),
      new Chart(revoked.canvas, {
        type: 'doughnut',
        data: { labels: data.revocationsByReason.map((r) => r.reason), datasets: [{ data: data.revocationsByReason.map((r) => r.count), backgroundColor: PALETTE }] },
        options: common,
      }),
    );
  });
  return grid;
}
