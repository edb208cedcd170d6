import { NewRunForm } from "~/components/runs/new-run-form";
import { RunsTable } from "~/components/runs/runs-table";

export default function RunsPage() {
  return (
    <div className="space-y-6">
      <NewRunForm />
      <RunsTable />
    </div>
  );
}
