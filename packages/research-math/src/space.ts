import { z } from "zod";

/**
 * A search space: each parameter name maps to a numeric range or a list of
 * choices. `log-float` samples uniformly in log space (learning rates).
 */
const numeric = z
  .object({ type: z.enum(["float", "log-float", "int"]), low: z.number(), high: z.number() })
  .refine((p) => p.low < p.high, { message: "low must be below high" })
  .refine((p) => p.type !== "log-float" || p.low > 0, { message: "a log-float range must be above 0" })
  .refine((p) => p.type !== "int" || (Number.isInteger(p.low) && Number.isInteger(p.high)), {
    message: "an int range needs whole-number bounds",
  });
const categorical = z.object({
  type: z.literal("categorical"),
  choices: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1, "give at least one choice"),
});
const paramSchema = z.union([numeric, categorical]);
const spaceSchema = z
  .record(z.string().regex(/^[A-Za-z_][\w.-]*$/, "parameter names are identifiers"), paramSchema)
  .refine((s) => Object.keys(s).length > 0, {
    message: "the space needs at least one parameter",
  });

export type Param = z.infer<typeof paramSchema>;
export type SearchSpace = z.infer<typeof spaceSchema>;
export type ParamValue = string | number | boolean;
export type Params = Record<string, ParamValue>;

/** Reads a search space, naming the parameter that is wrong. */
export function parseSpace(value: unknown): SearchSpace {
  const parsed = spaceSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `Invalid search space${issue?.path.length ? ` at ${issue.path.join(".")}` : ""}: ${issue?.message ?? "not an object"}`,
    );
  }
  return parsed.data;
}

/** Maps a numeric parameter to the unit interval and back (in log space for log-float). */
export function toUnit(param: Exclude<Param, { type: "categorical" }>, value: number): number {
  if (param.type === "log-float")
    return (Math.log(value) - Math.log(param.low)) / (Math.log(param.high) - Math.log(param.low));
  return (value - param.low) / (param.high - param.low);
}

export function fromUnit(param: Exclude<Param, { type: "categorical" }>, u: number): number {
  const clamped = Math.min(1, Math.max(0, u));
  if (param.type === "log-float")
    return Math.exp(Math.log(param.low) + clamped * (Math.log(param.high) - Math.log(param.low)));
  const value = param.low + clamped * (param.high - param.low);
  return param.type === "int" ? Math.round(value) : value;
}

/** One uniform random point of the space. */
export function sampleRandom(space: SearchSpace, rng: () => number): Params {
  const params: Params = {};
  for (const [name, param] of Object.entries(space)) {
    params[name] =
      param.type === "categorical"
        ? (param.choices[Math.floor(rng() * param.choices.length)] as ParamValue)
        : fromUnit(param, rng());
  }
  return params;
}
