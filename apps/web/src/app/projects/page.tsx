import { ProjectsPanel } from "~/components/projects-panel";

export default function ProjectsPage() {
  return <ProjectsPanel />;
}
