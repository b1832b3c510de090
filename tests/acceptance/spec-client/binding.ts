import { type Data, type Envelope, envelope, fresh } from './envelope.js';
import { generateSigningKey, type SigningKey, signObject } from './keys.js';

/** A service instance of our own provider: its id, key and endpoint. */
export interface Instance {
  serviceId: string;
  serviceType: string;
  key: SigningKey;
  endpointUrl: string;
}

export function newInstance(serviceType: string, serviceId: string, baseUrl: string): Instance {
  return { serviceId, serviceType, key: generateSigningKey(), endpointUrl: `${baseUrl}/i/${serviceId}/api/v1` };
}

export interface BindingOptions {
  serviceBinding?: Data;
  providerKey: SigningKey;
}

/** SPEC §5.2: the developer's proof verbatim, the service binding, the provider's signature. */
export function bindingRequest(proof: Envelope, instance: Instance, options: BindingOptions): Data {
  const developer_proof = { payload: proof.data, signature: proof.signature };
  const service_binding = fresh({
    service_id: instance.serviceId,
    service_type: instance.serviceType,
    public_key: instance.key.publicKey,
    endpoint_url: instance.endpointUrl,
    ...options.serviceBinding,
  });
  const binding_signature = signObject('binding', { developer_proof, service_binding }, options.providerKey);
  return { version: '1.0', developer_proof, service_binding, binding_signature };
}

/** SPEC §9.1–9.2: a call signed by the instance key. */
export function serviceCall(appId: string, instance: Instance, extra: Data = {}, key: SigningKey = instance.key): Envelope {
  return envelope('service_call', fresh({ app_id: appId, service_id: instance.serviceId, ...extra }), key);
}
