// Initializes a free SoftHSM slot as a token through PKCS#11 (C_InitToken, C_InitPIN), reading the SO
// PIN and the user PIN from standard input, one a line: no PIN ever appears in a process's arguments
// (softhsm2-util takes them only there, where `ps` shows them to every user).
// Usage: printf '%s\n%s\n' "$so_pin" "$pin" | node scripts/init-token.mjs <module> <label>
import graphene from 'graphene-pk11';

const [modulePath, label] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const [soPin, pin] = Buffer.concat(chunks).toString('utf8').split('\n');
if (!modulePath || !label || !soPin || !pin) {
  console.error('init-token: usage: printf "%s\\n%s\\n" SO_PIN PIN | node scripts/init-token.mjs <pkcs11 module> <label>');
  process.exit(2);
}
const mod = graphene.Module.load(modulePath, 'SoftHSM');
mod.initialize();
try {
  const slots = mod.getSlots(true);
  let free;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    if (!(slot.getToken().flags & graphene.TokenFlag.TOKEN_INITIALIZED)) free = slot;
  }
  if (!free) throw new Error('no free slot to initialize');
  // C_InitToken directly: graphene's initToken reads a return value pkcs11js does not give.
  // Blank-padded to 32 bytes as PKCS#11 §3.2 has it (pkcs11js would pad with NULs).
  free.lib.C_InitToken(free.handle, soPin, label.padEnd(32, ' '));
  // The slot list changes after C_InitToken (SoftHSM moves the new token to a slot of its own).
  const fresh = mod.getSlots(true);
  for (let i = 0; i < fresh.length; i++) {
    const slot = fresh.items(i);
    if (slot.getToken().label.trim() !== label) continue;
    const session = slot.open(graphene.SessionFlag.RW_SESSION | graphene.SessionFlag.SERIAL_SESSION);
    session.login(soPin, graphene.UserType.SO);
    session.initPin(pin);
    session.logout();
    session.close();
    process.exit(0);
  }
  throw new Error(`token "${label}" not found after initialization`);
} catch (e) {
  console.error(`init-token: ${e.message}`);
  process.exitCode = 1;
} finally {
  mod.finalize();
}
