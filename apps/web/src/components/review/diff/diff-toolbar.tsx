import { Segmented } from "~/components/ui/button";
import { Select } from "~/components/ui/select";
import { ChangeCount } from "./file-tree";

const LAYOUTS = [
  ["unified", "unified"],
  ["split", "split"],
] as const;

/** The diff panel's toolbar: scope (whole run or one turn), unified or split, and the totals. */
export function DiffToolbar({
  turns,
  scope,
  onScope,
  split,
  onSplit,
  files,
  additions,
  deletions,
}: {
  turns: number[];
  scope: number | "run";
  onScope: (scope: number | "run") => void;
  split: boolean;
  onSplit: (split: boolean) => void;
  files: number;
  additions: number;
  deletions: number;
}) {
  return (
    <span className="flex items-center gap-3 font-mono text-xs">
      {turns.length > 1 && (
        <Select
          compact
          aria-label="Diff scope"
          value={String(scope)}
          onChange={(e) => onScope(e.target.value === "run" ? "run" : Number(e.target.value))}
        >
          <option value="run">Whole run</option>
          {turns.map((index) => (
            <option key={index} value={index}>
              Turn {index + 1} only
            </option>
          ))}
        </Select>
      )}
      <Segmented
        label="Diff layout"
        options={LAYOUTS}
        value={split ? "split" : "unified"}
        onChange={(mode) => onSplit(mode === "split")}
      />
      <span>
        {files} file{files === 1 ? "" : "s"} <ChangeCount additions={additions} deletions={deletions} />
      </span>
    </span>
  );
}
