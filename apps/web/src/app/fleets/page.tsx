import { FleetList } from "~/components/fleets/fleet-list";
import { NewFleetForm } from "~/components/fleets/new-fleet-form";

export default function FleetsPage() {
  return (
    <div className="space-y-6">
      <NewFleetForm />
      <FleetList />
    </div>
  );
}
