import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, eventually, gitIn, makeRepo, type Harness } from "./harness.ts";

/** Decomposition: subtasks with dependencies start once those are approved, on the default branch that holds their work. */
describe("decomposed tasks (DAG fleets)", () => {
  let h: Harness;
  let repo: string;
  let project: string;
  let stopWorker: () => Promise<void>;

  beforeAll(async () => {
    h = await createHarness();
    repo = await makeRepo();
    project = (await h.api.projects.add({ path: repo, name: `dag-${path.basename(repo)}` })).name;
    stopWorker = await h.startWorker(4);
  });
  afterAll(() => h?.close());

  const members = async (fleetId: string) => {
    const fleet = await h.api.fleets.get({ fleetId });
    return new Map(fleet.members.map((m) => [m.task.title.split(":")[0] as string, m]));
  };
  const waitFor = (fleetId: string, key: string, statuses: string[], timeoutMs = 20_000) =>
    eventually(
      async () => {
        const m = (await members(fleetId)).get(key);
        return m && statuses.includes(m.status) ? m : undefined;
      },
      timeoutMs,
      `${key} to be ${statuses.join(" or ")}`,
    );

  it("starts each subtask only after what it depends on is approved, stacked on that work, even across a worker restart", async () => {
    // Each subtask checks that the work it depends on is in its starting point.
    const fleet = await h.api.fleets.launch({
      kind: "dag",
      project,
      agent: "command",
      concurrency: 4,
      subtasks: [
        { key: "ui", title: "the screen", command: "test -f api.txt && echo ui > ui.txt", dependsOn: ["api"] },
        { key: "schema", title: "the tables", command: "echo schema > schema.txt" },
        {
          key: "api",
          title: "the endpoints",
          command: "test -f schema.txt && echo api > api.txt",
          dependsOn: ["schema"],
        },
        { key: "docs", title: "the readme", command: "echo docs > docs.txt" },
      ],
    });
    expect(fleet.kind).toBe("dag");
    // Member order is a valid order: dependencies first.
    expect(fleet.members.map((m) => m.task.title.split(":")[0])).toEqual(["schema", "docs", "api", "ui"]);
    const byKey = await members(fleet.id);
    expect(byKey.get("api")!.dependsOn).toEqual([byKey.get("schema")!.id]);
    expect(byKey.get("ui")!.dependsOn).toEqual([byKey.get("api")!.id]);

    const schema = await waitFor(fleet.id, "schema", ["awaiting_review"]);
    await waitFor(fleet.id, "docs", ["awaiting_review"]);
    // Done but not approved: its dependents still wait, not dispatched.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await members(fleet.id)).get("api")!.status).toBe("queued");
    expect((await h.services.db.run.findUnique({ where: { id: byKey.get("api")!.id } }))!.dispatchedAt).toBeNull();

    // The worker goes away; the approval happens with none running; a new worker picks the dependent up.
    await stopWorker();
    const approved = await h.api.review.approve({ runId: schema.id });
    stopWorker = await h.startWorker(4);
    const api = await waitFor(fleet.id, "api", ["awaiting_review"]);
    const apiRun = await h.services.db.run.findUniqueOrThrow({ where: { id: api.id } });
    // Stacked: it started from the default branch holding the approved schema commit.
    expect(apiRun.baseSha).toBe(approved.mergedSha);
    expect(gitIn(repo, "show", `${apiRun.headSha}:schema.txt`)).toBe("schema");
    expect((await members(fleet.id)).get("ui")!.status).toBe("queued");

    await h.api.review.approve({ runId: api.id });
    const ui = await waitFor(fleet.id, "ui", ["awaiting_review"]);
    await h.api.review.approve({ runId: ui.id });
    await h.api.review.reject({ runId: byKey.get("docs")!.id, reason: "not now" });
    await eventually(
      async () => ((await h.api.fleets.get({ fleetId: fleet.id })).status === "completed" ? true : undefined),
      10_000,
      "the fleet to complete",
    );
    expect(gitIn(repo, "show", "main:ui.txt")).toBe("ui");
  });

  it("cancels the subtasks that depend on a rejected one, with the reason, and the fleet completes", async () => {
    const fleet = await h.api.fleets.launch({
      kind: "dag",
      project,
      agent: "command",
      subtasks: [
        { key: "a", title: "first", command: "echo a > a2.txt" },
        { key: "b", title: "second", command: "echo b > b2.txt", dependsOn: ["a"] },
        { key: "c", title: "third", command: "echo c > c2.txt", dependsOn: ["b"] },
      ],
    });
    const a = await waitFor(fleet.id, "a", ["awaiting_review"]);
    await h.api.review.reject({ runId: a.id, reason: "wrong approach" });
    const b = await waitFor(fleet.id, "b", ["cancelled"]);
    expect(b.statusReason).toBe('It depends on "a: first", which was rejected');
    const c = await waitFor(fleet.id, "c", ["cancelled"]);
    expect(c.statusReason).toBe('It depends on "b: second", which was cancelled');
    await eventually(
      async () => ((await h.api.fleets.get({ fleetId: fleet.id })).status === "completed" ? true : undefined),
      10_000,
      "the fleet to complete",
    );
  });

  it("takes a plan from a planner run, and closes the planner once the plan is launched", async () => {
    const plan = {
      subtasks: [
        { key: "two", title: "after one", command: "echo 2 > two.txt", dependsOn: ["one"] },
        { key: "one", title: "first", command: "echo 1 > one.txt" },
      ],
    };
    const planner = await h.api.fleets.startPlanner({
      project,
      agent: "command",
      task: `cat > loopy.plan.json <<'EOF'\n${JSON.stringify(plan)}\nEOF`,
    });
    expect(planner.task.tags).toEqual(["planner"]);
    const ready = await eventually(
      async () => {
        const p = await h.api.fleets.plan({ runId: planner.id });
        return p.state === "planning" ? undefined : p;
      },
      20_000,
      "the plan",
    );
    expect(ready).toMatchObject({
      state: "ready",
      source: "file",
      subtasks: [{ key: "one" }, { key: "two", dependsOn: ["one"] }],
    });
    if (ready.state !== "ready") throw new Error("no plan");

    const fleet = await h.api.fleets.launch({
      kind: "dag",
      project,
      agent: "command",
      subtasks: ready.subtasks,
      plannerRunId: planner.id,
    });
    expect(fleet.members).toHaveLength(2);
    const closed = await h.api.runs.get({ runId: planner.id });
    expect(closed.status).toBe("rejected");
    expect(closed.statusReason).toBe(`Plan used by fleet ${fleet.id}`);
    await h.api.fleets.cancel({ fleetId: fleet.id });
    // A run that is not a planner (here a fleet member) is refused before anything is written.
    const fleetsBefore = await h.services.db.fleet.count();
    await expect(
      h.api.fleets.launch({
        kind: "dag",
        project,
        agent: "command",
        subtasks: ready.subtasks,
        plannerRunId: fleet.members[0]!.id,
      }),
    ).rejects.toThrow(/is not a planner run/);
    expect(await h.services.db.fleet.count()).toBe(fleetsBefore);

    // A planner that says something else: the reason is given.
    const confused = await h.api.fleets.startPlanner({
      project,
      agent: "command",
      task: "echo 'I would rather not' > notes.md",
    });
    const failed = await eventually(
      async () => {
        const p = await h.api.fleets.plan({ runId: confused.id });
        return p.state === "planning" ? undefined : p;
      },
      20_000,
      "the planner to end",
    );
    expect(failed).toMatchObject({ state: "failed", error: expect.stringContaining("wrote no loopy.plan.json") });
  });

  it.each([
    [
      [
        { key: "a", command: "true", dependsOn: ["b"] },
        { key: "b", command: "true", dependsOn: ["a"] },
      ],
      /cycle among "a", "b"/,
    ],
    [[{ key: "a", command: "true", dependsOn: ["zzz"] }], /depends on "zzz", which is not in the plan/],
    [[{ key: "a" }], /Subtask "a": Command is empty/],
  ])("refuses a bad plan with a clear message: %j", async (subtasks, message) => {
    await expect(h.api.fleets.launch({ kind: "dag", project, agent: "command", subtasks })).rejects.toThrow(message);
  });
});
