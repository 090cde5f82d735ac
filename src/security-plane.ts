import type { AppContext } from './context.js';
import { createAlertSink, type AlertSink } from './alerts/sink.js';
import { createAuthFailureGuard, type AuthFailureGuard } from './alerts/auth-failures.js';
import { watchEventBursts } from './alerts/event-rules.js';
import type { SecretSealer, Signer } from './keys/key-store.js';
import type { SessionPolicy } from './auth/sessions.js';
import { auditSigner } from './audit/checkpoint.js';
import { createStationRateWatch } from './alerts/station-rate.js';
import { workerSlot } from './cluster/worker.js';
import { joinClusterAuthFailures } from './cluster/auth-failures.js';

export const SECRETS_KEY = 'hallmark-secrets';

/** The security services a serving process shares across its routes. */
export interface SecurityPlane {
  alerts: AlertSink;
  guard: AuthFailureGuard;
  sealer: SecretSealer;
  sessionPolicy: SessionPolicy;
  checkpointSigner(): Promise<Signer>;
  /** Told of every device provisioned, per station (rate anomaly alert). */
  watchStationRate(station: { name: string }): void;
}

export async function createSecurityPlane(ctx: AppContext, log: (line: string) => void): Promise<SecurityPlane> {
  if (!ctx.keys) throw new Error('the security plane needs the token');
  const { security } = ctx.config;
  const alerts = createAlertSink({ webhookUrl: security.alerts.webhookUrl, audit: ctx.audit, clock: ctx.clock, log });
  watchEventBursts(ctx.audit, alerts, security.alerts);
  let signer: Promise<Signer> | undefined;
  const stationRate = createStationRateWatch(alerts, () => ctx.clock.now().getTime());
  return {
    alerts,
    // The workers of `serve --workers` count failures together, through the primary.
    guard: workerSlot() ? joinClusterAuthFailures(security.alerts.authFailures, alerts) : createAuthFailureGuard(security.alerts.authFailures, alerts),
    sealer: await ctx.keys.getSealer({ token: ctx.env.tokenLabel, object: SECRETS_KEY }),
    sessionPolicy: { idleMs: security.sessions.idleMinutes * 60_000, maxMs: security.sessions.maxHours * 3_600_000 },
    checkpointSigner: () => (signer ??= auditSigner(ctx.keys!, ctx.env.tokenLabel)),
    watchStationRate: (station) => stationRate(station.name),
  };
}
