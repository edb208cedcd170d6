import type { NextConfig } from "next";

const config: NextConfig = {
  // Internal packages ship TypeScript source.
  transpilePackages: ["@loopy/api", "@loopy/core", "@loopy/config", "@loopy/agents", "@loopy/queue", "@loopy/db"],
  serverExternalPackages: ["pg", "@prisma/client", "@prisma/adapter-pg", "bullmq", "ioredis"],
  poweredByHeader: false,
  devIndicators: false,
  // Browsers and tools that ask for /favicon.ico without reading the page's <link rel="icon"> get the app's SVG icon.
  rewrites: async () => [{ source: "/favicon.ico", destination: "/icon.svg" }],
};

export default config;
