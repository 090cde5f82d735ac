import { z } from 'zod';
import type { Store } from '../../store/handle.js';
import type { Clock } from '../../base/clock.js';
import type { AuditLog } from '../../audit/log.js';
import type { Profile } from '../../profiles/load.js';
import { HallmarkError } from '../../base/errors.js';
import { newestDevices } from '../../store/factory.js';
import { inventoryEntries, inventoryPage } from '../../store/inventory.js';
import { allowDeviceReprovisioning, deviceDetails, deviceProfiles, inventoryView } from '../../factory/inventory.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { deviceDetailsAnswer, devicesAnswer, reprovisionAnswer } from './answers.js';
import { parseOrThrow } from './validation.js';

const deviceQuery = z.strictObject({
  serial: z.string().max(128).optional(),
  lot: z.string().max(128).optional(),
  line: z.string().max(128).optional(),
  state: z.enum(['provisioning', 'provisioned']).optional(),
  certificateStatus: z.enum(['active', 'expired', 'revoked']).optional(),
  after: z.string().max(128).optional().describe('The next page: devices after this id (the last of the previous page)'),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

/** The device inventory over REST (docs/http-api.md): every device however it enrolled. */
export function deviceRoutes(deps: { store: Store; clock: Clock; audit: AuditLog; profiles: Map<string, Profile> }): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/devices',
      permission: 'device.read',
      summary: 'The device inventory, however each device enrolled: by id prefix and certificate state a page at a time, or the factory\'s devices of a line or lot',
      query: deviceQuery,
      answers: { status: 200, schema: devicesAnswer, description: 'Devices with their certificates' },
      handler: async (req, res) => {
        const q = parseOrThrow(deviceQuery, req.query, 'query');
        const now = deps.clock.now().getTime();
        const profiles = deviceProfiles(deps.profiles);
        const limit = q.limit ?? 100;
        let devices: ReturnType<typeof inventoryView>[];
        if (q.lot || q.line || q.state) {
          // Lines, lots and states are the factory's: its own query, newest first.
          const factory = await newestDevices(deps.store, { serialPrefix: q.serial, lot: q.lot, line: q.line, state: q.state, certificateStatus: q.certificateStatus === 'expired' ? undefined : q.certificateStatus, limit });
          devices = (await inventoryEntries(deps.store, factory.map((d) => String(d.serial)), profiles)).map((e) => inventoryView(e, now));
        } else {
          devices = (await inventoryPage(deps.store, { profiles, prefix: q.serial, after: q.after, status: q.certificateStatus, limit }, now)).map((e) => inventoryView(e, now));
        }
        const more = devices.length === limit && !(q.lot || q.line || q.state);
        res.json({ devices, ...(more ? { next: devices[devices.length - 1]!.serial } : {}) });
      },
    },
    {
      method: 'get',
      path: '/devices/:serial',
      permission: 'device.read',
      summary: 'One device: how it enrolled, every certificate it has had (newest first), its manufacturing records',
      answers: { status: 200, schema: deviceDetailsAnswer, description: 'The device' },
      handler: async (req, res) => {
        const serial = String(req.params.serial);
        const device = await deviceDetails(deps.store, serial, deviceProfiles(deps.profiles), deps.clock.now().getTime());
        if (!device) throw new HallmarkError('not_found', `no device ${serial}`, 404);
        res.json(device);
      },
    },
    {
      method: 'post',
      path: '/devices/:serial/reprovision',
      permission: 'station.manage',
      summary: 'Let a factory device be provisioned once more; its current identity is revoked (superseded) when that happens',
      answers: { status: 200, schema: reprovisionAnswer, description: 'Allowed' },
      handler: async (req, res) => {
        const serial = String(req.params.serial);
        await allowDeviceReprovisioning({ store: deps.store, audit: deps.audit }, serial, actorName(principalOf(req)), req.ip, deps.clock.now().getTime());
        res.json({ serial, reprovisionAllowed: true });
      },
    },
  ];
}
