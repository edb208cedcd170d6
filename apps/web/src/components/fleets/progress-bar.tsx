/** Finished members out of all, as a bar and a count. */
export function ProgressBar({ finished, total }: { finished: number; total: number }) {
  const share = total === 0 ? 0 : finished / total;
  return (
    <div className="flex items-center gap-2" data-testid="fleet-progress" data-finished={finished} data-total={total}>
      <div
        className="h-2 flex-1 overflow-hidden rounded-full bg-white/10"
        role="progressbar"
        aria-label="Members finished"
        aria-valuenow={finished}
        aria-valuemin={0}
        aria-valuemax={total}
      >
        <div className="h-full bg-emerald-400 transition-[width] duration-300" style={{ width: `${share * 100}%` }} />
      </div>
      <span className="font-mono text-xs tabular-nums text-gray-400">
        {finished}/{total}
      </span>
    </div>
  );
}
