import type { Services } from "./services.ts";

export interface Context {
  services: Services;
}

export function createContext(services: Services): Context {
  return { services };
}
