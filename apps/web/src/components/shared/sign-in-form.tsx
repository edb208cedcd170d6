"use client";

import { useSearchParams } from "next/navigation";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { buttonClass } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { surfaceClass } from "~/components/ui/panel";

/** Only paths on this site: `next` must never send a signed-in user elsewhere. */
function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function signIn(body: Record<string, string>): Promise<string | null> {
  const response = await fetch("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.ok) return null;
  const data = (await response.json().catch(() => ({}))) as { error?: string };
  return data.error ?? `Sign-in failed (${response.status})`;
}

/**
 * User name and password, or a one-time sign-in link that `npm start` or `loopy sign-in-link` prints
 * (`/login#code=…`; `#token=…` with an API token works too): the fragment never reaches a server log.
 * `passwordFile` is where this server keeps the admin's password (under its LOOPY_HOME).
 */
export function SignInForm({ passwordFile = ".loopy/admin-password" }: { passwordFile?: string }) {
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tried = useRef(false);

  useEffect(() => {
    const fromFragment = () => {
      const fragment = new URLSearchParams(window.location.hash.slice(1));
      const code = fragment.get("code");
      const token = fragment.get("token");
      if ((!code && !token) || tried.current) return;
      tried.current = true;
      history.replaceState(null, "", window.location.pathname + window.location.search);
      setBusy(true);
      setError(null);
      void signIn(code ? { code } : { token: token as string }).then((failure) => {
        // A later link (a new code pasted into this tab) may try again.
        tried.current = false;
        if (failure) {
          setError(failure);
          setBusy(false);
        } else window.location.assign(next);
      });
    };
    fromFragment();
    // A link opened in a tab already on /login changes only the fragment: no new page load, only this event.
    window.addEventListener("hashchange", fromFragment);
    return () => window.removeEventListener("hashchange", fromFragment);
  }, [next]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    const failure = await signIn({
      name: String(form.get("name") ?? ""),
      password: String(form.get("password") ?? ""),
    });
    if (failure) {
      setError(failure);
      setBusy(false);
    } else window.location.assign(next);
  }

  return (
    <div className="mx-auto mt-16 max-w-sm space-y-6">
      <div>
        <h1 className="text-xl font-semibold text-white">Sign in to Loopy</h1>
        <p className="mt-1 text-sm text-gray-400">
          On this machine, open the one-time sign-in link <code className="text-gray-300">npm start</code> printed (a
          new one: <code className="text-gray-300">npx loopy sign-in-link</code>), or sign in as{" "}
          <code className="text-gray-300">admin</code> with the password in{" "}
          <code data-testid="admin-password-file" className="break-all text-gray-300">
            {passwordFile}
          </code>
          .
        </p>
      </div>
      <form onSubmit={submit} className={`${surfaceClass} space-y-4 p-5`}>
        <Field label="User name">
          <input name="name" autoComplete="username" required className={inputClass} defaultValue="admin" />
        </Field>
        <Field label="Password">
          <input name="password" type="password" autoComplete="current-password" required className={inputClass} />
        </Field>
        <ErrorNote message={error} />
        <button type="submit" disabled={busy} className={`${buttonClass} w-full justify-center`}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
