import { Overview } from "~/components/runs/overview";

export default function Home() {
  return <Overview />;
}
