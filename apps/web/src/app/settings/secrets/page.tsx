import { SecretsPanel } from "~/components/settings/secrets-panel";

export default function SecretsPage() {
  return <SecretsPanel />;
}
