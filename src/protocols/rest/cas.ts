import { Router } from 'express';
import type { CaStore } from '../../store/cas.js';
import { HallmarkError } from '../../errors.js';
import { caView } from '../../ca/ca-view.js';
import { requirePermission } from '../../http/authenticate.js';

export function createCasRouter(cas: CaStore): Router {
  const router = Router();
  router.get('/', requirePermission('ca.read'), async (_req, res) => {
    res.json({ cas: (await cas.list()).map((row) => caView(row, true)) });
  });
  router.get('/:name', requirePermission('ca.read'), async (req, res) => {
    const row = await cas.get(String(req.params.name));
    if (!row) throw new HallmarkError('unknown_ca', `no CA named "${req.params.name}"`, 404);
    res.json(caView(row, true));
  });
  return router;
}
