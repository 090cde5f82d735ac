import type { Knex } from 'knex';
import * as m001 from './001_initial.js';
import * as m002 from './002_security_plane.js';
import * as m003 from './003_revocation.js';
import * as m004 from './004_est.js';
import * as m005 from './005_factory.js';
import * as m006 from './006_ca_generations.js';
import * as m007 from './007_indexes_for_scale.js';
import * as m008 from './008_issuance_policy.js';
import * as m009 from './009_health.js';
import * as m010 from './010_renewal_grants.js';
import * as m011 from './011_enrollment_requests.js';
import * as m012 from './012_token_revocation.js';
import * as m013 from './013_last_seen.js';
import * as m014 from './014_audit_pending.js';
import * as m015 from './015_ocsp_responses.js';
import * as m016 from './016_crl_partitions.js';
import * as m017 from './017_firmware_signing.js';
import * as m018 from './018_signer_lifecycle.js';
import * as m019 from './019_cmp.js';
import * as m020 from './020_tpm_attestation.js';
import * as m021 from './021_scep.js';
import * as m022 from './022_issued_statistics.js';
import * as m023 from './023_status_notify.js';
import * as m024 from './024_record_issued_refusal.js';
import * as m025 from './025_ocsp_written_in.js';

const migrations: Record<string, Knex.Migration> = {
  '001_initial': m001,
  '002_security_plane': m002,
  '003_revocation': m003,
  '004_est': m004,
  '005_factory': m005,
  '006_ca_generations': m006,
  '007_indexes_for_scale': m007,
  '008_issuance_policy': m008,
  '009_health': m009,
  '010_renewal_grants': m010,
  '011_enrollment_requests': m011,
  '012_token_revocation': m012,
  '013_last_seen': m013,
  '014_audit_pending': m014,
  '015_ocsp_responses': m015,
  '016_crl_partitions': m016,
  '017_firmware_signing': m017,
  '018_signer_lifecycle': m018,
  '019_cmp': m019,
  '020_tpm_attestation': m020,
  '021_scep': m021,
  '022_issued_statistics': m022,
  '023_status_notify': m023,
  '024_record_issued_refusal': m024,
  '025_ocsp_written_in': m025,
};

/** Migrations are imported, not globbed from disk, so they work the same from src/ and dist/. */
export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
