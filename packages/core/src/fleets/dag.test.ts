import { describe, expect, it } from "vitest";
import { orderPlan, parsePlan } from "./dag.ts";

describe("orderPlan", () => {
  it("puts every subtask after its dependencies, keeping plan order among ready ones", () => {
    const plan = orderPlan([
      { key: "ui", dependsOn: ["api"] },
      { key: "docs" },
      { key: "api", dependsOn: ["schema"] },
      { key: "schema" },
      { key: "release", dependsOn: ["ui", "docs"] },
    ]);
    expect(plan.map((s) => s.key)).toEqual(["docs", "schema", "api", "ui", "release"]);
  });

  it.each([
    [
      [
        { key: "a", dependsOn: ["b"] },
        { key: "b", dependsOn: ["a"] },
      ],
      /cycle among "a", "b"/,
    ],
    [[{ key: "a", dependsOn: ["a"] }], /depends on itself/],
    [[{ key: "a", dependsOn: ["nope"] }], /depends on "nope", which is not in the plan/],
    [[{ key: "a" }, { key: "a" }], /Two subtasks have the key "a"/],
    [[{ key: "bad key!" }], /key "bad key!"/],
    [[], /at least one subtask/],
  ])("refuses %j", (subtasks, message) => {
    expect(() => orderPlan(subtasks)).toThrow(message);
  });
});

describe("parsePlan", () => {
  it("reads a plan from a fenced block among prose, accepting id/description/depends_on spellings", () => {
    const text =
      'Here is the plan:\n```json\n{"subtasks":[{"id":"b","description":"do b","depends_on":["a"]},{"key":"a","prompt":"do a"}]}\n```\nDone.';
    expect(parsePlan(text)).toEqual([
      {
        key: "a",
        prompt: "do a",
        title: undefined,
        command: undefined,
        agent: undefined,
        tags: undefined,
        dependsOn: undefined,
      },
      {
        key: "b",
        prompt: "do b",
        title: undefined,
        command: undefined,
        agent: undefined,
        tags: undefined,
        dependsOn: ["a"],
      },
    ]);
  });

  it("says what is wrong with an answer that is not a plan", () => {
    expect(() => parsePlan("I could not do it")).toThrow(/not a plan \(no JSON object found\)/);
    expect(() => parsePlan('{"steps": []}')).toThrow(/no "subtasks" list/);
    expect(() => parsePlan('{"subtasks": [{"key": "a", "dependsOn": "b"}]}')).toThrow(/dependsOn must be a list/);
  });
});
