import { z } from "zod";
import { badInput } from "../shared/errors.ts";

/**
 * Routing: a project's rules pick the agent (an adapter or a profile name) from a
 * task's tags, so a batch of mixed tasks goes to the right system without
 * choosing by hand. Rules are tried in order; the first whose tag the task has wins.
 */
const TAG = /^[a-z0-9][a-z0-9._:-]{0,63}$/;

const routingRuleSchema = z.object({
  tag: z
    .string()
    .trim()
    .toLowerCase()
    .regex(TAG, "a tag is lower-case letters, digits, '.', '_', ':' or '-' (at most 64)"),
  agent: z.string().trim().min(1, "a rule names the agent (adapter or profile) it routes to").max(64),
});
export type RoutingRule = z.infer<typeof routingRuleSchema>;
const routingRulesSchema = z.array(routingRuleSchema).max(100, "at most 100 routing rules");

/** Reads a project's stored (or submitted) rules, saying which one is wrong and why. */
export function parseRoutingRules(value: unknown): RoutingRule[] {
  const parsed = routingRulesSchema.safeParse(value ?? []);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badInput(
      `Invalid routing rules: ${issue ? `${issue.path.join(".") || "rules"}: ${issue.message}` : "not a list"}`,
    );
  }
  return parsed.data;
}

/** Trims, lower-cases and de-duplicates tags; refuses malformed ones. */
export function normalizeTags(tags: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const raw of tags ?? []) {
    const tag = raw.trim().toLowerCase();
    if (!tag) continue;
    if (!TAG.test(tag))
      throw badInput(`Invalid tag "${raw}": use lower-case letters, digits, '.', '_', ':' or '-' (at most 64)`);
    if (!out.includes(tag)) out.push(tag);
  }
  if (out.length > 20) throw badInput("A task has at most 20 tags");
  return out;
}

/** The agent the first matching rule names, and the rule in words ("tag docs → cheap"); null when none matches. */
export function routeByTags(
  rules: readonly RoutingRule[],
  tags: readonly string[],
): { agent: string; rule: string } | null {
  for (const rule of rules) {
    if (tags.includes(rule.tag)) return { agent: rule.agent, rule: `tag ${rule.tag} → ${rule.agent}` };
  }
  return null;
}
