import path from "node:path";
import { connection } from "next/server";
import { Suspense } from "react";
import { loadEnv } from "@loopy/config/env";
import { ADMIN_PASSWORD_FILE } from "@loopy/core/access";
import { SignInForm } from "~/components/shared/sign-in-form";

export default async function LoginPage() {
  // Read per request, not at build time: the hint names the admin-password file of this server's LOOPY_HOME.
  await connection();
  return (
    <Suspense>
      <SignInForm passwordFile={passwordFileHint(loadEnv().LOOPY_HOME)} />
    </Suspense>
  );
}

/** The admin-password file as the reader would type it: relative to where Loopy was started when it is below it. */
function passwordFileHint(home: string): string {
  const file = path.join(home, ADMIN_PASSWORD_FILE);
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}
