import type { CaStore } from '../../store/cas.js';
import { HallmarkError } from '../../base/errors.js';
import { caView } from '../../ca/ca-view.js';
import { caAnswer, caListAnswer } from './answers.js';
import type { RouteSpec } from '../../http/routes.js';

export function casRoutes(cas: CaStore): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/cas',
      permission: 'ca.read',
      summary: 'List the CAs with their certificates',
      answers: { status: 200, schema: caListAnswer, description: 'Every CA with its certificate' },
      handler: async (_req, res) => {
        res.json({ cas: (await cas.list()).map((row) => caView(row, true)) });
      },
    },
    {
      method: 'get',
      path: '/cas/:name',
      permission: 'ca.read',
      summary: 'One CA with its certificate',
      answers: { status: 200, schema: caAnswer, description: 'One CA with its certificate' },
      handler: async (req, res) => {
        const row = await cas.get(String(req.params.name));
        if (!row) throw new HallmarkError('unknown_ca', `no CA named "${req.params.name}"`, 404);
        res.json(caView(row, true));
      },
    },
  ];
}
