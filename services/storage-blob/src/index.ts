import { LOCAL_REGIONS, LOCAL_TIERS, type ServiceHandle, type ServiceOptions, startService } from '@swarm/service-kit';
import { type BlobDomainOptions, createBlobDomain } from './blobs.js';

export type StorageBlobOptions = Omit<ServiceOptions, 'provider' | 'serviceType' | 'tiers' | 'regions'> &
  Partial<Pick<ServiceOptions, 'provider' | 'tiers' | 'regions'>> &
  BlobDomainOptions;

/** Starts the `storage-blob` service (provider `blob.storage.local` unless told otherwise). */
export function startStorageBlob(options: StorageBlobOptions): Promise<ServiceHandle> {
  const { bytesPerGb, maxParallelUploads, ...rest } = options;
  return startService(
    {
      provider: 'blob.storage.local',
      tiers: LOCAL_TIERS,
      regions: LOCAL_REGIONS,
      description: 'Objects: raw bytes under UTF-8 keys, streamed, within the instance storage limit',
      ...rest,
      serviceType: 'storage-blob',
    },
    createBlobDomain({
      ...(bytesPerGb === undefined ? {} : { bytesPerGb }),
      ...(maxParallelUploads === undefined ? {} : { maxParallelUploads }),
    }),
  );
}

export { type BlobDomainOptions, createBlobDomain, DEFAULT_MAX_PARALLEL_UPLOADS } from './blobs.js';
export { parseObjectKey } from './object-key.js';
