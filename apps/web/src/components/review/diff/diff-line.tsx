import { highlightLine } from "~/components/shared/highlight";
import { type DiffLine, LINE_STYLE, type SplitRow } from "./diff-lines";

/** A hunk header or a meta line: the whole width, no line numbers. */
function FullLine({ line }: { line: DiffLine }) {
  return (
    <div className={`border-x border-white/10 px-3 font-mono text-xs leading-5 ${LINE_STYLE[line.kind]}`}>
      {line.text}
    </div>
  );
}

/** A line of code, syntax-highlighted. */
export function Code({ text, language }: { text: string; language: string | null }) {
  return (
    <span
      className="whitespace-pre-wrap break-all pr-3"
      // biome-ignore lint/security/noDangerouslySetInnerHtml: highlight.js escapes the text it is given; the result is markup of its own spans only.
      dangerouslySetInnerHTML={{ __html: highlightLine(text, language) || " " }}
    />
  );
}

/** A new-side line number; on a reviewable run, a button that opens the comment box on that line. */
function LineNumber({
  path,
  line,
  reviewable,
  onComment,
}: {
  path: string;
  line: DiffLine;
  reviewable: boolean;
  onComment: (path: string, line: number) => void;
}) {
  const n = line.newLine;
  if (n === undefined) return <span className="select-none pr-2 text-right text-gray-600" />;
  if (!reviewable) return <span className="select-none pr-2 text-right text-gray-600">{n}</span>;
  return (
    <button
      type="button"
      data-testid={`line-${path}:${n}`}
      className="select-none pr-2 text-right text-gray-500 hover:text-sky-300"
      title="Comment on this line"
      onClick={() => onComment(path, n)}
    >
      {n}
    </button>
  );
}

interface LineProps {
  path: string;
  language: string | null;
  reviewable: boolean;
  onComment: (path: string, line: number) => void;
}

/** One line of the unified layout: old and new numbers, the +/− mark, the highlighted code. */
export function UnifiedLine({ line, ...props }: LineProps & { line: DiffLine }) {
  if (line.kind === "hunk" || line.kind === "meta") return <FullLine line={line} />;
  return (
    <div
      data-kind={line.kind}
      className={`grid grid-cols-[3rem_3rem_1rem_1fr] border-x border-white/10 font-mono text-xs leading-5 ${LINE_STYLE[line.kind]}`}
    >
      <span className="select-none pr-2 text-right text-gray-600">{line.oldLine ?? ""}</span>
      <LineNumber path={props.path} line={line} reviewable={props.reviewable} onComment={props.onComment} />
      <span className="select-none text-gray-500">{line.kind === "add" ? "+" : line.kind === "del" ? "−" : ""}</span>
      <Code text={line.text} language={props.language} />
    </div>
  );
}

/** One row of the split layout: the old line on the left, the new one on the right. */
export function SplitLine({ row, ...props }: LineProps & { row: SplitRow }) {
  const { left, right, full } = row;
  if (full) return <FullLine line={full} />;
  return (
    <div
      data-kind={right?.kind === "add" || left?.kind === "del" ? "change" : "ctx"}
      className="grid grid-cols-2 border-x border-white/10 font-mono text-xs leading-5"
    >
      <div
        data-kind={left?.kind}
        className={`grid grid-cols-[3rem_1fr] border-r border-white/10 ${left ? LINE_STYLE[left.kind] : "bg-white/[0.02]"}`}
      >
        <span className="select-none pr-2 text-right text-gray-600">{left?.oldLine ?? ""}</span>
        {left ? <Code text={left.text} language={props.language} /> : <span />}
      </div>
      <div
        data-kind={right?.kind}
        className={`grid grid-cols-[3rem_1fr] ${right ? LINE_STYLE[right.kind] : "bg-white/[0.02]"}`}
      >
        {right ? (
          <LineNumber path={props.path} line={right} reviewable={props.reviewable} onComment={props.onComment} />
        ) : (
          <span />
        )}
        {right ? <Code text={right.text} language={props.language} /> : <span />}
      </div>
    </div>
  );
}
