import { Router } from 'express';
import type { CaStore } from '../../store/cas.js';
import { HallmarkError } from '../../errors.js';
import { toPem } from '../../x509/pem.js';
import { requirePermission } from '../../http/authenticate.js';

export function createCasRouter(cas: CaStore): Router {
  const router = Router();
  const view = (row: Awaited<ReturnType<CaStore['list']>>[number]) => ({
    name: row.name,
    parent: row.parent,
    subject: row.subject,
    serial: row.serial,
    keyType: row.key_type,
    notBefore: new Date(Number(row.not_before)).toISOString(),
    notAfter: new Date(Number(row.not_after)).toISOString(),
    status: row.status,
    certificate: toPem(row.certificate, 'CERTIFICATE'),
  });
  router.get('/', requirePermission('ca.read'), async (_req, res) => {
    res.json({ cas: (await cas.list()).map(view) });
  });
  router.get('/:name', requirePermission('ca.read'), async (req, res) => {
    const row = await cas.get(String(req.params.name));
    if (!row) throw new HallmarkError('unknown_ca', `no CA named "${req.params.name}"`, 404);
    res.json(view(row));
  });
  return router;
}
