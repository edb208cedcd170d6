import type { Db } from "@loopy/db/client";
import { badInput, forbidden } from "../shared/errors.ts";
import { createSignInCode, updateUser } from "./accounts.ts";
import type { Actor } from "./roles.ts";

/** What a signed-in caller does for their own account, whatever their role. */

/** A signed-in user changes their own password (every browser session of theirs ends); Loopy itself has none. */
export async function changeOwnPassword(db: Db, actor: Actor, password: string): Promise<{ name: string }> {
  if (!actor.userId) throw forbidden("Only a user can change a password");
  const user = await db.user.findUniqueOrThrow({ where: { id: actor.userId } });
  await updateUser(db, user.name, { password });
  return { name: user.name };
}

/**
 * A one-time sign-in code for the caller's own user (`loopy sign-in-link`). Loopy itself is no user; a token
 * scoped below its user's role is refused, since the browser session the code opens has the user's full role.
 */
export async function createOwnSignInCode(db: Db, actor: Actor): Promise<{ code: string; expiresAt: Date }> {
  if (!actor.userId) throw badInput("Only a user can sign in: this caller is Loopy itself, not a user's token");
  const user = await db.user.findUniqueOrThrow({ where: { id: actor.userId } });
  if (user.role !== actor.role)
    throw forbidden(
      `This token is scoped to ${actor.role}, below its user's role (${user.role}); a browser session would have the user's role`,
    );
  return createSignInCode(db, user.id);
}
