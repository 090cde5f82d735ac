import { z } from 'zod';
import type { Store } from '../../store/handle.js';
import type { Clock } from '../../base/clock.js';
import type { AuditLog } from '../../audit/log.js';
import type { IssueDeps } from '../../ca/issue.js';
import type { RevokeDeps } from '../../ca/revoke.js';
import { addStation, disableStation, stationView } from '../../factory/stations.js';
import { listStations, outputPerStation } from '../../store/factory.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';
import { stationAddedAnswer, stationDisabledAnswer, stationsAnswer } from './answers.js';

const HOUR = 3_600_000;

const addBody = z.strictObject({
  name: z.string().min(1).max(63),
  line: z.string().min(1).max(63),
  profiles: z.array(z.string().min(1).max(64)).min(1).max(16).optional(),
  quotaPerHour: z.number().int().positive().max(100_000_000).optional(),
});

/**
 * Provisioning stations: listed with their last hour against the quota, added (station.manage, with
 * a fresh authenticator code from a session: it mints credentials), disabled (both credentials end).
 */
export function stationRoutes(deps: { store: Store; audit: AuditLog; clock: Clock; issue: IssueDeps; revocation: RevokeDeps }): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/stations',
      permission: 'device.read',
      summary: 'Stations with their use of the hourly quota',
      answers: { status: 200, schema: stationsAnswer, description: 'Stations and their last hour' },
      handler: async (_req, res) => {
        const since = deps.clock.now().getTime() - HOUR;
        const used = await outputPerStation(deps.store, since);
        const rows = await listStations(deps.store);
        res.json({ stations: rows.map((r) => ({ ...stationView(r), lastHour: used.get(r.name) ?? 0 })) });
      },
    },
    {
      method: 'post',
      path: '/stations',
      permission: 'station.manage',
      stepUp: true,
      summary: 'Register a station: its API key, client certificate and key are in this answer only',
      body: addBody,
      jsonBody: '4kb',
      answers: { status: 201, schema: stationAddedAnswer, description: 'The station and its credentials, shown this once' },
      example: { request: { name: 'st-7', line: 'line-a', profiles: ['device'], quotaPerHour: 5000 } },
      handler: async (req, res) => {
        const body = parseOrThrow(addBody, req.body, 'body');
        const station = await addStation(
          { store: deps.store, audit: deps.audit, issue: deps.issue },
          { ...body, actor: actorName(principalOf(req)), source: req.ip },
        );
        res.set('Cache-Control', 'no-store');
        res.status(201).json({ name: station.name, line: station.line, apiKey: station.apiKey, apiKeyId: station.apiKeyId, certificateSerial: station.certificateSerial, certificate: station.credentials.certificate, privateKey: station.credentials.privateKey });
      },
    },
    {
      method: 'post',
      path: '/stations/:name/disable',
      permission: 'station.manage',
      stepUp: true,
      summary: 'Disable a station: its API key is revoked and its certificate too',
      answers: { status: 200, schema: stationDisabledAnswer, description: 'Disabled' },
      handler: async (req, res) => {
        await disableStation(deps.revocation, String(req.params.name), actorName(principalOf(req)), req.ip);
        res.json({ name: req.params.name, state: 'disabled' });
      },
    },
  ];
}
