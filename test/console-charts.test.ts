import { asStore } from '../src/store/handle.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartSeries } from '../src/store/reports.js';
import { BACKENDS, withTemporaryDatabase } from './helpers/backends.js';

/** The console's chart series, counted by each database, against the same counts made here by hand. */
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;
// Mid-hour, so "this hour" and the window's first hour are easy to aim at.
const NOW = Math.floor(1_800_000_000_000 / HOUR) * HOUR + 30 * 60_000;
const FIRST_HOUR = Math.floor(NOW / HOUR) * HOUR - 167 * HOUR;

for (const make of BACKENDS) {
  test(`${make().name}: chart series are counted by the database`, () =>
    withTemporaryDatabase(make(), 'hm-charts-', async (db) => {
      await db('cas').insert({ name: 'issuing', key_uri: 'pkcs11:object=i', key_type: 'ec-p256', certificate: Buffer.from('i'), serial: '01', subject: 'CN=i', ski: '00', not_before: 0, not_after: NOW * 2, created_at: 0 });
      for (const [name, line] of [['st-a1', 'line-a'], ['st-a2', 'line-a'], ['st-b', 'line-b']]) {
        await db('stations').insert({ name, line, profiles: '["device"]', quota_per_hour: 1000, created_by: 'test', created_at: 0 });
      }
      let n = 0;
      const record = (station: string, line: string, at: number) => ({ device_serial: `dev-${n++}`, line, station, model: 'm', lot: 'l', firmware_version: '1', certificate_serial: `c${n}`, at });
      await db('manufacturing_records').insert([
        record('st-a1', 'line-a', FIRST_HOUR - 1), // just before the window: not counted
        record('st-a1', 'line-a', FIRST_HOUR), // the first hour
        record('st-a2', 'line-a', FIRST_HOUR + HOUR - 1), // still the first hour, another station of the line
        record('st-a1', 'line-a', NOW), // this hour
        record('st-b', 'line-b', FIRST_HOUR + 100 * HOUR + 5),
        record('st-b', 'line-b', FIRST_HOUR + 100 * HOUR + 6),
      ]);
      let c = 0;
      const certificate = (status: string, notAfter: number, reason: string | null = null, profile = 'device', requestedBy = 'test') => ({
        serial: `s${c++}`,
        issuer: 'issuing',
        profile,
        subject: 'CN=d',
        status,
        not_before: 0,
        not_after: notAfter,
        key_type: 'ec-p256',
        requested_by: requestedBy,
        created_at: 0,
        revocation_reason: reason,
      });
      await db('certificates').insert([
        certificate('active', NOW), // expired now: not counted
        certificate('active', NOW + 1), // week 0
        certificate('active', NOW + WEEK - 1), // week 0
        certificate('active', NOW + WEEK), // week 1
        certificate('active', NOW + WEEK + 5, null, 'station'), // week 1, another profile
        certificate('active', NOW + WEEK + 6, null, 'ocsp-signer', 'system:ocsp'), // renews itself: not counted
        certificate('active', NOW + 26 * WEEK), // the last moment of the window: week 25
        certificate('active', NOW + 26 * WEEK + 1), // beyond: not counted
        certificate('revoked', NOW + 2, 'keyCompromise'),
        certificate('revoked', NOW + 3, 'keyCompromise'),
        certificate('revoked', NOW + 4, null),
      ]);

      const series = await chartSeries(asStore(db), NOW);
      /** A series of `length` zeros but for the [index, count] entries given. */
      const countsOf = (length: number, entries: [number, number][]) => {
        const counts = new Array<number>(length).fill(0);
        for (const [index, count] of entries) counts[index] = count;
        return counts;
      };
      const hours = (entries: [number, number][]) => countsOf(168, entries);
      const weeksOf = (entries: [number, number][]) => countsOf(26, entries);
      assert.deepEqual(series.provisionedPerHour, {
        start: new Date(FIRST_HOUR).toISOString(),
        hours: 168,
        lines: [
          { line: 'line-a', counts: hours([[0, 2], [167, 1]]), total: 3 },
          { line: 'line-b', counts: hours([[100, 2]]), total: 2 },
        ],
      });
      assert.deepEqual(series.expiringPerWeek, {
        start: new Date(NOW).toISOString(),
        weeks: weeksOf([[0, 2], [1, 2], [25, 1]]),
        profiles: [
          { profile: 'device', weeks: weeksOf([[0, 2], [1, 1], [25, 1]]) },
          { profile: 'station', weeks: weeksOf([[1, 1]]) },
        ],
      });
      assert.deepEqual(series.revocationsByReason, [
        { reason: 'keyCompromise', count: 2 },
        { reason: 'unspecified', count: 1 },
      ]);
    }),
  );
}
