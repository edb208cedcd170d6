"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { ROLE_DESCRIPTIONS, ROLES, type Role } from "@loopy/core/access/roles";
import { useTRPC } from "~/trpc/client";
import { Button } from "~/components/ui/button";
import { ErrorNote, Field, inputClass } from "~/components/ui/field";
import { Panel } from "~/components/ui/panel";
import { SettingsTabs } from "./settings-tabs";
import { Select } from "~/components/ui/select";

const when = (d: Date | null) => (d ? new Date(d).toLocaleString() : "never");

/** Users (roles, disable, passwords) and API tokens (created once, shown once, revocable). Admins only. */
export function UsersPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const isAdmin = me.data?.role === "admin";
  const users = useQuery(trpc.auth.users.queryOptions(undefined, { enabled: isAdmin }));
  const tokens = useQuery(trpc.auth.tokens.queryOptions(undefined, { enabled: isAdmin }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.auth.pathKey() });
  const createUser = useMutation(trpc.auth.createUser.mutationOptions({ onSuccess: refresh }));
  const updateUser = useMutation(trpc.auth.updateUser.mutationOptions({ onSuccess: refresh }));
  const createToken = useMutation(trpc.auth.createToken.mutationOptions({ onSuccess: refresh }));
  const revokeToken = useMutation(trpc.auth.revokeToken.mutationOptions({ onSuccess: refresh }));
  const [user, setUser] = useState({ name: "", role: "viewer" as Role, password: "" });
  const [token, setToken] = useState({ name: "", user: "", role: "" });

  if (me.data && !isAdmin) {
    return (
      <div className="space-y-4">
        <SettingsTabs admin={false} />
        <p className="text-sm text-gray-400">Users and tokens are managed by an admin.</p>
      </div>
    );
  }

  function addUser(event: FormEvent) {
    event.preventDefault();
    createUser.mutate(
      { name: user.name, role: user.role, ...(user.password ? { password: user.password } : {}) },
      { onSuccess: () => setUser({ name: "", role: "viewer", password: "" }) },
    );
  }

  function addToken(event: FormEvent) {
    event.preventDefault();
    createToken.mutate(
      {
        name: token.name,
        ...(token.user ? { user: token.user } : {}),
        ...(token.role ? { role: token.role as Role } : {}),
      },
      { onSuccess: () => setToken({ name: "", user: "", role: "" }) },
    );
  }

  return (
    <div className="space-y-6">
      <SettingsTabs admin />
      <Panel title="Users">
        <table data-testid="users-table" className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-gray-500">
            <tr>
              <th className="py-1.5">Name</th>
              <th>Role</th>
              <th>Signs in</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.data?.map((u) => (
              <tr key={u.id} className="border-t border-white/5">
                <td className="py-2 font-medium text-gray-100">
                  {u.name}{" "}
                  {u.disabled && (
                    <span className="ml-1 rounded bg-red-500/20 px-1.5 text-xs text-red-200">disabled</span>
                  )}
                </td>
                <td>
                  <select
                    aria-label={`Role of ${u.name}`}
                    className="rounded border border-white/10 bg-black/30 px-2 py-1 text-sm"
                    value={u.role}
                    onChange={(e) => updateUser.mutate({ name: u.name, role: e.target.value as Role })}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td className="text-gray-400">{u.canSignIn ? "with a password" : "tokens only"}</td>
                <td className="text-gray-400">{when(u.createdAt)}</td>
                <td className="text-right">
                  <button
                    type="button"
                    className="text-xs text-gray-400 hover:text-white"
                    onClick={() => updateUser.mutate({ name: u.name, disabled: !u.disabled })}
                  >
                    {u.disabled ? "Enable" : "Disable"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <ErrorNote message={updateUser.error?.message} />
        <form onSubmit={addUser} className="mt-4 grid gap-3 md:grid-cols-4" aria-label="New user">
          <Field label="Name">
            <input
              aria-label="New user name"
              className={inputClass}
              value={user.name}
              onChange={(e) => setUser({ ...user, name: e.target.value })}
              placeholder="ada"
            />
          </Field>
          <Field label="Role" hint={ROLE_DESCRIPTIONS[user.role]}>
            <Select
              aria-label="New user role"
              value={user.role}
              onChange={(e) => setUser({ ...user, role: e.target.value as Role })}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Password" hint="At least 10 characters; leave empty for a tokens-only user">
            <input
              aria-label="New user password"
              type="password"
              autoComplete="new-password"
              className={inputClass}
              value={user.password}
              onChange={(e) => setUser({ ...user, password: e.target.value })}
            />
          </Field>
          <div className="flex items-start pt-5">
            <Button size="lg" type="submit" disabled={!user.name || createUser.isPending}>
              Add user
            </Button>
          </div>
        </form>
        <ErrorNote message={createUser.error?.message} />
      </Panel>

      <Panel title="API tokens">
        {createToken.data && (
          <div
            data-testid="new-token"
            className="mb-4 rounded-md border border-emerald-400/30 bg-emerald-500/10 p-3 text-sm text-emerald-100"
          >
            Token <b>{createToken.data.name}</b> for {createToken.data.user} ({createToken.data.role}). Copy it now, it
            is not shown again:
            <span className="mt-2 flex items-start gap-2">
              <code className="block flex-1 select-all break-all rounded bg-black/40 px-2 py-1 font-mono text-xs">
                {createToken.data.token}
              </code>
              <CopyButton text={createToken.data.token} />
            </span>
            <span className="mt-1 block text-xs text-emerald-200/70">
              Use it as LOOPY_TOKEN, or send it as Authorization: Bearer …
            </span>
          </div>
        )}
        <table data-testid="tokens-table" className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-gray-500">
            <tr>
              <th className="py-1.5">Name</th>
              <th>User</th>
              <th>Role</th>
              <th>Starts with</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data?.map((t) => (
              <tr key={t.id} className={`border-t border-white/5 ${t.revoked ? "text-gray-600" : ""}`}>
                <td className="py-2">{t.name}</td>
                <td>{t.user}</td>
                <td>{t.role}</td>
                <td className="font-mono text-xs">{t.prefix}…</td>
                <td>{when(t.lastUsedAt)}</td>
                <td className="text-right">
                  {t.revoked ? (
                    "revoked"
                  ) : (
                    <button
                      type="button"
                      className="text-xs text-red-300 hover:text-red-200"
                      onClick={() => revokeToken.mutate({ id: t.id })}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <form onSubmit={addToken} className="mt-4 grid gap-3 md:grid-cols-4" aria-label="New token">
          <Field label="What it is for">
            <input
              aria-label="Token name"
              className={inputClass}
              value={token.name}
              onChange={(e) => setToken({ ...token, name: e.target.value })}
              placeholder="CI pipeline"
            />
          </Field>
          <Field label="User" hint="Empty: you">
            <input
              aria-label="Token user"
              className={inputClass}
              value={token.user}
              onChange={(e) => setToken({ ...token, user: e.target.value })}
            />
          </Field>
          <Field label="Role" hint="At most the user's role">
            <Select
              aria-label="Token role"
              value={token.role}
              onChange={(e) => setToken({ ...token, role: e.target.value })}
            >
              <option value="">the user's role</option>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </Select>
          </Field>
          <div className="flex items-start pt-5">
            <Button size="lg" type="submit" disabled={!token.name || createToken.isPending}>
              Create token
            </Button>
          </div>
        </form>
        <ErrorNote message={createToken.error?.message ?? revokeToken.error?.message} />
      </Panel>
    </div>
  );
}

/**
 * Copies a secret shown once. The clipboard API needs a secure context (https or localhost); elsewhere
 * the older execCommand copy of a hidden field still works.
 */
function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  useEffect(() => {
    if (copied === null) return;
    const timer = setTimeout(() => setCopied(null), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      const field = document.createElement("textarea");
      field.value = text;
      field.style.position = "fixed";
      field.style.opacity = "0";
      document.body.appendChild(field);
      field.select();
      setCopied(document.execCommand("copy"));
      field.remove();
    }
  }
  return (
    <button
      type="button"
      onClick={() => void copy()}
      className="shrink-0 rounded border border-emerald-400/40 px-2 py-1 text-xs text-emerald-100 hover:bg-emerald-500/20"
    >
      {copied === null ? "Copy" : copied ? "Copied" : "Copy failed: select it"}
    </button>
  );
}
