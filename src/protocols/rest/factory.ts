import { z } from 'zod';
import type { Request } from 'express';
import { provisionDevice, type ProvisionDeps, type ProvisionItem } from '../../factory/provision.js';
import { stationOf, type StationRow } from '../../factory/stations.js';
import { HallmarkError, isHallmarkError } from '../../errors.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';

const item = z.strictObject({
  deviceSerial: z.string().min(1).max(128),
  model: z.string().min(1).max(128),
  lot: z.string().min(1).max(128),
  firmwareVersion: z.string().min(1).max(64),
  csr: z.string().min(1).max(65536).optional(),
  keygen: z.boolean().optional(),
  keyPassphrase: z.string().min(12).max(256).optional(),
  profile: z.string().max(63).optional(),
});
export const MAX_BATCH = 1000;
const batch = z.strictObject({ devices: z.array(z.unknown()).min(1).max(MAX_BATCH, `at most ${MAX_BATCH} devices per batch`) });

async function callingStation(deps: ProvisionDeps, req: Request): Promise<StationRow> {
  const station = await stationOf(deps.db, principalOf(req));
  if (!station) throw new HallmarkError('not_a_station', 'provisioning is done by a station, with its API key or client certificate', 400);
  if (station.disabled_at !== null) throw new HallmarkError('station_disabled', `station ${station.name} is disabled`, 403);
  return station;
}

const answer = (p: Awaited<ReturnType<typeof provisionDevice>>) => ({
  deviceSerial: p.deviceSerial,
  serial: p.serial,
  certificate: p.certificate,
  chain: p.chain,
  repeated: p.repeated,
  ...(p.encryptedKey ? { encryptedKey: p.encryptedKey, keyPassphrase: p.keyPassphrase } : {}),
});

/** The factory line (CONTRACT.md "Factory provisioning"). */
export function factoryRoutes(deps: ProvisionDeps): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/factory/provision',
      permission: 'factory.provision',
      rateLimit: 'provisioning',
      summary: 'Give one device its factory identity (CSR, or keygen: true for a server-made key returned encrypted)',
      jsonBody: '96kb',
      handler: async (req, res) => {
        const station = await callingStation(deps, req);
        const body = parseOrThrow(item, req.body, 'body');
        const result = await provisionDevice(deps, station, body as ProvisionItem, actorName(principalOf(req)), req.ip);
        res.status(result.repeated ? 200 : 201).json(answer(result));
      },
    },
    {
      method: 'post',
      path: '/factory/provision/batch',
      permission: 'factory.provision',
      rateLimit: 'provisioning',
      summary: 'Up to 1,000 devices; results in the order given; one bad entry does not fail the others',
      jsonBody: '4mb',
      handler: async (req, res) => {
        const station = await callingStation(deps, req);
        const { devices } = parseOrThrow(batch, req.body, 'body');
        const actor = actorName(principalOf(req));
        const results: unknown[] = new Array(devices.length);
        let next = 0;
        // A few at a time: the HSM session pool signs in parallel, the database keeps up.
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            for (let i = next++; i < devices.length; i = next++) {
              const raw = devices[i] as { deviceSerial?: unknown };
              const deviceSerial = typeof raw?.deviceSerial === 'string' ? raw.deviceSerial : null;
              try {
                results[i] = answer(await provisionDevice(deps, station, parseOrThrow(item, raw, `devices.${i}`) as ProvisionItem, actor, req.ip));
              } catch (e) {
                if (!isHallmarkError(e) || e.status >= 500) throw e;
                results[i] = { deviceSerial, error: { code: e.code, message: e.message } };
              }
            }
          }),
        );
        res.json({ results });
      },
    },
  ];
}
