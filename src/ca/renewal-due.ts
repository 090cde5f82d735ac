/**
 * Certificates Hallmark holds for itself (OCSP responders, the HTTPS listener, the time-stamping
 * authority) are replaced once they enter the last third of their life: a successor exists well
 * before expiry, and the swap needs no restart.
 */
export const inLastThirdOfLife = (notBefore: number, notAfter: number, now: number): boolean => now >= notAfter - (notAfter - notBefore) / 3;
