import { createHmac } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import { now } from './envelope.js';
import { generateSigningKey, type SigningKey } from './keys.js';

export interface Claims {
  iss?: string;
  aud?: string;
  sub?: string;
  iat?: number;
  exp?: number;
  roles?: string[];
}

/** An app's Auth key of our own (SPEC §8): the developer delegates it and mints user tokens. */
export class AuthKey {
  readonly key: SigningKey = generateSigningKey();
  kid = '';

  constructor(
    readonly issuer: string,
    readonly appId: string,
  ) {}

  static async create(issuer: string, appId: string): Promise<AuthKey> {
    const auth = new AuthKey(issuer, appId);
    auth.kid = await calculateJwkThumbprint(auth.jwk(), 'sha256');
    return auth;
  }

  jwk(): { kty: 'OKP'; crv: 'Ed25519'; x: string } {
    return { kty: 'OKP', crv: 'Ed25519', x: this.key.publicKey.slice('ed25519:'.length) };
  }

  claims(overrides: Claims = {}): Claims {
    const iat = now();
    return { iss: this.issuer, aud: this.appId, sub: 'user-1', iat, exp: iat + 600, roles: ['editor'], ...overrides };
  }

  mint(overrides: Claims = {}, header: { kid?: string } = {}): Promise<string> {
    return new SignJWT({ ...this.claims(overrides) })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: this.kid, ...header })
      .sign(this.key.privateKey);
  }

  /** `alg: none`, no signature. */
  unsigned(): string {
    return `${part({ alg: 'none', typ: 'JWT', kid: this.kid })}.${part(this.claims())}.`;
  }

  /** HS256 keyed with the public key: the classic algorithm-confusion forgery. */
  hs256WithPublicKey(secret: Buffer | string): string {
    const input = `${part({ alg: 'HS256', typ: 'JWT', kid: this.kid })}.${part(this.claims())}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  }
}

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
