import { LoopView } from "~/components/research/loop-view";

export default async function LoopPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <LoopView loopId={id} />;
}
