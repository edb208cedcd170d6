import { ProfilesPanel } from "~/components/settings/profiles-panel";

export default function ProfilesPage() {
  return <ProfilesPanel />;
}
