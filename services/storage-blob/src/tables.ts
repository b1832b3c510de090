export interface ObjectRow {
  service_id: string;
  key: string;
  file: string;
  size: number;
  content_type: string;
  sha256: string;
  updated_at: number;
  /** User metadata (`x-swarm-meta-*`) as a JSON object of lowercase names to values; null for none. */
  metadata: string | null;
}

/** One row per instance, updated first in every write so writes of one instance take turns (SPEC §12 quota). */
export interface QuotaLockRow {
  service_id: string;
  writes: number;
}

/** Secrets of the service itself (the presign secret), one row each. */
export interface SecretRow {
  name: string;
  value: string;
}

export interface Tables {
  blob_objects: ObjectRow;
  blob_quota_locks: QuotaLockRow;
  blob_secrets: SecretRow;
}
