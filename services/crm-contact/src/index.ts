import { LOCAL_REGIONS, LOCAL_TIERS, type ServiceHandle, type ServiceOptions, startService } from '@swarm/service-kit';
import { contactsDomain } from './contacts.js';

export type CrmContactOptions = Omit<ServiceOptions, 'provider' | 'serviceType' | 'tiers' | 'regions'> &
  Partial<Pick<ServiceOptions, 'provider' | 'tiers' | 'regions'>>;

/** Starts the `crm-contact` service (provider `contact.crm.local` unless told otherwise). */
export function startCrmContact(options: CrmContactOptions): Promise<ServiceHandle> {
  return startService(
    {
      provider: 'contact.crm.local',
      tiers: LOCAL_TIERS,
      regions: LOCAL_REGIONS,
      description: 'Contacts: name, email, company and notes, searchable, per app instance',
      ...options,
      serviceType: 'crm-contact',
    },
    contactsDomain,
  );
}

export { contactsDomain } from './contacts.js';
export { ContactInput } from './fields.js';
