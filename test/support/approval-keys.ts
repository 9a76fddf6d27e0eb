import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database';
import { issueApprovalToken } from '../../src/db/approval-tokens.repository';
import type { Role } from '../../src/domain/identity/roles';
import {
  type ApprovalPrivateKey,
  type ApprovalPublicKey,
  generateApprovalKeyPair,
} from '../../src/security/approval-keys';
import { signApprovalToken } from '../../src/security/approval-tokens';

/** A fresh Ed25519 key pair for one test file, and the ways tests use it. */
export interface TestApprovalKeys {
  privateKey: ApprovalPrivateKey;
  publicKeys: ApprovalPublicKey[];
  /** The key settings as a deployment gives them (JSON in the variables). */
  env: { WARDEN_APPROVAL_PRIVATE_KEY: string; WARDEN_APPROVAL_PUBLIC_KEYS: string };
  /** Approval settings a worker verifies with: public keys only. */
  settings(
    environment: string,
    signed?: boolean,
  ): { environment: string; approvals: { signed: boolean; publicKeys: ApprovalPublicKey[] } };
  /** A raw JWS, as a caller holding one would present it. */
  sign(input: TokenRequest): Promise<string>;
  /** A JWS stored as the API stores it: answers its `wtr_…` reference. */
  issue(db: Kysely<Database>, input: TokenRequest): Promise<string>;
}

export interface TokenRequest {
  subject: string;
  roles: Role[];
  audience: string;
  environment?: string;
  ttlMs?: number;
  now?: Date;
}

export function testApprovalKeys(): TestApprovalKeys {
  const { privateKey, publicKey } = generateApprovalKeyPair();
  const publicKeys = [publicKey];
  const request = (input: TokenRequest) => ({
    subject: input.subject,
    roles: input.roles,
    audience: input.audience,
    environment: input.environment ?? 'test',
    ttlMs: input.ttlMs ?? 5 * 60_000,
    privateKey,
    ...(input.now ? { now: input.now } : {}),
  });
  return {
    privateKey,
    publicKeys,
    env: {
      WARDEN_APPROVAL_PRIVATE_KEY: JSON.stringify(privateKey),
      WARDEN_APPROVAL_PUBLIC_KEYS: JSON.stringify({ keys: publicKeys }),
    },
    settings: (environment, signed = true) => ({ environment, approvals: { signed, publicKeys } }),
    sign: async (input) => (await signApprovalToken(request(input))).token,
    issue: async (db, input) => (await issueApprovalToken(db, request(input))).reference,
  };
}
