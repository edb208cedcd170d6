import { FleetView } from "~/components/fleets/fleet-view";

export default async function FleetPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <FleetView fleetId={id} />;
}
