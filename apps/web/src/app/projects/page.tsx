import { ProjectsPanel } from "~/components/projects/projects-panel";

export default function ProjectsPage() {
  return <ProjectsPanel />;
}
