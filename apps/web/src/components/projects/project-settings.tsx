"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "~/trpc/client";
import { ErrorNote, inputClass } from "~/components/ui/field";
import { Button } from "~/components/ui/button";

const EXAMPLE = `[
  { "name": "tests", "kind": "command", "command": "npm test", "timeout": "10m" },
  { "name": "typecheck", "kind": "command", "command": "npx tsc --noEmit" },
  { "name": "small-diff", "kind": "max_changed_lines", "max": 400 },
  { "name": "tests-untouched", "kind": "protected_paths", "globs": ["test/**"] },
  { "name": "no-secrets", "kind": "forbidden_paths", "globs": [".env*"], "required": true }
]`;

/** A project's checkpoints (as JSON, like loopy.json in the repository), routing rules, merge strategy, commit author and attempts. */
export function ProjectSettings({
  project,
}: {
  project: {
    id: string;
    name: string;
    checkpoints: unknown;
    mergeStrategy: string;
    maxAttempts: number;
    routingRules?: unknown;
    egressHosts?: unknown;
    commitAuthorName?: string | null;
    commitAuthorEmail?: string | null;
  };
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [text, setText] = useState(JSON.stringify(project.checkpoints ?? [], null, 2));
  const [strategy, setStrategy] = useState(project.mergeStrategy);
  const [attempts, setAttempts] = useState(String(project.maxAttempts));
  const [authorName, setAuthorName] = useState(project.commitAuthorName ?? "");
  const [authorEmail, setAuthorEmail] = useState(project.commitAuthorEmail ?? "");
  const [rules, setRules] = useState(JSON.stringify(project.routingRules ?? [], null, 2));
  const [hosts, setHosts] = useState(
    Array.isArray(project.egressHosts) ? (project.egressHosts as string[]).join("\n") : "",
  );
  const [parseError, setParseError] = useState<string | null>(null);
  const save = useMutation(
    trpc.projects.update.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.projects.list.queryKey() }),
    }),
  );
  return (
    <form
      className="space-y-3"
      aria-label={`Settings of ${project.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        let checkpoints: unknown[];
        let routingRules: Array<{ tag: string; agent: string }>;
        try {
          checkpoints = JSON.parse(text) as unknown[];
          if (!Array.isArray(checkpoints)) throw new Error("checkpoints must be a JSON list");
          routingRules = JSON.parse(rules || "[]") as Array<{ tag: string; agent: string }>;
          if (!Array.isArray(routingRules)) throw new Error("routing rules must be a JSON list");
        } catch (error) {
          setParseError(`Not valid JSON: ${(error as Error).message}`);
          return;
        }
        setParseError(null);
        const egressHosts = hosts.split(/[\s,]+/).filter(Boolean);
        save.mutate({
          project: project.id,
          checkpoints,
          routingRules,
          egressHosts,
          mergeStrategy: strategy as "merge" | "squash",
          maxAttempts: Number(attempts),
          commitAuthorName: authorName,
          commitAuthorEmail: authorEmail,
        });
      }}
    >
      <label className="block space-y-1">
        <span className="text-xs font-medium uppercase tracking-wide text-gray-400">
          Checkpoints (run after every agent turn)
        </span>
        <textarea
          aria-label="Checkpoints"
          className={`${inputClass} min-h-40 font-mono text-xs`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder={EXAMPLE}
        />
        <span className="block text-xs text-gray-500">
          Kinds: command, max_changed_lines, forbidden_paths, protected_paths. A loopy.json with{" "}
          {'{ "checkpoints": [...] }'} at the repository root adds more.
        </span>
      </label>
      <label className="block space-y-1">
        <span className="text-xs font-medium uppercase tracking-wide text-gray-400">
          Routing rules (tags pick the agent)
        </span>
        <textarea
          aria-label="Routing rules"
          className={`${inputClass} min-h-16 font-mono text-xs`}
          value={rules}
          onChange={(e) => setRules(e.target.value)}
          placeholder={'[{ "tag": "docs", "agent": "cheap-model" }, { "tag": "refactor", "agent": "claude" }]'}
        />
        <span className="block text-xs text-gray-500">
          A task launched with tags and no agent goes to the first rule whose tag it has; the run shows the rule.
        </span>
      </label>
      <label className="block space-y-1">
        <span className="text-xs font-medium uppercase tracking-wide text-gray-400">
          Network: hosts agents may reach
        </span>
        <textarea
          aria-label="Allowed hosts"
          className={`${inputClass} min-h-12 font-mono text-xs`}
          value={hosts}
          onChange={(e) => setHosts(e.target.value)}
          placeholder={"registry.npmjs.org\n*.pypi.org\n10.0.0.5:8080"}
        />
        <span className="block text-xs text-gray-500">
          Sandboxed agents, checkpoints and experiments have no network but their model endpoint and these hosts (one
          per line), through Loopy&apos;s egress proxy. Loopy&apos;s own database, Redis and web are never reachable.
        </span>
      </label>
      <div className="flex flex-wrap items-end gap-4">
        <label className="space-y-1">
          <span className="block text-xs font-medium uppercase tracking-wide text-gray-400">On approve</span>
          <select
            aria-label="Merge strategy"
            className={inputClass}
            value={strategy}
            onChange={(e) => setStrategy(e.target.value)}
          >
            <option value="merge">Merge commit</option>
            <option value="squash">Squash</option>
          </select>
        </label>
        <div
          className="space-y-1"
          title="Who the commits approvals put on the default branch are authored by; Loopy stays the committer"
        >
          <span className="block text-xs font-medium uppercase tracking-wide text-gray-400">Commit author</span>
          <span className="flex gap-2">
            <input
              aria-label="Commit author name"
              className={`${inputClass} w-40`}
              value={authorName}
              onChange={(e) => setAuthorName(e.target.value)}
              placeholder="Loopy"
            />
            <input
              aria-label="Commit author email"
              className={`${inputClass} w-56`}
              value={authorEmail}
              onChange={(e) => setAuthorEmail(e.target.value)}
              placeholder="loopy@localhost"
            />
          </span>
        </div>
        <label className="space-y-1">
          <span className="block text-xs font-medium uppercase tracking-wide text-gray-400">Attempts per run</span>
          <input
            aria-label="Attempts"
            className={`${inputClass} w-24`}
            value={attempts}
            onChange={(e) => setAttempts(e.target.value)}
          />
        </label>
        <Button size="lg" type="submit" disabled={save.isPending}>
          Save settings
        </Button>
        {save.isSuccess && <span className="text-xs text-emerald-400">Saved</span>}
      </div>
      <ErrorNote message={parseError ?? save.error?.message} />
    </form>
  );
}
