import { NewRunForm } from "~/components/new-run-form";
import { RunsTable } from "~/components/runs-table";

export default function RunsPage() {
  return (
    <div className="space-y-6">
      <NewRunForm />
      <RunsTable />
    </div>
  );
}
