import { knownDead } from '../base/instance.js';
import type { Store } from '../store/handle.js';
import type { DeviceRow } from '../store/factory.js';
import { lastHeartbeat } from '../store/health.js';

/**
 * Whether a device's reservation belongs to a request that died: its instance is gone from this host
 * (at once), or has missed its heartbeat for longer than the lease (another host), or the reservation is
 * older than `staleMs` whatever else is known (a request stuck in its instance).
 */
export async function reservationAbandoned(store: Store, device: Pick<DeviceRow, 'provisioned_at' | 'reserved_by'>, now: number, limits: { staleMs: number; leaseMs: number }): Promise<boolean> {
  const age = now - Number(device.provisioned_at);
  if (age > limits.staleMs) return true;
  if (!device.reserved_by) return false;
  if (knownDead(device.reserved_by)) return true;
  const beat = await lastHeartbeat(store, device.reserved_by);
  return beat !== undefined ? beat < now - limits.leaseMs : age > limits.leaseMs;
}
