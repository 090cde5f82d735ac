import { z } from 'zod';
import { provisionDevice, type ProvisionDeps, type ProvisionItem } from '../../factory/provision.js';
import { provisionBatch } from '../../factory/provision-batch.js';
import { callingStation } from '../../factory/stations.js';
import { HallmarkError, isHallmarkError } from '../../base/errors.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { batchAnswer, provisionedAnswer } from './answers.js';
import { parseOrThrow } from './validation.js';
import { attestationAnswerFields } from './attestation.js';

const item = z.strictObject({
  deviceSerial: z.string().min(1).max(128),
  model: z.string().min(1).max(128),
  lot: z.string().min(1).max(128),
  firmwareVersion: z.string().min(1).max(64),
  csr: z.string().min(1).max(65536).optional(),
  keygen: z.boolean().optional(),
  keyPassphrase: z.string().min(12).max(256).optional(),
  profile: z.string().max(63).optional(),
  attestation: z.strictObject(attestationAnswerFields).optional().describe('Instead of a CSR: the answer to a TPM attestation challenge this station asked for the device (POST /factory/attestation/challenges)'),
});
export const MAX_BATCH = 1000;
const batch = z.strictObject({ devices: z.array(z.unknown()).min(1).max(MAX_BATCH, `at most ${MAX_BATCH} devices per batch`) });


const answer = (p: Awaited<ReturnType<typeof provisionDevice>>) => ({
  deviceSerial: p.deviceSerial,
  serial: p.serial,
  certificate: p.certificate,
  chain: p.chain,
  repeated: p.repeated,
  ...(p.encryptedKey ? { encryptedKey: p.encryptedKey, keyPassphrase: p.keyPassphrase } : {}),
});

/** The factory line (docs/factory-integrators.md). */
export function factoryRoutes(deps: ProvisionDeps): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/factory/provision',
      permission: 'factory.provision',
      rateLimit: 'provisioning',
      summary: 'Give one device its factory identity (CSR, or keygen: true for a server-made key returned encrypted)',
      body: item,
      answers: { status: 201, schema: provisionedAnswer, description: 'Provisioned (200 with repeated: true for a retry of the same device and key)' },
      example: { request: { deviceSerial: 'SN-0001', model: 'M1', lot: 'LOT-1', firmwareVersion: '1.0.0', csr: '-----BEGIN CERTIFICATE REQUEST-----\n…' } },
      jsonBody: '96kb',
      handler: async (req, res) => {
        const station = await callingStation(deps.store, principalOf(req));
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
      body: z.strictObject({ devices: z.array(item).min(1).max(MAX_BATCH) }),
      answers: { status: 200, schema: batchAnswer, description: 'One result per device, in order' },
      example: { request: { devices: [{ deviceSerial: 'SN-0003', model: 'M1', lot: 'LOT-1', firmwareVersion: '1.0.0', keygen: true }] } },
      jsonBody: '4mb',
      handler: async (req, res) => {
        const station = await callingStation(deps.store, principalOf(req));
        const { devices } = parseOrThrow(batch, req.body, 'body');
        const actor = actorName(principalOf(req));
        const results: unknown[] = new Array(devices.length);
        const valid: { index: number; item: ProvisionItem }[] = [];
        const itemError = (raw: unknown, e: HallmarkError) => {
          const deviceSerial = typeof (raw as { deviceSerial?: unknown })?.deviceSerial === 'string' ? (raw as { deviceSerial: string }).deviceSerial : null;
          return { deviceSerial, error: { code: e.code, message: e.message } };
        };
        devices.forEach((raw, index) => {
          try {
            valid.push({ index, item: parseOrThrow(item, raw, `devices.${index}`) as ProvisionItem });
          } catch (e) {
            if (!isHallmarkError(e)) throw e;
            results[index] = itemError(raw, e);
          }
        });
        const outcomes = await provisionBatch(deps, station, valid.map((v) => v.item), actor, req.ip);
        outcomes.forEach((outcome, i) => {
          const index = valid[i]!.index;
          if (!(outcome instanceof Error)) return void (results[index] = answer(outcome));
          // One bad entry fails only itself; a server-side failure (HSM, database) fails the request.
          if (!isHallmarkError(outcome) || outcome.status >= 500) throw outcome;
          results[index] = itemError(devices[index], outcome);
        });
        res.json({ results });
      },
    },
  ];
}
