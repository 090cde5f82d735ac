import { asStore } from '../src/store/handle.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPostgres, openDatabase } from '../src/store/db.js';
import { deviceQuery, newestDevices, type DeviceListFilter } from '../src/store/factory.js';
import { BACKENDS } from './helpers/backends.js';

/**
 * The newest devices, merged from one ordered range per line (src/factory/device-list.ts), are the
 * devices a plain sort of them all would give, whatever the filter; and each line's range is read
 * through the (line, provisioned_at) index.
 */
for (const make of BACKENDS) {
  test(`${make().name}: newest devices per line, merged, are the newest devices`, async () => {
    const backend = make();
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hm-devices-'));
    const db = await openDatabase({ home, url: backend.url, schema: backend.schema });
    try {
      for (const line of ['line-a', 'line-b', 'line-c']) await db('stations').insert({ name: `st-${line}`, line, profiles: '[]', quota_per_hour: 1, created_by: 't', created_at: 0 });
      // 150 devices over three lines, uneven, with ties in provisioned_at and both states.
      const devices = Array.from({ length: 150 }, (_, i) => ({
        serial: `D${String((i * 37) % 150).padStart(4, '0')}`,
        state: i % 7 === 0 ? 'provisioning' : 'provisioned',
        line: ['line-a', 'line-b', 'line-b', 'line-c'][i % 4]!,
        station: 'st',
        model: 'm',
        lot: `lot-${i % 5}`,
        firmware_version: '1',
        profile: 'device',
        key_sha256: 'x',
        server_keygen: false,
        certificate_serial: null,
        provisioned_at: 1_000_000 + Math.floor(i / 3),
      }));
      await db('devices').insert(devices);
      const expected = (filter: Omit<DeviceListFilter, 'limit'>, limit: number) =>
        devices
          .filter((d) => (!filter.line || d.line === filter.line) && (!filter.lot || d.lot === filter.lot) && (!filter.state || d.state === filter.state) && (!filter.serialPrefix || d.serial.startsWith(filter.serialPrefix)))
          .sort((a, b) => b.provisioned_at - a.provisioned_at || (a.serial < b.serial ? -1 : 1))
          .slice(0, limit)
          .map((d) => d.serial);
      for (const filter of [{}, { state: 'provisioning' }, { line: 'line-b' }, { lot: 'lot-3' }, { serialPrefix: 'D01' }, { lot: 'lot-2', line: 'line-a' }]) {
        for (const limit of [1, 10, 100, 1000]) {
          const got = (await newestDevices(asStore(db), { ...filter, limit })).map((d) => d.serial);
          assert.deepEqual(got, expected(filter, limit), `${JSON.stringify(filter)} limit ${limit}`);
        }
      }
      if (!isPostgres(db)) {
        const q = deviceQuery(db, { line: 'line-a', limit: 100 }).toSQL().toNative();
        const plan = ((await db.raw(`EXPLAIN QUERY PLAN ${q.sql}`, q.bindings)) as { detail: string }[]).map((r) => r.detail).join('\n');
        assert.match(plan, /devices_line_provisioned_at_index/);
        // Ties in provisioned_at are ordered by serial group by group, never a sort of the whole line.
        assert.doesNotMatch(plan, /TEMP B-TREE FOR ORDER BY/);
      }
    } finally {
      await db.destroy();
      await backend.cleanup();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
}
