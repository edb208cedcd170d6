import { getServices } from "@loopy/api/services";
import { SignInLimiter } from "@loopy/api/sign-in-limiter";
import { handleSignIn } from "@loopy/api/web-routes";

export const dynamic = "force-dynamic";

const limiter = new SignInLimiter();

/** Signs a browser in (packages/api/src/web-routes.ts); failures slowed per client address and user name. */
export function POST(req: Request) {
  return handleSignIn(req, getServices(), limiter);
}
