import type { AlertSink } from './sink.js';
import { createSlidingWindow } from './sliding-window.js';

const WINDOW = 10 * 60_000;
const DAY = 24 * 3_600_000;

/**
 * A station provisioning far above its usual rate: more than `factor` times its average per
 * 10 minutes over the last day, and at least `minimum` devices in the last 10 minutes. One alert
 * per station per hour. Counted per instance.
 */
export function createStationRateWatch(alerts: AlertSink, now: () => number, options = { factor: 5, minimum: 200 }) {
  const recent = createSlidingWindow(WINDOW);
  const day = createSlidingWindow(DAY);
  const quietUntil = new Map<string, number>();
  return (station: string) => {
    const t = now();
    const last10 = recent.add(station, t);
    const lastDay = day.add(station, t);
    const usual = (lastDay - last10) / (DAY / WINDOW - 1);
    if (last10 < options.minimum || last10 <= usual * options.factor || (quietUntil.get(station) ?? 0) > t) return;
    quietUntil.set(station, t + 3_600_000);
    alerts.raise({
      rule: 'station-rate',
      severity: 'warning',
      message: `station ${station} provisioned ${last10} devices in 10 minutes (usual: ${usual.toFixed(1)})`,
      details: { station, last10Minutes: last10, usualPer10Minutes: Number(usual.toFixed(2)) },
    });
  };
}
