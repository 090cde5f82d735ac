import { api, currentUser } from './api.js';
import { date, h, table } from './dom.js';
import { withFreshCode } from './step-up.js';
import { failure, focusHeading, showForThisView } from './view.js';

interface Operator {
  name: string;
  role: string;
  createdBy: string;
  createdAt: string;
  state: string;
}

interface Enrolment {
  name: string;
  otpauth: string;
  totpSecret: string;
}

/** The authenticator enrolment of a new or reset operator, shown once. */
function enrolmentCard(e: Enrolment, what: string): HTMLElement {
  return h(
    'section',
    { class: 'card once', 'data-testid': 'enrolment' },
    h('h2', { tabindex: '-1' }, `${what}: ${e.name}'s authenticator, shown once`),
    h('p', {}, 'Add to an authenticator app: ', h('code', { 'data-testid': 'otpauth' }, e.otpauth)),
    h('p', {}, 'or type the key: ', h('code', { 'data-testid': 'totp-secret' }, e.totpSecret)),
    h('p', { class: 'muted' }, 'The seed is kept only sealed by the HSM: hand it to the operator now, in person or over a channel you trust.'),
  );
}

function createForm(status: HTMLElement, reload: () => Promise<void>): HTMLElement {
  const name = h('input', { name: 'name', id: 'op-name', required: true, pattern: '[a-z][a-z0-9._-]{1,63}', autocomplete: 'off' });
  const role = h('select', { name: 'role', id: 'op-role' }, ...['operator', 'read-only', 'admin'].map((r) => h('option', { value: r }, r)));
  const password = h('input', { name: 'password', id: 'op-password', type: 'password', required: true, autocomplete: 'new-password' });
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'create-operator',
      'aria-labelledby': 'create-operator-title',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const body = { name: name.value.trim(), role: role.value, password: password.value };
        let made: Enrolment | undefined;
        const done = await withFreshCode(`Create operator ${body.name} with role ${body.role}?`, status, async (headers) => {
          made = await api<Enrolment>('POST', '/api/v1/operators', body, headers);
        });
        password.value = '';
        if (!done || !made) return;
        const card = enrolmentCard(made, 'Operator created');
        status.replaceChildren(card);
        focusHeading(card);
        await reload();
      },
    },
    h('label', { for: 'op-name' }, 'Name', name),
    h('label', { for: 'op-role' }, 'Role', role),
    h('label', { for: 'op-password' }, 'First password (12+ characters)', password),
    h('button', { class: 'primary', type: 'submit' }, 'Create…'),
  );
  return h('section', { class: 'card' }, h('h2', { id: 'create-operator-title' }, 'Add an operator'), form);
}

/** Operators (admins): create one, give a new authenticator, disable; each with a fresh code. Never oneself. */
export async function operatorsView(): Promise<void> {
  const render = showForThisView();
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div', {});
  const me = currentUser()?.name;
  const load = async () => {
    const { operators } = await api<{ operators: Operator[] }>('GET', '/api/v1/operators');
    const action = (o: Operator, verb: 'reset-totp' | 'disable', text: string, question: string) =>
      h(
        'button',
        {
          class: verb === 'disable' ? 'danger' : '',
          'aria-label': `${text.replace('…', '')} for ${o.name}`,
          'data-testid': `${verb}-${o.name}`,
          onclick: async () => {
            let answer: Enrolment | undefined;
            if (!(await withFreshCode(question, status, async (headers) => void (answer = await api<Enrolment>('POST', `/api/v1/operators/${encodeURIComponent(o.name)}/${verb}`, undefined, headers))))) return;
            if (verb === 'reset-totp' && answer) {
              const card = enrolmentCard(answer, 'New authenticator');
              status.replaceChildren(card);
              focusHeading(card);
            } else status.replaceChildren(h('p', { role: 'status' }, `Operator ${o.name} disabled; their sessions have ended.`));
            await load().catch((e) => status.replaceChildren(failure(e)));
          },
        },
        text,
      );
    list.replaceChildren(
      table(
        ['operator', 'role', 'state', 'created', 'by', ''],
        operators.map((o) => [
          o.name,
          o.role,
          h('span', { 'data-testid': `operator-state-${o.name}` }, o.state),
          date(o.createdAt),
          o.createdBy,
          o.state === 'active' && o.name !== me
            ? h(
                'span',
                { class: 'inline' },
                action(o, 'reset-totp', 'New authenticator…', `Give ${o.name} a new authenticator? Their current one stops working and their sessions end.`),
                ' ',
                action(o, 'disable', 'Disable…', `Disable operator ${o.name}? Their sessions end at once and they can no longer sign in.`),
              )
            : '',
        ]),
        'operators',
      ),
    );
  };
  await load();
  render(h('section', { class: 'card' }, h('h2', { tabindex: '-1' }, 'Operators'), list), status, createForm(status, load));
}
