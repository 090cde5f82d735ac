/** Passed into the CA so that validity, expiry and schedules can be tested with another time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

