import { LoopView } from "~/components/research/loop-view";

/** A loop; `?experiment=<id>` opens one experiment (its diff, log and curve) — a link to it can be shared. */
export default async function LoopPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<{ experiment?: string }>;
}) {
  const { id } = await params;
  const { experiment } = await searchParams;
  return <LoopView loopId={id} initialExperiment={typeof experiment === "string" ? experiment : null} />;
}
