import { Overview } from "~/components/overview";

export default function Home() {
  return <Overview />;
}
