import type { AppContext } from './context.js';
import { createAlertSink, type AlertSink } from '../alerts/sink.js';
import { createAuthFailureGuard, type AuthFailureGuard, type BlockRecord } from '../alerts/auth-failures.js';
import { blockOf, saveBlock, unexpiredBlocks } from '../store/auth-blocks.js';
import { createDenialAudit, type DenialAudit } from '../audit/denials.js';
import { watchEventBursts } from '../alerts/event-rules.js';
import type { SecretSealer, Signer } from '../keys/key-store.js';
import type { SessionPolicy } from '../auth/sessions.js';
import { auditSigner } from '../audit/checkpoint.js';
import { localTally, type TallySpec } from '../alerts/tallies.js';
import { joinClusterTallies } from '../cluster/tallies.js';
import { workerSlot } from '../cluster/worker.js';
import { joinClusterAuthFailures } from '../cluster/auth-failures.js';

import { SECRETS_KEY } from '../keys/key-store.js';

export { SECRETS_KEY };

/** More than 5 times a station's usual rate, and at least 200 devices in 10 minutes. */
const STATION_RATE: TallySpec = { rule: 'station-rate', factor: 5, minimum: 200 };

/** The security services a serving process shares across its routes. */
export interface SecurityPlane {
  alerts: AlertSink;
  guard: AuthFailureGuard;
  /** Takes in blocks lifted by `hallmark security blocks lift` or raised by other instances (the status poll calls it). */
  syncBlocks(): Promise<void>;
  /** Denials audited with repeats folded (audit/denials.ts). */
  denials: DenialAudit;
  sealer: SecretSealer;
  sessionPolicy: SessionPolicy;
  checkpointSigner(): Promise<Signer>;
  /** Told of the devices a station provisioned (rate anomaly alert). */
  watchStationRate(station: { name: string }, devices: number): void;
}

export async function createSecurityPlane(ctx: AppContext, log: (line: string) => void): Promise<SecurityPlane> {
  if (!ctx.keys) throw new Error('the security plane needs the token');
  const { security } = ctx.config;
  const alerts = createAlertSink({ webhookUrl: security.alerts.webhookUrl, audit: ctx.audit, clock: ctx.clock, log });
  // The workers of `serve --workers` count together, through the primary (src/cluster/).
  const tally = workerSlot() ? joinClusterTallies(alerts) : localTally(alerts, () => ctx.clock.now().getTime());
  watchEventBursts(ctx.audit, tally, security.alerts.revocationBurst);
  let signer: Promise<Signer> | undefined;
  // Blocks are recorded in the database, where the CLI lists and lifts them and other instances find them.
  const record: BlockRecord = { save: (block) => void saveBlock(ctx.store, block).catch((e: Error) => log(`cannot record an authentication block: ${e.message}`)) };
  const { guard, blocks } = workerSlot() ? joinClusterAuthFailures(security.alerts.authFailures, alerts, record) : createAuthFailureGuard(security.alerts.authFailures, alerts, record);
  return {
    alerts,
    guard,
    denials: createDenialAudit(ctx.audit, () => ctx.clock.now().getTime()),
    async syncBlocks() {
      for (const row of await unexpiredBlocks(ctx.store, ctx.clock.now().getTime())) {
        if (row.lifted_at !== null) blocks.lift(row.id);
        else blocks.add(blockOf(row));
      }
    },
    sealer: await ctx.keys.getSealer({ token: ctx.env.tokenLabel, object: SECRETS_KEY }),
    sessionPolicy: { idleMs: security.sessions.idleMinutes * 60_000, maxMs: security.sessions.maxHours * 3_600_000 },
    checkpointSigner: () => (signer ??= auditSigner(ctx.keys!, ctx.env.tokenLabel)),
    watchStationRate: (station, devices) => tally(STATION_RATE, station.name, devices),
  };
}
