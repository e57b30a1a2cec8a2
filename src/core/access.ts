/**
 * Roles (SPEC §10), each including the ones before it: `viewer` reads; `operator` attests,
 * resumes, cancels and retries; `author` stores manifests and starts runs; `admin` manages
 * tokens and reads the audit log.
 */
export const ROLES = ['viewer', 'operator', 'author', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Whether `role` includes everything `required` may do. */
export function roleIncludes(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

/** Who made a request: a token's name and role, or nobody in particular with authentication off. */
export type Principal =
  | { readonly kind: 'token'; readonly tokenId: string; readonly name: string; readonly role: Role; readonly expiresAt: Date | null }
  | { readonly kind: 'auth-off' };

/** A token name: the person or system it stands for. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/;
