import { ProfilesPanel } from "~/components/profiles-panel";

export default function ProfilesPage() {
  return <ProfilesPanel />;
}
