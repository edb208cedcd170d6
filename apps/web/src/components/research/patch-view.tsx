"use client";

import { useMemo, useState } from "react";
import { Code } from "~/components/review/diff/diff-line";
import { languageFor, LINE_STYLE, lineKeys, parsePatch } from "~/components/review/diff/diff-lines";

const FIRST_LINES = 400;

/** A small unified diff (an experiment's change): files, highlighted lines; long ones show their first lines until asked. */
export function PatchView({ patch, emptyText }: { patch: string | null; emptyText: string }) {
  const files = useMemo(() => parsePatch(patch ?? ""), [patch]);
  const [all, setAll] = useState(false);
  if (files.length === 0) return <p className="text-sm text-gray-500">{emptyText}</p>;
  let budget = all ? Infinity : FIRST_LINES;
  return (
    <div className="space-y-3" data-testid="experiment-diff">
      {files.map((f) => {
        const language = languageFor(f.path);
        const lines = f.lines.slice(0, Math.max(0, budget));
        budget -= lines.length;
        const keys = lineKeys(lines);
        return (
          <div key={f.path} className="hl overflow-hidden rounded-md border border-white/10">
            <div className="border-b border-white/10 bg-white/5 px-3 py-1.5 font-mono text-xs text-gray-200">
              {f.path}
            </div>
            {lines.map((line, i) => (
              <div
                key={keys[i]}
                data-kind={line.kind}
                className={`grid grid-cols-[3rem_3rem_1rem_1fr] font-mono text-xs leading-5 ${LINE_STYLE[line.kind]}`}
              >
                {line.kind === "hunk" || line.kind === "meta" ? (
                  <span className="col-span-4 px-3">{line.text}</span>
                ) : (
                  <>
                    <span className="select-none pr-2 text-right text-gray-600">{line.oldLine ?? ""}</span>
                    <span className="select-none pr-2 text-right text-gray-600">{line.newLine ?? ""}</span>
                    <span className="select-none text-gray-500">
                      {line.kind === "add" ? "+" : line.kind === "del" ? "−" : ""}
                    </span>
                    <Code text={line.text} language={language} />
                  </>
                )}
              </div>
            ))}
          </div>
        );
      })}
      {budget < 0 || (!all && files.reduce((n, f) => n + f.lines.length, 0) > FIRST_LINES) ? (
        <button type="button" className="text-xs text-sky-300 underline" onClick={() => setAll(true)}>
          Show the whole diff
        </button>
      ) : null}
    </div>
  );
}
