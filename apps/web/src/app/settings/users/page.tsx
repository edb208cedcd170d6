import { UsersPanel } from "~/components/settings/users-panel";

export default function UsersPage() {
  return <UsersPanel />;
}
