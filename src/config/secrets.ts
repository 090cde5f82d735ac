import fs from 'node:fs';
import { HallmarkError } from '../base/errors.js';
import type { Environment } from './env.js';

/**
 * The token user PIN, from HALLMARK_PKCS11_PIN or HALLMARK_PKCS11_PIN_FILE. Never defaulted, never
 * logged: the error messages name the variables, not their values.
 */
export function readPin(pin: Environment['pin']): string {
  if (pin.env !== undefined && pin.env !== '') return pin.env;
  if (pin.file) {
    let text: string;
    try {
      text = fs.readFileSync(pin.file, 'utf8');
    } catch (e) {
      throw new HallmarkError('pin_missing', `cannot read HALLMARK_PKCS11_PIN_FILE (${pin.file}): ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 500);
    }
    const value = text.trim();
    if (!value) throw new HallmarkError('pin_missing', `HALLMARK_PKCS11_PIN_FILE (${pin.file}) is empty`, 500);
    return value;
  }
  throw new HallmarkError(
    'pin_missing',
    'no token PIN: set HALLMARK_PKCS11_PIN or HALLMARK_PKCS11_PIN_FILE (the dev setup writes one to $HALLMARK_HOME/hsm/user.pin)',
    500,
  );
}
