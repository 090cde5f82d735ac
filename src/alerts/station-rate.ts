import type { Alert } from './sink.js';
import { createSlidingWindow } from './sliding-window.js';

const WINDOW = 10 * 60_000;
const DAY = 24 * 3_600_000;

export interface StationRateOptions {
  factor: number;
  minimum: number;
}

/**
 * A station provisioning far above its usual rate: more than `factor` times its average per
 * 10 minutes over the last day, and at least `minimum` devices in the last 10 minutes. One alert
 * per station per hour. Returns the alert to raise, if any (tallies.ts raises it).
 */
export function createStationRateRule(options: StationRateOptions) {
  const recent = createSlidingWindow(WINDOW);
  const day = createSlidingWindow(DAY);
  const quietUntil = new Map<string, number>();
  return (station: string, now: number, devices: number): Alert | undefined => {
    const last10 = recent.add(station, now, devices);
    const lastDay = day.add(station, now, devices);
    const usual = (lastDay - last10) / (DAY / WINDOW - 1);
    if (last10 < options.minimum || last10 <= usual * options.factor || (quietUntil.get(station) ?? 0) > now) return undefined;
    quietUntil.set(station, now + 3_600_000);
    return {
      rule: 'station-rate',
      severity: 'warning',
      message: `station ${station} provisioned ${last10} devices in 10 minutes (usual: ${usual.toFixed(1)})`,
      details: { station, last10Minutes: last10, usualPer10Minutes: Number(usual.toFixed(2)) },
    };
  };
}
