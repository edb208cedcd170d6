import { AuditLog } from "~/components/settings/audit-log";

export default function AuditPage() {
  return <AuditLog />;
}
