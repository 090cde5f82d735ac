import type { Alert, AlertSink } from './sink.js';
import { createBurstRule } from './event-rules.js';
import { createStationRateRule } from './station-rate.js';

/**
 * The anomaly rules that count events and alert past a threshold, named by a plain spec so that the
 * primary of `serve --workers` can run them for all its workers (src/cluster/tallies.ts): counted per
 * worker, each rule's threshold held once per worker.
 */
export type TallySpec =
  | { rule: 'revocation-burst'; action: string; threshold: number; windowSeconds: number }
  | { rule: 'station-rate'; factor: number; minimum: number };

/** Counts `count` events of `key` under `spec` (raising the alert when the rule says so). */
export type Tally = (spec: TallySpec, key: string, count: number) => void;

/** The rules' counters, one per spec; `run` returns the alert to raise, if any. */
export function createTallyRules() {
  const rules = new Map<string, (key: string, now: number, count: number) => Alert | undefined>();
  return {
    run(spec: TallySpec, key: string, count: number, now: number): Alert | undefined {
      const id = JSON.stringify(spec);
      let rule = rules.get(id);
      if (!rule) {
        if (spec.rule === 'revocation-burst') {
          const burst = createBurstRule(spec.rule, spec);
          rule = (_key, at, n) => burst(at, n);
        } else rule = createStationRateRule(spec);
        rules.set(id, rule);
      }
      return rule(key, now, count);
    },
  };
}

/** Tallies counted in this process. */
export function localTally(alerts: AlertSink, now: () => number): Tally {
  const rules = createTallyRules();
  return (spec, key, count) => {
    const alert = rules.run(spec, key, count, now());
    if (alert) alerts.raise(alert);
  };
}
