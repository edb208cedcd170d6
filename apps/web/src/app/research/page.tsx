import { ImportTsvForm } from "~/components/research/import-tsv";
import { LoopList } from "~/components/research/loop-list";
import { NewLoopForm } from "~/components/research/new-loop-form";

export default function ResearchPage() {
  return (
    <div className="space-y-6">
      <NewLoopForm />
      <LoopList />
      <ImportTsvForm />
    </div>
  );
}
